package luaapi

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// exchange is one message sent to an example and the reply it must give
// (nil: no answer). Sends lists what robot.send must have sent by the time
// the exchange is over.
type exchange struct {
	msg   *message.Message
	reply reply.Reply
	sends []string
}

func text(s string) *message.Message { return textMsg(s) }

func txt(s string) reply.Reply { return &reply.Text{Content: s} }

func withFields(typ string, fields ...message.Field) *message.Message {
	return &message.Message{Type: typ, Source: "user-openid", Target: "gh_robot", Time: 1700000000, Fields: fields}
}

func field(name string, v any) message.Field { return message.Field{Name: name, Value: v} }

// Every example folder loads, and answers the messages its header comment
// describes as it says.
func TestExamples(t *testing.T) {
	examples := map[string][]exchange{
		"hello_world": {
			{msg: text("帮助"), reply: txt("帮助\nXXXXX\n")},
			{msg: text("hi"), reply: txt("Hello World!")},
			{msg: eventMsg("subscribe_event"), reply: txt("Hello World!")},
		},
		"echo": {
			{msg: text("你好"), reply: txt("你好")},
			{msg: withFields("image", field("img", "http://mmbiz/pic.jpg"), field("media_id", "M")), reply: txt("http://mmbiz/pic.jpg")},
			{msg: withFields("location", field("location_x", 23.134521), field("location_y", 113.358803), field("scale", int64(20)), field("label", "广州")),
				reply: txt("你在 广州 (23.134521, 113.358803)")},
			{msg: withFields("link", field("title", "标题"), field("description", "d"), field("url", "http://u")), reply: txt("收藏了：标题")},
		},
		"subscribe": {
			{msg: eventMsg("subscribe_event"), reply: txt("感谢这位小可爱的关注~")},
			{msg: eventMsg("subscribe_event", field("key", "qrscene_42"), field("ticket", "T")), reply: txt("感谢关注！你扫描的是 42 号二维码")},
			{msg: eventMsg("unsubscribe_event"), reply: nil},
		},
		"image": {
			{msg: withFields("image", field("img", "http://x"), field("media_id", "MEDIA")), reply: &reply.Image{MediaID: "MEDIA"}},
			{msg: text("图片"), reply: txt("还没有设置默认图片")},
		},
		"keyword": {
			{msg: text("你好呀"), reply: txt("你也好呀")},
			{msg: text("早"), reply: txt("早上好！")},
			{msg: text("早安"), reply: txt("早上好！")},
			{msg: text("价格"), reply: txt("基础版 ¥99/月，专业版 ¥199/月")},
			{msg: text("别的"), reply: nil},
		},
		"multiple_replies": {
			{msg: text("多次回复"), reply: txt("这是第二次回复哦"), sends: []string{"这是客服发的消息"}},
			{msg: text("稍后"), reply: txt("马上就好"), sends: []string{"这是客服发的消息", "这是稍后的第一条", "<image>"}},
		},
		"menu": {
			{msg: eventMsg("click_event", field("key", "music")), reply: txt("你点击了“今日歌曲”按钮")},
			{msg: eventMsg("click_event", field("key", "help")), reply: txt("现在还没有什么帮助哦~")},
			{msg: text("菜单"), reply: txt("菜单：今日歌曲 | 主页 | 帮助")},
		},
		"session_counter": {
			{msg: text("你好"), reply: txt("你之前没给我发过消息（第 1 条）")},
			{msg: text("你好"), reply: txt("你之前给我发过消息（第 2 条）")},
			{msg: text("重置"), reply: txt("已清空")},
			{msg: text("你好"), reply: txt("你之前没给我发过消息（第 1 条）")},
		},
		"articles_music": {
			{msg: text("图文"), reply: &reply.Articles{Articles: []reply.Article{{Title: "WeRoBot", Description: "WeRoBot是一个微信机器人框架",
				Img: "https://github.com/apple-touch-icon-144.png", URL: "https://github.com/whtsky/WeRoBot"}}}},
			{msg: text("列表"), reply: &reply.Articles{Articles: []reply.Article{{Title: "title", Description: "description", Img: "img", URL: "url"},
				{Title: "whtsky", Description: "I wrote WeRoBot", Img: "https://secure.gravatar.com/avatar/0024710771815ef9b74881ab21ba4173?s=420", URL: "http://whouz.com/"}}}},
			{msg: text("音乐"), reply: &reply.Music{Title: "title", Description: "description", URL: "music_url", HQURL: "hq_music_url"}},
			{msg: text("音乐2"), reply: &reply.Music{Title: "微信你不懂爱", Description: "龚琳娜最新力作", URL: "http://weixin.com/budongai.mp3", HQURL: "http://weixin.com/budongai.mp3"}},
		},
		"order_form": {
			{msg: text("我的订单"), reply: txt("你还没有下过单，发送「下单」试试")},
			{msg: text("下单"), reply: txt("请问怎么称呼？")},
			{msg: text("小明"), reply: txt("手机号？")},
			{msg: text("123"), reply: txt("请输入 11 位手机号")},
			{msg: text("13800138000"), reply: txt("送到哪里？请发送位置")},
			{msg: text("我家"), reply: txt("请点「+」→「位置」发送送货地址")},
			{msg: withFields("location", field("location_x", 23.1), field("location_y", 113.3), field("scale", int64(20)), field("label", "广州")),
				reply: txt("订单 1：小明 13800138000，送到 广州\n确认下单？\n1. 确认\n2. 再想想")},
			{msg: text("1"), reply: txt("下单成功，订单号 1")},
			{msg: text("我的订单"), reply: txt("你下过 1 单，最近一单：1")},
			// The next order takes the next number, once, however often
			// the dialog replays; cancelling leaves the session as it was.
			{msg: text("下单"), reply: txt("请问怎么称呼？")},
			{msg: text("小红"), reply: txt("手机号？")},
			{msg: text("13900139000"), reply: txt("送到哪里？请发送位置")},
			{msg: withFields("location", field("label", "北京")), reply: txt("订单 2：小红 13900139000，送到 北京\n确认下单？\n1. 确认\n2. 再想想")},
			{msg: text("3"), reply: txt("订单 2：小红 13900139000，送到 北京\n确认下单？\n1. 确认\n2. 再想想")},
			{msg: text("取消"), reply: txt("已取消")},
			{msg: text("我的订单"), reply: txt("你下过 1 单，最近一单：1")},
			{msg: text("下单"), reply: txt("请问怎么称呼？")},
			{msg: text("小明"), reply: txt("手机号？")},
			{msg: text("1"), reply: txt("请输入 11 位手机号")},
			{msg: text("2"), reply: txt("请输入 11 位手机号")},
			{msg: text("3"), reply: txt("输错太多次了，发送「下单」重新开始")},
		},
		"regex_filters": {
			{msg: text("a"), reply: txt("正文为 a ")},
			{msg: text("xbbx"), reply: txt("正文中含有 bb ")},
			{msg: text("abc"), reply: txt("正文中含有 c 或正文为 d")},
			{msg: text("d"), reply: txt("正文中含有 c 或正文为 d")},
			{msg: text("onee"), reply: txt("正文为 onee")},
			{msg: text("f"), reply: txt("正文为 f")},
			{msg: text("天气 北京"), reply: txt("北京今天晴")},
			{msg: text("加 3 4"), reply: txt("3 + 4 = 7")},
		},
	}
	dirs, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		switch d.Name() {
		case "embed":
			continue // a Go program with a test of its own (examples/embed/main_test.go)
		case "llm_chat", "weather":
			continue // they call a web API: examples_http_test.go, with a fake one
		}
		if d.IsDir() && examples[d.Name()] == nil {
			t.Errorf("examples/%s has no test", d.Name())
		}
	}
	for name, exchanges := range examples {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "examples", name)
			if _, err := Check(dir); err != nil {
				t.Fatalf("check: %v", err)
			}
			rec := &sendRecorder{}
			rt, logs := startRuntime(t, nil, Options{Dir: dir, Send: rec.send, Values: newMemValues()})
			var session []byte
			for _, ex := range exchanges {
				r, s, err := rt.Dispatch(context.Background(), ex.msg, session)
				if err != nil {
					t.Fatalf("%s %s: %v", ex.msg.Type, ex.msg.String("content"), err)
				}
				if s != nil {
					session = s
				}
				if !reflect.DeepEqual(r, ex.reply) {
					t.Errorf("%s %q: got %#v, want %#v", ex.msg.Type, ex.msg.String("content"), r, ex.reply)
				}
				if ex.sends != nil {
					eventually(t, "the customer-service messages", func() bool { return len(rec.all()) == len(ex.sends) })
					for i, s := range rec.all() {
						if textOf(s.r) != ex.sends[i] {
							t.Errorf("send %d: %q, want %q", i, textOf(s.r), ex.sends[i])
						}
					}
				}
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("errors in the log:\n%s", logs)
			}
		})
	}
}

