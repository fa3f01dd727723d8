package luaapi

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
)

// Every robot.NAME(fn) of the design's table handles its type, and only it.
func TestRegisterEveryType(t *testing.T) {
	var src strings.Builder
	for _, name := range append(append([]string{}, messageTypes...), eventTypes...) {
		src.WriteString("robot." + name + "(function(msg) return '" + name + ":' .. msg.type end)\n")
	}
	rt, _ := startRuntime(t, map[string]string{"all.lua": src.String()}, Options{})
	for _, name := range messageTypes {
		r, _ := dispatch(t, rt, &message.Message{Type: name, Source: "u"}, nil)
		if got, want := textOf(r), name+":"+name; got != want {
			t.Errorf("message %s: got %q, want %q", name, got, want)
		}
	}
	for _, name := range eventTypes {
		typ := eventType(name)
		r, _ := dispatch(t, rt, &message.Message{Type: typ, Source: "u", Event: "X"}, nil)
		if got, want := textOf(r), name+":"+typ; got != want {
			t.Errorf("event %s: got %q, want %q", name, got, want)
		}
	}
	// A type nobody registered gets no answer.
	r, _ := dispatch(t, rt, &message.Message{Type: "no_such_type", Source: "u"}, nil)
	if r != nil {
		t.Errorf("unregistered type answered %q", textOf(r))
	}
}

// robot.handler is tried after every typed handler, whatever the order of
// registration; the first non-nil answer wins and later handlers do not run.
func TestHandlerOrder(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{
		"1.lua": `
robot.handler(function(msg, session) session.ran_all = true; return "fallback" end)
robot.text(function(msg, session)
  session.first = true
  if msg.content == "skip" then return nil end
  if msg.content == "false" then return false end
  if msg.content == "empty" then return "" end
  return "first"
end)`,
		"2.lua": `
robot.text(function(msg, session) session.second = true; return "second" end)
robot.text(function(msg, session) session.third = true; return "third" end)`,
	}, Options{})
	tests := []struct {
		content, want, session string
	}{
		{"hello", "first", `{"first":true}`},
		{"skip", "second", `{"first":true,"second":true}`},
		{"false", "second", `{"first":true,"second":true}`},
		// WeRoBot's rule: an empty reply is falsy.
		{"empty", "second", `{"first":true,"second":true}`},
	}
	for _, tt := range tests {
		r, s := dispatch(t, rt, textMsg(tt.content), nil)
		if textOf(r) != tt.want || string(s) != tt.session {
			t.Errorf("%q: got %q session %s, want %q session %s", tt.content, textOf(r), s, tt.want, tt.session)
		}
	}
	r, s := dispatch(t, rt, &message.Message{Type: "image", Source: "u"}, nil)
	if textOf(r) != "fallback" || string(s) != `{"ran_all":true}` {
		t.Errorf("image: got %q %s, want the fallback", textOf(r), s)
	}
}

// Every type the parser produces has a registration function.
func TestEveryParsedTypeCanBeRegistered(t *testing.T) {
	for _, typ := range message.Types() {
		if handlerTypes[typ] != typ {
			t.Errorf("type %s has no robot.<name> registration", typ)
		}
	}
	for _, name := range eventTypes {
		if _, ok := message.FieldNames(eventType(name)); !ok {
			t.Errorf("robot.%s handles %s, which the parser never produces", name, eventType(name))
		}
	}
}

