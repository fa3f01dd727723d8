package bottest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// The test API, the Lua side of `luarobot test`: every class a test file
// sees, with its fields and methods, is a table of allClasses, from which
// both the bindings and API() (the description `luarobot types` writes for
// editors) are made. This file has the machinery, t, users and replies;
// api_fakes.go the fakes and the clock; config.go test.config.

// Definitions describes the test API for editors (`luarobot types`): the
// global test, callable and with test.config, then every class, from the
// tables that bind them.
func Definitions() ([]luadef.Section, error) {
	cfg, err := testConfigBinding.Func()
	if err != nil {
		return nil, err
	}
	s := luadef.Section{Title: "The test API of luarobot test (*_test.lua files)"}
	s.Classes = append(s.Classes, luadef.Class{Name: "test", Global: true, Call: "fun(name: string, fn: fun(t: luarobot.Test))",
		Doc:   "test(name, fn) declares a test of a *_test.lua file: fn gets a fresh bot (the folder's scripts, a memory store, fake WeChat API, HTTP and clock). A failed check ends the test; the others still run.",
		Funcs: []luadef.Func{cfg}})
	for _, c := range allClasses() {
		methods, err := luadef.Funcs(c.methods)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		s.Classes = append(s.Classes, luadef.Class{Name: c.name, Doc: c.doc, Fields: c.fields, Methods: methods})
	}
	s.Classes = append(s.Classes, luadef.Class{Name: "luarobot.TestConfig", Fields: configFields,
		Doc: "What test.config may set: the configuration keys that shape a bot's behaviour, and settings (robot.settings)."})
	return []luadef.Section{s}, nil
}

// method is a method of the test API: its definition and its
// implementation. self is the Go value behind the object the method was
// called on, obj its table; the Lua arguments start at 1.
type method = luadef.Binding[func(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int]

// class is a kind of value of the test API: its fields and its methods,
// called with a colon (u:send("hi")).
type class struct {
	name    string
	doc     string
	fields  []luadef.Field
	methods []method
}

func allClasses() []*class {
	return []*class{testClass, userClass, replyClass, apiClass, apiCallClass, httpClass, httpRequestClass, fakeResponseClass, clockClass}
}

// newObject makes the table of an object of class c, with its methods
// bound to tc and self. The methods are in its metatable's __index, so
// that the table itself holds only data: a reply in a failure shows its
// fields, and t:eq compares a reply with a plain table of them.
func newObject(L *lua.LState, tc *testCase, c *class, self any) *lua.LTable {
	t := L.CreateTable(0, len(c.fields))
	methods := L.CreateTable(0, len(c.methods))
	for _, m := range c.methods {
		m := m
		methods.RawSetString(m.Name, L.NewFunction(func(L *lua.LState) int {
			if L.Get(1) != t {
				L.RaiseError("%s is a method: call it with a colon, as x:%s(...)", m.Name, m.Name)
			}
			// The arguments a test wrote start at 1, as do the numbers
			// of "bad argument #1 to send".
			L.Remove(1)
			return m.Fn(tc, self, t, L)
		}))
	}
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", methods)
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(t, mt)
	return t
}

// ---- Test: the t of test(name, function(t) ... end) ----

var testClass = &class{
	name: "luarobot.Test",
	doc:  "The test's handle on its bot: users, checks and fakes.",
	fields: []luadef.Field{
		{Name: "api", Type: "luarobot.FakeAPI", Doc: "the fake WeChat API behind robot.client, robot.send and late replies"},
		{Name: "http", Type: "luarobot.FakeHTTP", Doc: "the fakes that answer robot.http"},
		{Name: "clock", Type: "luarobot.Clock", Doc: "the fake wall clock of the bot"},
		{Name: "store", Type: "robot.store", Doc: "robot.store of the test's bot (get, set, delete, incr, called with a dot)"},
	},
	methods: []method{
		{Name: "user", Sig: "(openid?: string): luarobot.User",
			Doc: "A user of the bot; without an openid, a new one.",
			Fn:  testUser},
		{Name: "session", Sig: "(user: string|luarobot.User): robot.Session",
			Doc: "A copy of the user's session as the handlers see it ({} when none).",
			Fn:  testSession},
		{Name: "eq", Sig: "(got: any, want: any)",
			Doc: "Fails the test unless got equals want (tables compared key by key, all the way down).",
			Fn:  testEq},
		{Name: "ok", Sig: "(value: any, message?: string)",
			Doc: "Fails the test, with message, unless value is true (not nil or false).",
			Fn:  testOK},
		{Name: "fail", Sig: "(message?: string)",
			Doc: "Fails the test here.",
			Fn:  testFail},
	},
}

// newT makes the t a test function gets.
func (tc *testCase) newT(L *lua.LState) *lua.LTable {
	t := newObject(L, tc, testClass, nil)
	t.RawSetString("api", newObject(L, tc, apiClass, nil))
	t.RawSetString("http", newObject(L, tc, httpClass, nil))
	t.RawSetString("clock", newObject(L, tc, clockClass, nil))
	t.RawSetString("store", tc.file.sb.StoreTable())
	return t
}

func testUser(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	openid := L.OptString(1, "")
	if openid == "" {
		tc.users++
		openid = fmt.Sprintf("oTestUser%d", tc.users)
	}
	u := newObject(L, tc, userClass, &user{openid: openid})
	u.RawSetString("openid", lua.LString(openid))
	L.Push(u)
	return 1
}

// openidArg reads an openid given as a string or a user.
func openidArg(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case *lua.LTable:
		if s, ok := v.RawGetString("openid").(lua.LString); ok {
			return string(s)
		}
	}
	L.ArgError(n, "an openid or a user (t:user())")
	return ""
}

