package luaapi

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/reply"
)

// Every return form of the design's table gives its reply.
func TestReturnForms(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"replies.lua": `
local R = robot.reply
local answers = {
  string    = function() return "Hello World!" end,
  text      = function() return R.text("hi") end,
  number_text = function() return R.text(42) end,
  image     = function() return R.image("MEDIA_IMG") end,
  voice     = function() return R.voice("MEDIA_VOICE") end,
  image_tbl = function() return R.image{media_id = "M2"} end,
  video     = function() return R.video{media_id = "MV", title = "T", description = "D"} end,
  video_pos = function() return R.video("MV", "T") end,
  music     = function() return R.music{title = "歌", description = "D", url = "http://u", hq_url = "http://hq", thumb_media_id = "TH"} end,
  music_nohq = function() return R.music{title = "歌", description = "D", url = "http://u"} end,
  articles  = function() return R.articles{
    {title = "WeRoBot", description = "WeRoBot是一个微信机器人框架", img = "https://i/x.png", url = "https://github.com/whtsky/WeRoBot"},
    {"t2", "d2", "i2", "u2"},
  } end,
  transfer  = function() return R.transfer_customer_service() end,
  transfer_to = function() return R.transfer_customer_service("kf2001@gh") end,
  success   = function() return R.success() end,
  list_articles = function() return {
    {"title", "description", "img", "url"},
    {"whtsky", "I wrote WeRoBot", "https://secure.gravatar.com/avatar/0024710771815ef9b74881ab21ba4173?s=420", "http://whouz.com/"},
  } end,
  list_music3 = function() return {"title", "description", "http://music"} end,
  list_music4 = function() return {"title", "description", "http://music", "http://hq"} end,
  keyed_articles = function() return { {title = "only", url = "http://x"} } end,
}
robot.text(function(msg) return answers[msg.content]() end)
`}, Options{})
	art := reply.Article{Title: "WeRoBot", Description: "WeRoBot是一个微信机器人框架", Img: "https://i/x.png", URL: "https://github.com/whtsky/WeRoBot"}
	tests := map[string]reply.Reply{
		"string":      &reply.Text{Content: "Hello World!"},
		"text":        &reply.Text{Content: "hi"},
		"number_text": &reply.Text{Content: "42"},
		"image":       &reply.Image{MediaID: "MEDIA_IMG"},
		"voice":       &reply.Voice{MediaID: "MEDIA_VOICE"},
		"image_tbl":   &reply.Image{MediaID: "M2"},
		"video":       &reply.Video{MediaID: "MV", Title: "T", Description: "D"},
		"video_pos":   &reply.Video{MediaID: "MV", Title: "T"},
		"music":       &reply.Music{Title: "歌", Description: "D", URL: "http://u", HQURL: "http://hq", ThumbMediaID: "TH"},
		"music_nohq":  &reply.Music{Title: "歌", Description: "D", URL: "http://u", HQURL: "http://u"},
		"articles":    &reply.Articles{Articles: []reply.Article{art, {Title: "t2", Description: "d2", Img: "i2", URL: "u2"}}},
		"transfer":    &reply.TransferCustomerService{},
		"transfer_to": &reply.TransferCustomerService{Account: "kf2001@gh"},
		"success":     &reply.Success{},
		"list_articles": &reply.Articles{Articles: []reply.Article{
			{Title: "title", Description: "description", Img: "img", URL: "url"},
			{Title: "whtsky", Description: "I wrote WeRoBot", Img: "https://secure.gravatar.com/avatar/0024710771815ef9b74881ab21ba4173?s=420", URL: "http://whouz.com/"},
		}},
		"list_music3":    &reply.Music{Title: "title", Description: "description", URL: "http://music", HQURL: "http://music"},
		"list_music4":    &reply.Music{Title: "title", Description: "description", URL: "http://music", HQURL: "http://hq"},
		"keyed_articles": &reply.Articles{Articles: []reply.Article{{Title: "only", URL: "http://x"}}},
	}
	for name, want := range tests {
		r, _ := dispatch(t, rt, textMsg(name), nil)
		if !reflect.DeepEqual(r, want) {
			t.Errorf("%s: got %#v, want %#v", name, r, want)
		}
	}
}

