package reply_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/reply"
)

// TestParseInvertsRender: every reply type survives Render then Parse, so
// the views that luarobot test and the console show are what WeChat got.
func TestParseInvertsRender(t *testing.T) {
	replies := []reply.Reply{
		&reply.Text{Content: "第一行\n<b>&amp;</b> ]]> end"},
		&reply.Image{MediaID: "img1"},
		&reply.Voice{MediaID: "voice1"},
		&reply.Video{MediaID: "v1", Title: "标题", Description: "描述"},
		&reply.Music{Title: "t", Description: "d", URL: "http://m/1.mp3", HQURL: "http://m/1hq.mp3", ThumbMediaID: "th"},
		&reply.Articles{Articles: []reply.Article{{Title: "a", Description: "b", Img: "http://i/1.png", URL: "http://u/1"}, {Title: "c"}}},
		&reply.TransferCustomerService{Account: "kf1@test"},
		&reply.TransferCustomerService{},
	}
	for _, r := range replies {
		body := reply.Render(nil, r, "oUser", "gh_bot", 1700000000)
		p, err := reply.Parse(body)
		if err != nil {
			t.Fatalf("%s: Parse(Render) failed: %v\n%s", r.Kind(), err, body)
		}
		if p.ToUser != "oUser" || p.FromUser != "gh_bot" {
			t.Errorf("%s: users = %q, %q", r.Kind(), p.ToUser, p.FromUser)
		}
		if got, want := reply.ViewOf(p.Reply), reply.ViewOf(r); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: view after the round trip = %+v, want %+v", r.Kind(), got, want)
		}
	}
}

func TestParseSuccessAndErrors(t *testing.T) {
	for _, body := range []string{"", "success", " success\n"} {
		p, err := reply.Parse([]byte(body))
		if err != nil || reply.ViewOf(p.Reply).Type != "success" {
			t.Errorf("Parse(%q) = %+v, %v; want success", body, p, err)
		}
	}
	for _, body := range []string{"<xml><MsgType>telepathy</MsgType></xml>", "<xml", "not xml",
		// One reply and something more is not what Render writes.
		"<xml><MsgType>text</MsgType></xml>trailing", "<xml><MsgType>text</MsgType></xml><xml/>",
		"<reply><MsgType>text</MsgType></reply>"} {
		if _, err := reply.Parse([]byte(body)); err == nil {
			t.Errorf("Parse(%q) succeeded", body)
		}
	}
	if v := reply.ViewOf(nil); v.Type != "success" {
		t.Errorf("ViewOf(nil) = %+v", v)
	}
}

func TestViewFields(t *testing.T) {
	v := reply.ViewOf(&reply.Music{Title: "歌", URL: "http://m/1.mp3", HQURL: "http://m/hq.mp3"})
	var got []string
	v.Fields(func(name, value string) { got = append(got, name+"="+value) })
	want := []string{"title=歌", "url=http://m/1.mp3", "hq_url=http://m/hq.mp3"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %v, want %v", got, want)
	}
}