// A handler returning "" lets the next one try; when all do, there is no
// answer (the host answers success), not an empty text bubble.
func TestEmptyStringIsNoAnswer(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.text(function() return "" end)
robot.handler(function(msg) if msg.content == "fall" then return "from handler" end return "" end)`}, Options{})
	if r, _ := dispatch(t, rt, textMsg("fall"), nil); textOf(r) != "from handler" {
		t.Errorf("got %q, want robot.handler's answer", textOf(r))
	}
	if r, _ := dispatch(t, rt, textMsg("x"), nil); r != nil {
		t.Errorf("all handlers returned \"\", got the reply %#v", r)
	}
}

// When no handler answers, Dispatch returns a nil reply (the host answers
// success).
func TestNoAnswer(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `robot.text(function() end)`}, Options{})
	r, s := dispatch(t, rt, textMsg("x"), nil)
	if r != nil || s != nil {
		t.Errorf("got %v %q, want nil nil", r, s)
	}
}

// The filter example of the WeRoBot docs, rule for rule.
func TestFilterWeRoBotExample(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"filters.lua": `
robot.filter("a", function() return "正文为 a " end)
robot.filter(robot.re(".*?bb.*?"), function() return "正文中含有 bb " end)
robot.filter(robot.re(".*?c.*?"), "d", function() return "正文中含有 c 或正文为 d" end)
robot.filter(robot.re("(.*)?e(.*)?"), "f", function(message, session, match)
  if match then
    return "正文为 " .. match[1] .. "e" .. match[2]
  end
  return "正文为 f"
end)
robot.add_filter(function() return "hello!" end, {"hello", "hi", robot.re(".*?hello.*?")})
`}, Options{})
	tests := []struct{ in, want string }{
		{"a", "正文为 a "},
		{"aa", "<nil>"},
		{"xbbx", "正文中含有 bb "},
		{"abc", "正文中含有 c 或正文为 d"},
		{"d", "正文中含有 c 或正文为 d"},
		{"onee", "正文为 onee"},
		{"f", "正文为 f"},
		{"hi", "hello!"},
		{"say hello", "正文为 say hello"}, // the e filter was registered first
		{"zzz", "<nil>"},
	}
	for _, tt := range tests {
		r, _ := dispatch(t, rt, textMsg(tt.in), nil)
		if got := textOf(r); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// robot.re rules match at the start of the content (Python's re.match):
// match[0] is the whole match, match[1...] the groups, match.NAME the named
// groups, and a group that took no part is nil.
func TestFilterRegexMatch(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"re.lua": `
robot.filter(robot.re("bb"), function() return "starts with bb" end)
robot.filter(robot.re([[(?P<cmd>\w+)\s+(\d+)(x)?]]), function(msg, session, match)
  return table.concat({match[0], match[1], match[2], tostring(match[3]), match.cmd}, "|")
end)
robot.filter("plain", function(msg, session, match) return "match is " .. tostring(match) end)
`}, Options{})
	tests := []struct{ in, want string }{
		{"bbq", "starts with bb"},
		{"abb", "<nil>"},
		{"add 42 rest", "add 42|add|42|nil|add"},
		{"add 42x", "add 42x|add|42|x|add"},
		{"plain", "match is nil"},
	}
	for _, tt := range tests {
		r, _ := dispatch(t, rt, textMsg(tt.in), nil)
		if got := textOf(r); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Filters only see text messages.
func TestFilterIgnoresOtherTypes(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"f.lua": `robot.filter(robot.re(""), function() return "x" end)`}, Options{})
	r, _ := dispatch(t, rt, &message.Message{Type: "image", Source: "u"}, nil)
	if r != nil {
		t.Errorf("a filter answered an image: %q", textOf(r))
	}
}

func TestKeyClick(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"menu.lua": `
robot.key_click("music", function(msg) return "你点击了“今日歌曲”按钮" end)
robot.key_click("abort", function() return "I'm a robot" end)
robot.click(function(msg) return "other key " .. msg.key end)
`}, Options{})
	click := func(key string) *message.Message {
		return eventMsg("click_event", message.Field{Name: "key", Value: key})
	}
	for key, want := range map[string]string{"music": "你点击了“今日歌曲”按钮", "abort": "I'm a robot", "x": "other key x"} {
		r, _ := dispatch(t, rt, click(key), nil)
		if got := textOf(r); got != want {
			t.Errorf("key %q: got %q, want %q", key, got, want)
		}
	}
	// The key may come only in EventKey.
	m := &message.Message{Type: "click_event", Source: "u", Event: "CLICK", EventKey: "abort"}
	if r, _ := dispatch(t, rt, m, nil); textOf(r) != "I'm a robot" {
		t.Errorf("EventKey only: got %q", textOf(r))
	}
}

func TestAddHandler(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"add.lua": `
local function echo(msg) return "echo " .. msg.type end
robot.add_handler(function(msg) return "typed " .. msg.type end, "text")
robot.add_handler(function(msg) return "sub " .. msg.type end, "subscribe")
robot.add_handler(function(msg) return "loc " .. msg.type end, "location_event")
robot.add_handler(echo)
`}, Options{})
	tests := []struct{ typ, want string }{
		{"text", "typed text"},
		{"subscribe_event", "sub subscribe_event"},
		{"location_event", "loc location_event"},
		{"voice", "echo voice"},
	}
	for _, tt := range tests {
		r, _ := dispatch(t, rt, &message.Message{Type: tt.typ, Source: "u"}, nil)
		if got := textOf(r); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.typ, got, tt.want)
		}
	}
}

// The same function may be registered for several types, as stacked
// decorators do in Python; registration returns the function.
func TestRegisterReturnsFunction(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"multi.lua": `
local h = robot.text(function(msg) return "got " .. msg.type end)
robot.location(h)
assert(robot.handler(h) == h)
`}, Options{})
	for _, typ := range []string{"text", "location"} {
		r, _ := dispatch(t, rt, &message.Message{Type: typ, Source: "u"}, nil)
		if got := textOf(r); got != "got "+typ {
			t.Errorf("%s: got %q", typ, got)
		}
	}
}

// Registration mistakes are load errors that name the line.
func TestRegistrationErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"robot.text('not a function')", `bad.lua:1: robot.text expects a function, got a string ("not a function")`},
		{"\nrobot.add_handler(print, 'nonsense')", `bad.lua:2: robot.add_handler: unknown type "nonsense"`},
		{"robot.filter(function() end)", "bad.lua:1: robot.filter expects (rule, ..., fn)"},
		{"robot.filter(42, function() end)", "bad.lua:1: robot.filter: a rule is a string or robot.re(\"pattern\"), not a number (42)"},
		{"robot.add_filter(function() end, {})", "bad.lua:1: robot.add_filter: no rules given"},
		// An empty list (of keywords kept in settings, say) is no rule: the
		// filter would answer every text.
		{"robot.filter({}, function() end)", "bad.lua:1: robot.filter: no rules given"},
		{"robot.filter({{}}, {}, function() end)", "bad.lua:1: robot.filter: no rules given"},
		{"\n\nrobot.filter(robot.re('(unclosed'), function() end)", "bad.lua:3: robot.re: error parsing regexp"},
		{"robot.key_click(function() end)", "bad.lua:1: bad argument #1 to key_click"},
		{"robot.error_page('x')", "bad.lua:1: robot.error_page expects a function(url)"},
	}
	for _, tt := range tests {
		dir := writeScripts(t, map[string]string{"bad.lua": tt.src})
		_, err := New(Options{Dir: dir, Logger: discardLogger()})
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s:\n got %v\nwant prefix %s", tt.src, err, tt.want)
		}
	}
}

// Handlers are registered while the scripts load: a handler that registers
// another one fails (every pooled state would otherwise differ).
func TestRegisterFromHandlerFails(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"late.lua": `
robot.text(function()
  robot.image(function() return "late" end)
end)`}, Options{})
	_, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil)
	if err == nil || !strings.Contains(err.Error(), "late.lua:3: robot.image: handlers are registered while the scripts load") {
		t.Errorf("err = %v", err)
	}
}

func TestErrorPage(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"page.lua": `
robot.error_page(function(url) return "<h1>喵喵喵 " .. url .. " 不是给麻瓜访问的快走开</h1>" end)`}, Options{})
	html, ok := rt.ErrorPage(t.Context(), "http://example.com/wechat")
	if !ok || html != "<h1>喵喵喵 http://example.com/wechat 不是给麻瓜访问的快走开</h1>" {
		t.Errorf("ErrorPage = %q, %v", html, ok)
	}

	none, _ := startRuntime(t, map[string]string{"a.lua": `robot.text(function() end)`}, Options{})
	if _, ok := none.ErrorPage(t.Context(), "x"); ok {
		t.Error("ErrorPage without robot.error_page reported a page")
	}

	bad, logs := startRuntime(t, map[string]string{"page.lua": `robot.error_page(function(url) return 42 end)`}, Options{})
	if _, ok := bad.ErrorPage(t.Context(), "x"); ok {
		t.Error("a page function returning a number was used")
	}
	if !strings.Contains(logs.String(), "page.lua:1: the robot.error_page function returned a number (42)") {
		t.Errorf("log does not explain the bad page:\n%s", logs)
	}
}

// TestErrorPageGivesUpWhenBusy: requests with a bad signature come from
// anyone; when no Lua state frees up in time, the built-in page answers
// instead of queueing behind the handlers.
func TestErrorPageGivesUpWhenBusy(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"t.lua": `
		robot.error_page(function(url) return "custom" end)
		robot.text(function() local t = os.clock() while os.clock() - t < 1 do end return "slow" end)`},
		Options{PoolSize: 1, HandlerTimeout: 5 * time.Second})
	go rt.Dispatch(context.Background(), textMsg("x"), nil)
	time.Sleep(100 * time.Millisecond) // the only state is busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, ok := rt.ErrorPage(ctx, "http://x/"); ok {
		t.Error("the error page waited for the busy state instead of giving up")
	}
}

// docs/lua.md has a row for every registration, naming the type it
// handles, and one in the field tables for every type.
func TestDocsListEveryType(t *testing.T) {
	data, err := os.ReadFile("../docs/lua.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, name := range messageTypes {
		if !strings.Contains(doc, "| `robot."+name+"(fn)` | `"+name+"` |") {
			t.Errorf("docs/lua.md lacks the registration row of robot.%s", name)
		}
	}
	for _, name := range eventTypes {
		if !strings.Contains(doc, "| `robot."+name+"(fn)` | `"+eventType(name)+"` |") {
			t.Errorf("docs/lua.md lacks the registration row of robot.%s", name)
		}
	}
	for _, typ := range message.Types() {
		if !strings.Contains(doc, "\n| `"+typ+"` | ") {
			t.Errorf("docs/lua.md lacks the field row of %s", typ)
		}
	}
}