func testSession(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	openid := openidArg(L, 1)
	data, err := tc.store.LoadSession(tc.ctx, openid)
	if err != nil {
		L.RaiseError("t:session(%q): %s", openid, err)
	}
	t, err := tc.file.sb.Session(data)
	if err != nil {
		L.RaiseError("t:session(%q): %s", openid, err)
	}
	L.Push(t)
	return 1
}

func testEq(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	got, want := L.Get(1), L.Get(2)
	if !equal(got, want) {
		tc.failAt(L, "got %s, want %s", show(got), show(want))
	}
	return 0
}

func testOK(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	if v := L.Get(1); !lua.LVAsBool(v) {
		if msg := L.OptString(2, ""); msg != "" {
			tc.failAt(L, "%s", msg)
		}
		tc.failAt(L, "got %s, want a true value", show(v))
	}
	return 0
}

func testFail(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	tc.failAt(L, "%s", L.OptString(1, "failed"))
	return 0
}

// ---- User ----

// user is a WeChat user of the test's bot.
type user struct{ openid string }

var userClass = &class{
	name:   "luarobot.User",
	doc:    "A WeChat user: each method delivers a message from them, as WeChat does, and returns the bot's reply.",
	fields: []luadef.Field{{Name: "openid", Type: "string", Doc: "the user's openid"}},
	methods: []method{
		{Name: "send", Sig: "(text: string): luarobot.Reply",
			Doc: "A text message.",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "text", Text: L.CheckString(1)} })},
		{Name: "image", Sig: "(media_id?: string): luarobot.Reply",
			Doc: "An image.",
			Fn: sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "image", Fields: optFields(L, 1, "media_id")}
			})},
		{Name: "voice", Sig: "(media_id?: string, recognition?: string): luarobot.Reply",
			Doc: "A voice message; recognition is WeChat's transcript.",
			Fn: sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "voice", Fields: optFields(L, 1, "media_id", "recognition")}
			})},
		{Name: "location", Sig: "(x: number, y: number, label?: string): luarobot.Reply",
			Doc: "A location: x the latitude (location_x), y the longitude (location_y).",
			Fn: sendAs(func(L *lua.LState) simulate.Spec {
				f := map[string]string{"location_x": numberText(L.CheckNumber(1)), "location_y": numberText(L.CheckNumber(2))}
				if label := L.OptString(3, ""); label != "" {
					f["label"] = label
				}
				return simulate.Spec{Type: "location", Fields: f}
			})},
		{Name: "link", Sig: "(title: string, url: string): luarobot.Reply",
			Doc: "A link.",
			Fn: sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "link", Fields: map[string]string{"title": L.CheckString(1), "url": L.CheckString(2)}}
			})},
		{Name: "subscribe", Sig: "(key?: string): luarobot.Reply",
			Doc: "A follow; key is the scene of a parameterised QR code (\"qrscene_42\").",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "subscribe", Key: L.OptString(1, "")} })},
		{Name: "unsubscribe", Sig: "(): luarobot.Reply",
			Doc: "An unfollow.",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "unsubscribe"} })},
		{Name: "click", Sig: "(key: string): luarobot.Reply",
			Doc: "A click on a menu button with that key.",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "click", Key: L.CheckString(1)} })},
		{Name: "view", Sig: "(url: string): luarobot.Reply",
			Doc: "A click on a menu link.",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "view", Key: L.CheckString(1)} })},
		{Name: "scan", Sig: "(key: string): luarobot.Reply",
			Doc: "A follower scanning a QR code with that scene.",
			Fn:  sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "scan", Key: L.CheckString(1)} })},
		{Name: "message", Sig: "(type: robot.MessageType, fields?: table): luarobot.Reply",
			Doc: "Any message or event (\"video\", \"scancode_push\", ...) with its fields by their message names; msg_id sets the MsgId (the same one twice is WeChat's retry).",
			Fn:  sendAs(messageSpec)},
	},
}

