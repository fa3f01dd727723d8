package reply_test

import (
	"fmt"

	"github.com/luarobot/luarobot/host/reply"
)

func ExampleRender() {
	r := &reply.Text{Content: "Hello, WeRoBot!"}
	if err := reply.Validate(r); err != nil {
		fmt.Println(err)
		return
	}
	// toUser is the message's Source, fromUser its Target.
	fmt.Println(string(reply.Render(nil, r, "oUser", "gh_123456789abc", 1348831860)))
	// Output:
	// <xml>
	// <ToUserName><![CDATA[oUser]]></ToUserName>
	// <FromUserName><![CDATA[gh_123456789abc]]></FromUserName>
	// <CreateTime>1348831860</CreateTime>
	// <MsgType><![CDATA[text]]></MsgType>
	// <Content><![CDATA[Hello, WeRoBot!]]></Content>
	// </xml>
}

func ExampleValidate() {
	fmt.Println(reply.Validate(&reply.Image{}))
	fmt.Println(reply.Validate(&reply.Articles{}))
	// Output:
	// reply: image reply: media_id is empty
	// reply: articles reply: articles is empty; give 1 to 8
}
