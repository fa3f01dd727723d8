package reply_test

import (
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/reply"
)

func benchRender(b *testing.B, r reply.Reply) {
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = reply.Render(buf[:0], r, "oMgHVjngRipVsoxg6TuX3vz6glDg", "gh_e136c6e50636", 1348831860)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRenderText(b *testing.B) {
	benchRender(b, &reply.Text{Content: "Hello, WeRoBot! 你好"})
}

func BenchmarkRenderTextLongChinese(b *testing.B) {
	benchRender(b, &reply.Text{Content: strings.Repeat("微信公众平台消息回复。", 200)})
}

func BenchmarkRenderArticles(b *testing.B) {
	a := reply.Article{Title: "WeRoBot", Description: "WeRoBot是一个微信机器人框架",
		Img: "https://github.com/apple-touch-icon-144.png", URL: "https://github.com/whtsky/WeRoBot"}
	benchRender(b, &reply.Articles{Articles: []reply.Article{a, a, a}})
}