// sendAs makes a User method that delivers the message spec describes.
func sendAs(spec func(L *lua.LState) simulate.Spec) func(tc *testCase, self any, _ *lua.LTable, L *lua.LState) int {
	return func(tc *testCase, self any, _ *lua.LTable, L *lua.LState) int {
		s := spec(L)
		d := tc.deliver(L, self.(*user).openid, s)
		L.Push(newReply(L, tc, d.reply, d.sent))
		return 1
	}
}

// optFields reads the optional string arguments from n on as the named
// fields; absent ones keep the simulator's defaults.
func optFields(L *lua.LState, n int, names ...string) map[string]string {
	f := map[string]string{}
	for i, name := range names {
		if s := L.OptString(n+i, ""); s != "" {
			f[name] = s
		}
	}
	return f
}

func numberText(n lua.LNumber) string { return strconv.FormatFloat(float64(n), 'f', -1, 64) }

// messageSpec reads u:message(type, fields).
func messageSpec(L *lua.LState) simulate.Spec {
	s := simulate.Spec{Type: L.CheckString(1), Fields: map[string]string{}}
	fields, _ := L.Get(2).(*lua.LTable)
	if fields == nil && L.Get(2) != lua.LNil {
		L.ArgError(2, "the fields are a table")
	}
	if fields == nil {
		return s
	}
	fields.ForEach(func(k, v lua.LValue) {
		name, ok := k.(lua.LString)
		if !ok {
			L.ArgError(2, "field names are strings")
		}
		text := fieldText(L, string(name), v)
		switch name {
		case "msg_id", "message_id":
			s.MsgID = text
		case "key":
			s.Key = text
		default:
			s.Fields[string(name)] = text
		}
	})
	return s
}

// fieldText writes a field value as the simulator reads it: numbers as
// numbers, pic_list as comma-separated md5 sums, other tables as JSON.
func fieldText(L *lua.LState, name string, v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return numberText(v)
	case lua.LBool:
		return v.String()
	case *lua.LTable:
		if name == "pic_list" {
			var sums []string
			v.ForEach(func(_, e lua.LValue) {
				if t, ok := e.(*lua.LTable); ok {
					e = t.RawGetString("pic_md5_sum")
				}
				sums = append(sums, lua.LVAsString(e))
			})
			return strings.Join(sums, ",")
		}
		b, err := luaapi.EncodeJSON(v, false)
		if err != nil {
			L.ArgError(2, name+": "+err.Error())
		}
		return string(b)
	}
	L.ArgError(2, name+" is a "+v.Type().String()+"; fields are strings, numbers, booleans or tables")
	return ""
}

// ---- Reply ----

var replyClass = &class{
	name: "luarobot.Reply",
	doc:  "The bot's answer to one message: the passive reply WeChat shows, and in sent what the user got through the customer-service API meanwhile.",
	fields: []luadef.Field{
		{Name: "type", Type: `"text"|"image"|"voice"|"video"|"music"|"news"|"transfer_customer_service"|"success"`, Doc: "success: no reply"},
		{Name: "content", Type: "string", Optional: true, Doc: "a text reply's text (a long text's first part; the rest is in sent)"},
		{Name: "media_id", Type: "string", Optional: true, Doc: "image, voice and video replies"},
		{Name: "title", Type: "string", Optional: true, Doc: "video and music replies"},
		{Name: "description", Type: "string", Optional: true, Doc: "video and music replies"},
		{Name: "url", Type: "string", Optional: true, Doc: "a music reply's url"},
		{Name: "hq_url", Type: "string", Optional: true, Doc: "a music reply's hq_url"},
		{Name: "thumb_media_id", Type: "string", Optional: true, Doc: "a music reply's thumb_media_id"},
		{Name: "articles", Type: "robot.Article[]", Optional: true, Doc: "a news reply's articles"},
		{Name: "account", Type: "string", Optional: true, Doc: "the customer-service account of a transfer (or of a sent message)"},
		{Name: "sent", Type: "luarobot.Reply[]", Doc: "the customer-service messages the user got during this delivery, in order (the replies in it have no sent)"},
	},
	methods: []method{
		{Name: "expect", Sig: "(want: string|table): luarobot.Reply",
			Doc: "A text reply with exactly this text; or, given a table, a reply with these fields (a subset, all the way down; an empty table wants an empty one: {sent = {}}).",
			Fn:  replyExpect},
		{Name: "expect_contains", Sig: "(text: string): luarobot.Reply",
			Doc: "A text reply whose text contains text.",
			Fn:  replyExpectContains},
		{Name: "expect_match", Sig: "(pattern: string|robot.Regex): luarobot.Reply",
			Doc: "A text reply whose text matches the RE2 pattern (a string or a robot.re) anywhere.",
			Fn:  replyExpectMatch},
		{Name: "expect_none", Sig: "(): luarobot.Reply",
			Doc: "No passive reply: the bot answered success.",
			Fn:  replyExpectNone},
	},
}

