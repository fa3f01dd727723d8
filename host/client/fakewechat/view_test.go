package fakewechat_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/reply"
)

// A reply sent through the customer-service API reads back as the view the
// same reply has when it is passive.
func TestMessageViewRoundTrip(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	c, err := client.New(client.Options{AppID: "app", AppSecret: "secret", APIBase: wx.URL})
	if err != nil {
		t.Fatal(err)
	}
	replies := []reply.Reply{
		&reply.Text{Content: "你好\n第二行"},
		&reply.Image{MediaID: "IMG"},
		&reply.Voice{MediaID: "VOICE"},
		&reply.Video{MediaID: "VID", Title: "标题", Description: "描述"},
		&reply.Music{Title: "歌", Description: "d", URL: "http://m/1.mp3", HQURL: "http://m/hq.mp3", ThumbMediaID: "THUMB"},
		&reply.Articles{Articles: []reply.Article{{Title: "a", Description: "b", Img: "http://i/1.png", URL: "http://u/1"}}},
	}
	for _, r := range replies {
		if err := c.SendReply(context.Background(), "oUser", r); err != nil {
			t.Fatalf("%s: %v", r.Kind(), err)
		}
	}
	msgs := wx.Messages()
	if len(msgs) != len(replies) {
		t.Fatalf("%d messages, want %d", len(msgs), len(replies))
	}
	for i, m := range msgs {
		if got, want := m.View(), reply.ViewOf(replies[i]); !reflect.DeepEqual(got, want) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

func TestMessageViewOfAPIOnlyKinds(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	c, err := client.New(client.Options{AppID: "app", AppSecret: "secret", APIBase: wx.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(context.Background(), "send_news_message", "oUser", "MPNEWS", "kf1@test"); err != nil {
		t.Fatal(err)
	}
	got := wx.Messages()[0].View()
	want := reply.View{Type: "mpnews", MediaID: "MPNEWS", Account: "kf1@test"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// A responder answers before the server's defaults; an error answer to a
// customer-service message does not count as sent.
func TestResponder(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	c, err := client.New(client.Options{AppID: "app", AppSecret: "secret", APIBase: wx.URL})
	if err != nil {
		t.Fatal(err)
	}
	wx.SetResponder(func(call fakewechat.Call) (any, bool) {
		switch call.Path {
		case "/cgi-bin/user/info":
			return map[string]any{"nickname": "小明"}, true
		case "/cgi-bin/message/custom/send":
			if call.Body["touser"] == "blocked" {
				return fakewechat.ErrorBody(45015), true
			}
		}
		return nil, false
	})
	res, err := c.Invoke(context.Background(), "get_user_info", "oUser")
	if err != nil || res.(map[string]any)["nickname"] != "小明" {
		t.Fatalf("get_user_info: %v, %v", res, err)
	}
	if err := c.SendReply(context.Background(), "blocked", &reply.Text{Content: "x"}); err == nil {
		t.Fatal("a refused send succeeded")
	}
	if err := c.SendReply(context.Background(), "oUser", &reply.Text{Content: "y"}); err != nil {
		t.Fatal(err)
	}
	if msgs := wx.Messages(); len(msgs) != 1 || msgs[0].ToUser != "oUser" {
		t.Fatalf("messages: %+v", msgs)
	}
	if n := len(wx.CallsTo("/cgi-bin/token")); n != 1 {
		t.Errorf("%d token fetches: the responder must not see them", n)
	}
}