// The default bot, scripts/hello.lua.
func TestDefaultScripts(t *testing.T) {
	rep, err := Check("../scripts")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "robot.subscribe") {
		t.Errorf("report:\n%s", rep)
	}
	rt, _ := startRuntime(t, nil, Options{Dir: "../scripts"})
	var session []byte
	send := func(m *message.Message) string {
		r, s, err := rt.Dispatch(context.Background(), m, session)
		if err != nil {
			t.Fatal(err)
		}
		if s != nil {
			session = s
		}
		if r == nil {
			return "<nil>"
		}
		if i, ok := r.(*reply.Image); ok {
			return "image " + i.MediaID
		}
		return textOf(r)
	}
	if got := send(eventMsg("subscribe_event")); !strings.Contains(got, "感谢关注") {
		t.Errorf("subscribe: %q", got)
	}
	if got := send(text("hi")); got != "Hello World!" {
		t.Errorf("hi: %q", got)
	}
	if got := send(text("帮助")); !strings.Contains(got, "掷骰子") {
		t.Errorf("help: %q", got)
	}
	if got := send(text("计数")); got != "你一共给我发了 3 条消息" {
		t.Errorf("count: %q", got)
	}
	if got := send(text("掷骰子 3d6")); !strings.Contains(got, " = ") || strings.Count(got, "+") != 2 {
		t.Errorf("dice: %q", got)
	}
	if got := send(text("掷骰子 99d6")); got != "骰子数 1 到 20，面数 2 到 1000" {
		t.Errorf("too many dice: %q", got)
	}
	if got := send(withFields("image", field("media_id", "M1"))); got != "image M1" {
		t.Errorf("image: %q", got)
	}
}