// newReply makes the Lua table of a delivery's reply, with its sent list.
func newReply(L *lua.LState, tc *testCase, v reply.View, sent []reply.View) *lua.LTable {
	t := replyTable(L, tc, v)
	list := L.CreateTable(len(sent), 0)
	for _, s := range sent {
		list.Append(replyTable(L, tc, s))
	}
	t.RawSetString("sent", list)
	return t
}

// replyTable makes the Lua table of a reply view: its type and the fields
// it has, and the checks.
func replyTable(L *lua.LState, tc *testCase, v reply.View) *lua.LTable {
	t := newObject(L, tc, replyClass, v)
	t.RawSetString("type", lua.LString(v.Type))
	if v.Type == "text" {
		t.RawSetString("content", lua.LString(v.Content)) // even when empty
	}
	v.Fields(func(name, value string) { t.RawSetString(name, lua.LString(value)) })
	if v.Articles != nil {
		list := L.CreateTable(len(v.Articles), 0)
		for _, a := range v.Articles {
			at := L.CreateTable(0, 4)
			at.RawSetString("title", lua.LString(a.Title))
			at.RawSetString("description", lua.LString(a.Description))
			at.RawSetString("img", lua.LString(a.Img))
			at.RawSetString("url", lua.LString(a.URL))
			list.Append(at)
		}
		t.RawSetString("articles", list)
	}
	return t
}

// describe shows a reply in a failure or in -v's transcript: its type and
// the fields it has.
func describe(v reply.View) string {
	var b strings.Builder
	b.WriteString(v.Type)
	switch v.Type {
	case "text":
		b.WriteString(" " + strconv.Quote(v.Content))
		v.Content = "" // shown
	case "success":
		b.WriteString(" (no reply)")
	case "news":
		for i, a := range v.Articles {
			if i == 3 {
				fmt.Fprintf(&b, " …(%d articles)", len(v.Articles))
				break
			}
			fmt.Fprintf(&b, " [%s]", strconv.Quote(a.Title))
		}
	}
	v.Fields(func(name, value string) { fmt.Fprintf(&b, " %s=%s", name, strconv.Quote(value)) })
	return b.String()
}

// textOf returns the text of a text reply, or fails the test naming what
// came instead of the want it describes.
func textOf(tc *testCase, L *lua.LState, v reply.View, want string) string {
	if v.Type != "text" {
		tc.failAt(L, "got %s, want %s", describe(v), want)
	}
	return v.Content
}

func replyExpect(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int {
	v := self.(reply.View)
	switch want := L.Get(1).(type) {
	case lua.LString:
		if got := textOf(tc, L, v, "text "+strconv.Quote(string(want))); got != string(want) {
			tc.failAt(L, "got %s, want text %s", describe(v), strconv.Quote(string(want)))
		}
	case *lua.LTable:
		if m, ok := subset(want, obj); !ok {
			if m.path == "" {
				tc.failAt(L, "got %s, want %s", describe(v), show(want))
			}
			tc.failAt(L, "reply%s: got %s, want %s (the reply: %s)", m.path, show(m.got), show(m.want), describe(v))
		}
	default:
		L.ArgError(1, "the text of the reply, or a table of its fields")
	}
	L.Push(obj)
	return 1
}

func replyExpectContains(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int {
	v, want := self.(reply.View), L.CheckString(1)
	if got := textOf(tc, L, v, "a text containing "+strconv.Quote(want)); !strings.Contains(got, want) {
		tc.failAt(L, "got %s, want a text containing %s", describe(v), strconv.Quote(want))
	}
	L.Push(obj)
	return 1
}

func replyExpectMatch(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int {
	v := self.(reply.View)
	var re *regexp.Regexp
	if s, ok := L.Get(1).(lua.LString); ok {
		var err error
		if re, err = regexp.Compile(string(s)); err != nil {
			L.ArgError(1, err.Error())
		}
	} else if re, ok = tc.file.sb.Regexp(L.Get(1)); !ok {
		L.ArgError(1, "a pattern: a string (RE2) or a robot.re")
	}
	want := "a text matching " + strconv.Quote(re.String())
	if got := textOf(tc, L, v, want); !re.MatchString(got) {
		tc.failAt(L, "got %s, want %s", describe(v), want)
	}
	L.Push(obj)
	return 1
}

func replyExpectNone(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int {
	if v := self.(reply.View); v.Type != "success" {
		tc.failAt(L, "got %s, want no reply (success)", describe(v))
	}
	L.Push(obj)
	return 1
}
