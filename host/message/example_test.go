package message_test

import (
	"fmt"

	"github.com/luarobot/luarobot/host/message"
)

func ExampleParse() {
	m, err := message.Parse([]byte(`<xml>
<ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
<FromUserName><![CDATA[oUser]]></FromUserName>
<CreateTime>1348831860</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[CLICK]]></Event>
<EventKey><![CDATA[V1001_TODAY_MUSIC]]></EventKey>
</xml>`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Type, m.Source, m.Time, m.String("key"))
	// Output: click_event oUser 1348831860 V1001_TODAY_MUSIC
}

func ExampleParse_error() {
	_, err := message.Parse([]byte("<xml>\n<ToUserName>gh</ToUserName>\n<Content>hi</Content>\n</xml>"))
	fmt.Println(err)
	// Output: message: missing <FromUserName>
}

func ExampleMarshal() {
	m := &message.Message{
		Type: "location", Source: "oUser", Target: "gh_123456789abc", Time: 1351776360,
		Fields: []message.Field{
			{Name: "location_x", Value: 23.134521},
			{Name: "location_y", Value: 113.358803},
			{Name: "scale", Value: int64(20)},
			{Name: "label", Value: "位置信息"},
		},
	}
	b, err := message.Marshal(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(b))
	// Output:
	// <xml>
	// <ToUserName><![CDATA[gh_123456789abc]]></ToUserName>
	// <FromUserName><![CDATA[oUser]]></FromUserName>
	// <CreateTime>1351776360</CreateTime>
	// <MsgType><![CDATA[location]]></MsgType>
	// <Location_X>23.134521</Location_X>
	// <Location_Y>113.358803</Location_Y>
	// <Scale>20</Scale>
	// <Label><![CDATA[位置信息]]></Label>
	// </xml>
}