// A return value that is no reply is an error naming the handler's file and
// line and what it returned.
func TestBadReturn(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"bad.lua": `
local bad = {
  number = function() return 42 end,
  truth  = function() return true end,
  map    = function() return {a = 1} end,
  music2 = function() return {"a", "b"} end,
  mixed  = function() return { {"t", "d", "i", "u"}, "oops" } end,
  short  = function() return { {"t", "d"} } end,
  fn     = function() return print end,
}
robot.text(function(msg)
  return bad[msg.content]()
end)
`}, Options{})
	tests := map[string]string{
		"number": "bad.lua:11: the handler returned a number (42), which is not a reply: a reply is a string, a robot.reply value",
		"truth":  "bad.lua:11: the handler returned a boolean (true), which is not a reply",
		"map":    "bad.lua:11: the handler returned a table that is not a list",
		"music2": "bad.lua:11: the handler returned a list of 2 values; a music list has 3 or 4 strings",
		"mixed":  "bad.lua:11: the handler returned a list of articles whose entry 2 is a string",
		"short":  "bad.lua:11: the handler returned a list of articles whose entry 1 has 2 values",
		"fn":     "bad.lua:11: the handler returned a function",
	}
	for in, want := range tests {
		_, s, err := rt.Dispatch(context.Background(), textMsg(in), nil)
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant prefix %s", in, err, want)
		}
		if s != nil {
			t.Errorf("%s: a failed dispatch returned a session", in)
		}
	}
}

func TestReplyConstructorErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"robot.reply.image('')", "c.lua:1: robot.reply.image: media_id is required"},
		{"robot.reply.video{title = 'x'}", "c.lua:1: robot.reply.video: media_id is required"},
		{"robot.reply.text({})", "c.lua:1: robot.reply.text: content must be a string, got a table"},
		{"robot.reply.music{title = {}}", "c.lua:1: robot.reply.music: title must be a string, got a table"},
		{"robot.reply.articles{}", "c.lua:1: bad argument #1 to articles"},
		{"robot.reply.articles{ {title = 1, url = {} } }", "c.lua:1: robot.reply.articles: entry 1 has a table as url"},
	}
	for _, tt := range tests {
		dir := writeScripts(t, map[string]string{"c.lua": tt.src})
		_, err := New(Options{Dir: dir, Logger: discardLogger()})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s:\n got %v\nwant prefix %s", tt.src, err, tt.want)
		}
	}
}

// Reply values can be read back, and printed.
func TestReplyFields(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"f.lua": `
local m = robot.reply.music{title = "t", url = "u"}
assert(m.kind == "music" and m.title == "t" and m.hq_url == "u" and m.description == "")
assert(tostring(m) == "robot.reply.music")
local a = robot.reply.articles{ {title = "x", url = "y"} }
assert(a.kind == "articles" and a.articles[1].title == "x")
assert(robot.reply.text("c").content == "c")
assert(robot.reply.transfer_customer_service("k").account == "k")
robot.text(function() return m end)
`}, Options{})
	r, _ := dispatch(t, rt, textMsg("x"), nil)
	if _, ok := r.(*reply.Music); !ok {
		t.Errorf("got %#v", r)
	}
}

// TestRepliesWeChatWouldRefuse: caught in Lua, with the handler's line,
// instead of reaching the user as nothing.
func TestRepliesWeChatWouldRefuse(t *testing.T) {
	for chunk, want := range map[string]string{
		`return robot.reply.articles{{title="1"},{title="2"},{title="3"},{title="4"},{title="5"},{title="6"},{title="7"},{title="8"},{title="9"}}`:                                   "which WeChat would refuse: articles reply: 9 articles",
		`return {{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"},{"t","d","i","u"}}`: "which WeChat would refuse",
	} {
		rt, _ := startRuntime(t, map[string]string{"t.lua": "robot.text(function()\n" + chunk + "\nend)"}, Options{})
		_, _, err := rt.Dispatch(t.Context(), textMsg("x"), nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "t.lua:1") {
			t.Errorf("%s: err = %v, want t.lua:1 and %q", chunk, err, want)
		}
	}
}
