package bottest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/luaapi"
)

// This file is the one home of the test API, the Lua side of `luarobot
// test`: every class a test file sees, with its fields and methods, is
// listed in the tables below, from which both the bindings and API()
// (the description `luarobot types` writes for editors) are made.

// Param is a parameter of a test API function.
type Param struct {
	Name     string
	Type     string // lua-language-server type: string, number, table, fun(...), Reply, ...
	Optional bool
}

// Function is a function or method of the test API.
type Function struct {
	Name    string
	Params  []Param
	Returns string // lua-language-server type; "" when nothing is returned
	Doc     string
}

// Field is a field of a test API class.
type Field struct {
	Name string
	Type string
	Doc  string
}

// Class is a kind of value of the test API. Methods are called with a
// colon (u:send("hi")); Functions with a dot (t.store.get("k")).
type Class struct {
	Name      string
	Doc       string
	Fields    []Field
	Methods   []Function
	Functions []Function
}

// API describes the test API for editor definitions: the global test
// function (and its test.config), then every class.
func API() (test []Function, classes []Class) {
	test = []Function{
		{Name: "test", Params: []Param{{"name", "string", false}, {"fn", "fun(t: luarobot.Test)", false}},
			Doc: "declares a test: fn runs with a fresh bot, its own fakes and clock"},
		testConfigDef,
	}
	for _, c := range allClasses() {
		cl := Class{Name: c.name, Doc: c.doc, Fields: c.fields, Functions: c.functions}
		for _, m := range c.methods {
			cl.Methods = append(cl.Methods, m.Function)
		}
		classes = append(classes, cl)
	}
	return test, classes
}

// method is a Function with its implementation. self is the Go value
// behind the object the method was called on; the Lua arguments start at
// 2 (1 is the object).
type method struct {
	Function
	impl func(tc *testCase, self any, obj *lua.LTable, L *lua.LState) int
}

// class is a Class with the implementations of its methods.
type class struct {
	name      string
	doc       string
	fields    []Field
	methods   []method
	functions []Function // documented only: the table comes from elsewhere (t.store)
}

func allClasses() []*class {
	return []*class{testClass, userClass, replyClass, apiClass, apiCallClass, httpClass, httpRequestClass, fakeResponseClass, clockClass, storeClass}
}

// newObject makes the table of an object of class c, with its methods
// bound to tc and self.
func newObject(L *lua.LState, tc *testCase, c *class, self any) *lua.LTable {
	t := L.CreateTable(0, len(c.methods)+len(c.fields))
	for _, m := range c.methods {
		m := m
		t.RawSetString(m.Name, L.NewFunction(func(L *lua.LState) int {
			if L.Get(1) != t {
				L.RaiseError("%s is a method: call it with a colon, as x:%s(...)", m.Name, m.Name)
			}
			// The arguments a test wrote start at 1, as do the numbers
			// of "bad argument #1 to send".
			L.Remove(1)
			return m.impl(tc, self, t, L)
		}))
	}
	return t
}

// ---- Test: the t of test(name, function(t) ... end) ----

var testClass = &class{
	name: "luarobot.Test",
	doc:  "the test's handle on its bot: users, checks and fakes",
	fields: []Field{
		{"api", "luarobot.FakeAPI", "the fake WeChat API behind robot.client, robot.send and late replies"},
		{"http", "luarobot.FakeHTTP", "the fakes that answer robot.http"},
		{"clock", "luarobot.Clock", "the fake wall clock of the bot"},
		{"store", "robot.store", "robot.store of the test's bot (get, set, delete, incr, called with a dot)"},
	},
	methods: []method{
		{Function{Name: "user", Params: []Param{{"openid", "string", true}}, Returns: "luarobot.User",
			Doc: "a user of the bot; without an openid, a new one"}, testUser},
		{Function{Name: "session", Params: []Param{{"user", "string|luarobot.User", false}},
			Returns: "robot.Session", Doc: "a copy of the user's session as the handlers see it ({} when none)"}, testSession},
		{Function{Name: "eq", Params: []Param{{"got", "any", false}, {"want", "any", false}},
			Doc: "fails the test unless got equals want (tables compared key by key, all the way down)"}, testEq},
		{Function{Name: "ok", Params: []Param{{"value", "any", false}, {"message", "string", true}},
			Doc: "fails the test, with message, unless value is true (not nil or false)"}, testOK},
		{Function{Name: "fail", Params: []Param{{"message", "string", true}}, Doc: "fails the test here"}, testFail},
	},
}

// newT makes the t a test function gets.
func (tc *testCase) newT(L *lua.LState) *lua.LTable {
	t := newObject(L, tc, testClass, nil)
	t.RawSetString("api", newObject(L, tc, apiClass, nil))
	t.RawSetString("http", newObject(L, tc, httpClass, nil))
	t.RawSetString("clock", newObject(L, tc, clockClass, nil))
	t.RawSetString("store", tc.file.sb.StoreTable("t.store", lazyValues{tc}))
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
	doc:    "a WeChat user: each method delivers a message from them, as WeChat does, and returns the bot's reply",
	fields: []Field{{"openid", "string", "the user's openid"}},
	methods: []method{
		{Function{Name: "send", Params: []Param{{"text", "string", false}}, Returns: "luarobot.Reply", Doc: "a text message"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "text", Text: L.CheckString(1)} })},
		{Function{Name: "image", Params: []Param{{"media_id", "string", true}}, Returns: "luarobot.Reply", Doc: "an image"},
			sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "image", Fields: optFields(L, 1, "media_id")}
			})},
		{Function{Name: "voice", Params: []Param{{"media_id", "string", true}, {"recognition", "string", true}},
			Returns: "luarobot.Reply", Doc: "a voice message; recognition is WeChat's transcript"},
			sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "voice", Fields: optFields(L, 1, "media_id", "recognition")}
			})},
		{Function{Name: "location", Params: []Param{{"x", "number", false}, {"y", "number", false}, {"label", "string", true}},
			Returns: "luarobot.Reply", Doc: "a location: x the latitude (location_x), y the longitude (location_y)"},
			sendAs(func(L *lua.LState) simulate.Spec {
				f := map[string]string{"location_x": numberText(L.CheckNumber(1)), "location_y": numberText(L.CheckNumber(2))}
				if label := L.OptString(3, ""); label != "" {
					f["label"] = label
				}
				return simulate.Spec{Type: "location", Fields: f}
			})},
		{Function{Name: "link", Params: []Param{{"title", "string", false}, {"url", "string", false}}, Returns: "luarobot.Reply", Doc: "a link"},
			sendAs(func(L *lua.LState) simulate.Spec {
				return simulate.Spec{Type: "link", Fields: map[string]string{"title": L.CheckString(1), "url": L.CheckString(2)}}
			})},
		{Function{Name: "subscribe", Params: []Param{{"key", "string", true}}, Returns: "luarobot.Reply",
			Doc: "a follow; key is the scene of a parameterised QR code (\"qrscene_42\")"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "subscribe", Key: L.OptString(1, "")} })},
		{Function{Name: "unsubscribe", Returns: "luarobot.Reply", Doc: "an unfollow"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "unsubscribe"} })},
		{Function{Name: "click", Params: []Param{{"key", "string", false}}, Returns: "luarobot.Reply", Doc: "a click on a menu button with that key"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "click", Key: L.CheckString(1)} })},
		{Function{Name: "view", Params: []Param{{"url", "string", false}}, Returns: "luarobot.Reply", Doc: "a click on a menu link"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "view", Key: L.CheckString(1)} })},
		{Function{Name: "scan", Params: []Param{{"key", "string", false}}, Returns: "luarobot.Reply", Doc: "a follower scanning a QR code with that scene"},
			sendAs(func(L *lua.LState) simulate.Spec { return simulate.Spec{Type: "scan", Key: L.CheckString(1)} })},
		{Function{Name: "message", Params: []Param{{"type", "robot.MessageType", false}, {"fields", "table", true}}, Returns: "luarobot.Reply",
			Doc: "any message or event (\"video\", \"scancode_push\", ...) with its fields by their message names; msg_id sets the MsgId (the same one twice is WeChat's retry)"},
			sendAs(messageSpec)},
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
	doc:  "the bot's answer to one message: the passive reply WeChat shows, and in sent what the user got through the customer-service API meanwhile",
	fields: []Field{
		{"type", "string", "text, image, voice, video, music, news, transfer_customer_service, or success (no reply)"},
		{"content", "string?", "a text reply's text (a long text's first part; the rest is in sent)"},
		{"media_id", "string?", "image, voice and video replies"},
		{"title", "string?", "video and music replies"},
		{"description", "string?", "video and music replies"},
		{"url", "string?", "a music reply's url"},
		{"hq_url", "string?", "a music reply's hq_url"},
		{"thumb_media_id", "string?", "a music reply's thumb_media_id"},
		{"articles", "robot.Article[]?", "a news reply's articles"},
		{"account", "string?", "the customer-service account of a transfer (or of a sent message)"},
		{"sent", "luarobot.Reply[]", "the customer-service messages the user got during this delivery, in order (the replies in it have no sent)"},
	},
	methods: []method{
		{Function{Name: "expect", Params: []Param{{"want", "string|table", false}}, Returns: "luarobot.Reply",
			Doc: "a text reply with exactly this text; or, given a table, a reply with these fields (a subset, all the way down)"}, replyExpect},
		{Function{Name: "expect_contains", Params: []Param{{"text", "string", false}}, Returns: "luarobot.Reply",
			Doc: "a text reply whose text contains text"}, replyExpectContains},
		{Function{Name: "expect_match", Params: []Param{{"pattern", "string|robot.Regex", false}}, Returns: "luarobot.Reply",
			Doc: "a text reply whose text matches the RE2 pattern (a string or a robot.re) anywhere"}, replyExpectMatch},
		{Function{Name: "expect_none", Returns: "luarobot.Reply", Doc: "no passive reply: the bot answered success"}, replyExpectNone},
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

// ---- API: the fake WeChat API ----

var apiClass = &class{
	name: "luarobot.FakeAPI",
	doc:  "the fake WeChat API the bot's Client calls. Endpoints are API paths without /cgi-bin/ (\"user/info\", \"message/custom/send\"); an endpoint without a fake answers {errcode = 0, errmsg = \"ok\"}",
	methods: []method{
		{Function{Name: "on", Params: []Param{{"endpoint", "string", false}, {"answer", "table|fun(call: luarobot.APICall): table", false}},
			Doc: "answers the endpoint's calls with answer, or with what the function returns for each call"}, apiOn},
		{Function{Name: "fail", Params: []Param{{"endpoint", "string", false}, {"errcode", "integer", false}},
			Doc: "makes every later call of the endpoint fail with errcode (\"token\" fails fetching the access token)"}, apiFail},
		{Function{Name: "calls", Params: []Param{{"endpoint", "string", true}}, Returns: "luarobot.APICall[]",
			Doc: "the calls made so far (of the endpoint), token fetches included, robot.on_load's too"}, apiCalls},
		{Function{Name: "expect_called", Params: []Param{{"endpoint", "string", false}, {"body", "table", true}},
			Doc: "fails the test unless the endpoint was called (with a body that has these fields)"}, apiExpectCalled},
	},
}

// apiCallClass is the shape of t.api:calls()'s elements (a plain table).
var apiCallClass = &class{
	name: "luarobot.APICall",
	doc:  "a call the bot made to the WeChat API",
	fields: []Field{
		{"endpoint", "string", "the API path without /cgi-bin/"},
		{"method", "string", "GET or POST"},
		{"query", "table<string, string>", "the query parameters, access_token left out"},
		{"body", "table?", "the JSON body"},
	},
}

func checkEndpoint(L *lua.LState, n int) string {
	e := endpointName(L.CheckString(n))
	if e == "" {
		L.ArgError(n, "an endpoint such as \"user/info\"")
	}
	return e
}

func apiOn(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	endpoint := checkEndpoint(L, 1)
	if credentialEndpoints[endpoint] {
		L.RaiseError("t.api:on(%q): the fake API issues access tokens and tickets itself; t.api:fail(%q, errcode) makes them fail", endpoint, endpoint)
	}
	switch a := L.Get(2).(type) {
	case *lua.LTable:
		v, err := luaapi.ToGo(a)
		if err != nil {
			L.ArgError(2, err.Error())
		}
		tc.api.on(endpoint, func(context.Context, fakewechat.Call) any { return v })
	case *lua.LFunction:
		where := callSite(L)
		tc.api.on(endpoint, func(ctx context.Context, c fakewechat.Call) any {
			var v any
			failed := false
			err := tc.pump.do(ctx, func() {
				ret, err := tc.file.sb.Call(tc.ctx, a, callTable(L, c))
				if err == nil && len(ret) > 0 {
					v, err = luaapi.ToGo(ret[0])
				}
				if err != nil {
					failed = true
					tc.fail(where, fmt.Sprintf("the t.api:on(%q) function: %s", endpoint, err))
				}
			})
			switch {
			case err != nil || failed:
				return fakewechat.ErrorBody(-1)
			case v == nil:
				return map[string]any{"errcode": 0, "errmsg": "ok"}
			}
			return v
		})
	default:
		L.ArgError(2, "the answer: a table, or a function of the call returning one")
	}
	return 0
}

func apiFail(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	endpoint := checkEndpoint(L, 1)
	code := L.CheckInt(2)
	if code == 0 {
		L.ArgError(2, "an errcode other than 0")
	}
	if credentialEndpoints[endpoint] {
		tc.wechat.FailAlways("/cgi-bin/"+endpoint, code)
		return 0
	}
	body := fakewechat.ErrorBody(code)
	tc.api.on(endpoint, func(context.Context, fakewechat.Call) any { return body })
	return 0
}

// callTable makes the Lua table of a recorded API call.
func callTable(L *lua.LState, c fakewechat.Call) *lua.LTable {
	t := L.CreateTable(0, 4)
	t.RawSetString("endpoint", lua.LString(endpointName(c.Path)))
	t.RawSetString("method", lua.LString(c.Method))
	q := L.CreateTable(0, len(c.Query))
	for k, v := range c.Query {
		if k != "access_token" && len(v) > 0 {
			q.RawSetString(k, lua.LString(v[0]))
		}
	}
	t.RawSetString("query", q)
	if c.Body != nil {
		t.RawSetString("body", luaapi.FromGo(L, c.Body))
	}
	return t
}

// apiCallsOf returns the calls made so far, of endpoint when it is not "".
func apiCallsOf(tc *testCase, L *lua.LState, endpoint string) []fakewechat.Call {
	tc.ensureBot(L) // robot.on_load's calls count
	var out []fakewechat.Call
	for _, c := range tc.wechat.Calls() {
		if endpoint == "" || endpointName(c.Path) == endpoint {
			out = append(out, c)
		}
	}
	return out
}

func apiCalls(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	endpoint := ""
	if L.Get(1) != lua.LNil {
		endpoint = checkEndpoint(L, 1)
	}
	calls := apiCallsOf(tc, L, endpoint)
	list := L.CreateTable(len(calls), 0)
	for _, c := range calls {
		list.Append(callTable(L, c))
	}
	L.Push(list)
	return 1
}

func apiExpectCalled(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	endpoint := checkEndpoint(L, 1)
	want, _ := L.Get(2).(*lua.LTable)
	if want == nil && L.Get(2) != lua.LNil {
		L.ArgError(2, "the fields the call's body has, as a table")
	}
	calls := apiCallsOf(tc, L, endpoint)
	var seen []string
	for _, c := range calls {
		ct := callTable(L, c)
		got := ct.RawGetString("body")
		if got == lua.LNil {
			got = ct.RawGetString("query")
		}
		if want == nil {
			return 0
		}
		if _, ok := subset(want, got); ok {
			return 0
		}
		seen = append(seen, show(got))
	}
	switch {
	case want == nil:
		tc.failAt(L, "no call to %s (calls made: %s)", endpoint, endpointList(tc))
	case len(seen) == 0:
		tc.failAt(L, "no call to %s with %s (calls made: %s)", endpoint, show(want), endpointList(tc))
	default:
		tc.failAt(L, "no call to %s with %s; its calls: %s", endpoint, show(want), strings.Join(seen, ", "))
	}
	return 0
}

// endpointList lists the endpoints called so far, for a failure.
func endpointList(tc *testCase) string {
	var names []string
	for _, c := range tc.wechat.Calls() {
		names = append(names, endpointName(c.Path))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// ---- HTTP: robot.http's fakes ----

var httpClass = &class{
	name: "luarobot.FakeHTTP",
	doc:  "the fakes that answer the bot's robot.http requests: no test reaches the network, and a URL no fake matches is nil, err",
	methods: []method{
		{Function{Name: "on", Params: []Param{{"url_pattern", "string", false},
			{"response", "string|luarobot.FakeResponse|fun(request: luarobot.HTTPRequest): (luarobot.FakeResponse|string|nil), string?", false}},
			Doc: "answers the URLs that match the pattern (* matches anything, / and the query included; the newest matching fake answers); a function may return nil, errmsg for a transport error"}, httpOn},
		{Function{Name: "calls", Returns: "luarobot.HTTPRequest[]", Doc: "the requests made so far, answered or not"}, httpCalls},
	},
}

// httpRequestClass is the shape of a robot.http request as t.http sees
// it (a plain table).
var httpRequestClass = &class{
	name: "luarobot.HTTPRequest",
	doc:  "a robot.http request of the bot",
	fields: []Field{
		{"method", "string", "GET, POST, ..."},
		{"url", "string", "the URL with its query"},
		{"query", "table<string, string>", "the URL's query parameters"},
		{"headers", "table<string, string>", "lower-case names"},
		{"body", "string", "the body sent"},
		{"json", "any?", "the body decoded, when it is JSON"},
	},
}

// fakeResponseClass is the shape of a response a test gives t.http:on.
var fakeResponseClass = &class{
	name: "luarobot.FakeResponse",
	doc:  "a response of the fake robot.http; a plain string is the body of a 200 text/plain response",
	fields: []Field{
		{"status", "integer?", "the HTTP status (default 200)"},
		{"headers", "table<string, string>?", "the response headers"},
		{"body", "string?", "the body"},
		{"json", "any?", "a body sent as JSON (with Content-Type application/json)"},
		{"delay", "(string|number)?", "how long the upstream takes to answer (\"5s\", or seconds), on the real clock: a slow upstream"},
	},
}

func httpOn(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	pattern := L.CheckString(1)
	where := callSite(L)
	switch a := L.Get(2).(type) {
	case lua.LString, *lua.LTable:
		res, err := toResponse(a)
		if err != nil {
			L.ArgError(2, err.Error())
		}
		tc.web.on(pattern, func(context.Context, *httpCall) (httpResponse, error) { return res, nil })
	case *lua.LFunction:
		tc.web.on(pattern, func(ctx context.Context, c *httpCall) (httpResponse, error) {
			var res httpResponse
			var fnErr error
			err := tc.pump.do(ctx, func() {
				ret, err := tc.file.sb.Call(tc.ctx, a, requestTable(L, c))
				if err != nil {
					tc.fail(where, fmt.Sprintf("the t.http:on(%q) function: %s", pattern, err))
					fnErr = fmt.Errorf("the test's fake failed: %w", err)
					return
				}
				if len(ret) == 0 || ret[0] == lua.LNil {
					// nil, errmsg: a transport error, as the script sees it.
					msg := "the fake answered no response"
					if len(ret) > 1 && ret[1] != lua.LNil {
						msg = lua.LVAsString(ret[1])
					}
					fnErr = errors.New(msg)
					return
				}
				if res, err = toResponse(ret[0]); err != nil {
					tc.fail(where, fmt.Sprintf("the t.http:on(%q) function returned %s", pattern, err))
					fnErr = err
				}
			})
			if err != nil {
				return httpResponse{}, err
			}
			return res, fnErr
		})
	default:
		L.ArgError(2, "the response: a body string, a table {status=, headers=, body=, json=}, or a function of the request")
	}
	return 0
}

// toResponse reads a response a test wrote: a string is the body of a 200
// text/plain response; a table has status (default 200), headers, body
// or json, and delay (how long the upstream takes).
func toResponse(v lua.LValue) (httpResponse, error) {
	res := httpResponse{status: http.StatusOK, header: http.Header{}}
	switch v := v.(type) {
	case lua.LString:
		res.body = []byte(v)
		res.header.Set("Content-Type", "text/plain; charset=utf-8")
		return res, nil
	case *lua.LTable:
		var err error
		v.ForEach(func(k, e lua.LValue) {
			if err != nil {
				return
			}
			switch k {
			case lua.LString("status"):
				n, ok := e.(lua.LNumber)
				if !ok || n < 100 || n > 999 {
					err = fmt.Errorf("status must be an HTTP status such as 200, got %s", show(e))
				}
				res.status = int(n)
			case lua.LString("headers"):
				h, ok := e.(*lua.LTable)
				if !ok {
					err = fmt.Errorf("headers must be a table, got %s", show(e))
					return
				}
				h.ForEach(func(hk, hv lua.LValue) { res.header.Set(lua.LVAsString(hk), lua.LVAsString(hv)) })
			case lua.LString("body"):
				res.body = []byte(lua.LVAsString(e))
			case lua.LString("delay"):
				d, derr := parseAdvance(e)
				if derr != nil {
					err = fmt.Errorf("delay: %w", derr)
				}
				res.delay = d
			case lua.LString("json"):
				b, jerr := luaapi.EncodeJSON(e, false)
				if jerr != nil {
					err = fmt.Errorf("json: %w", jerr)
				}
				res.body = b
				if res.header.Get("Content-Type") == "" {
					res.header.Set("Content-Type", "application/json")
				}
			default:
				err = fmt.Errorf("unknown field %s (a response has status, headers, body, json, delay)", show(k))
			}
		})
		return res, err
	}
	return res, fmt.Errorf("a response is a string or a table, got %s", show(v))
}

// requestTable makes the Lua table of a robot.http request.
func requestTable(L *lua.LState, c *httpCall) *lua.LTable {
	t := L.CreateTable(0, 5)
	t.RawSetString("method", lua.LString(c.Method))
	t.RawSetString("url", lua.LString(c.URL))
	h := L.CreateTable(0, len(c.Header))
	for k, v := range c.Header {
		h.RawSetString(strings.ToLower(k), lua.LString(strings.Join(v, ", ")))
	}
	t.RawSetString("headers", h)
	t.RawSetString("body", lua.LString(c.Body))
	if len(c.Body) > 0 && strings.Contains(c.Header.Get("Content-Type"), "json") {
		if v, err := luaapi.DecodeJSON(L, c.Body, false); err == nil {
			t.RawSetString("json", v)
		}
	}
	if u, err := url.Parse(c.URL); err == nil {
		q := L.CreateTable(0, 0)
		keys := make([]string, 0, len(u.Query()))
		for k := range u.Query() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			q.RawSetString(k, lua.LString(u.Query().Get(k)))
		}
		t.RawSetString("query", q)
	}
	return t
}

func httpCalls(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	calls := tc.web.recorded()
	list := L.CreateTable(len(calls), 0)
	for i := range calls {
		list.Append(requestTable(L, &calls[i]))
	}
	L.Push(list)
	return 1
}

// ---- Clock ----

var clockClass = &class{
	name: "luarobot.Clock",
	doc:  "the bot's wall clock: it starts at the real time and moves one second per delivery, and when advanced. Deadlines (reply_timeout, handler_timeout, robot.sleep) stay real",
	methods: []method{
		{Function{Name: "advance", Params: []Param{{"duration", "string|number", false}},
			Doc: "moves the clock forward: \"31m\", \"2h\", \"7d\", or seconds; sessions, robot.store values, dialogs and the access token expire by it"}, clockAdvance},
		{Function{Name: "now", Returns: "integer", Doc: "the clock's time in Unix seconds, as os.time() reads it in the bot"}, clockNow},
	},
}

func clockAdvance(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	d, err := parseAdvance(L.Get(1))
	if err != nil {
		L.ArgError(1, err.Error())
	}
	tc.clock.Advance(d)
	return 0
}

func clockNow(tc *testCase, _ any, _ *lua.LTable, L *lua.LState) int {
	L.Push(lua.LNumber(tc.clock.Now().Unix()))
	return 1
}

// ---- Store: t.store, robot.store's functions (luaapi.Sandbox.StoreTable) ----

var storeClass = &class{
	name: "robot.store",
	doc:  "robot.store of the test's bot, called with a dot as in the scripts",
	functions: []Function{
		{Name: "get", Params: []Param{{"key", "string", false}}, Returns: "any", Doc: "the value, or nil"},
		{Name: "set", Params: []Param{{"key", "string", false}, {"value", "any", false}, {"ttl", "number", true}},
			Doc: "sets the value (nil deletes); ttl in seconds, on the test's clock"},
		{Name: "delete", Params: []Param{{"key", "string", false}}, Doc: "deletes the value"},
		{Name: "incr", Params: []Param{{"key", "string", false}, {"n", "integer", true}}, Returns: "integer", Doc: "adds n (default 1), returns the new value"},
	},
}

// ---- test.config ----

var testConfigDef = Function{Name: "test.config", Params: []Param{{"settings", "table", false}},
	Doc: "configures the bots of this file's tests: session_ttl, reply_timeout, handler_timeout, max_reply_parts, store_error_reply, http_timeout, http_max_body, use_stable_token, and settings = {...} (robot.settings)"}

// configKeys are the configuration keys a test file may set. The others
// belong to the harness (the account, the store, the fake API) or to
// the operator (listeners, logs).
var configKeys = map[string]bool{
	"session_ttl": true, "reply_timeout": true, "handler_timeout": true, "load_timeout": true,
	"max_reply_parts": true, "store_error_reply": true, "http_timeout": true, "http_max_body": true,
	"use_stable_token": true, "pool_size": true, "max_states": true,
}

// applyConfig reads test.config's table into cfg.
func applyConfig(cfg *config.Config, t *lua.LTable) error {
	flags := map[string]string{}
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name := lua.LVAsString(k)
		switch {
		case name == "settings":
			st, ok := v.(*lua.LTable)
			if !ok {
				err = fmt.Errorf("settings is a table, got %s", show(v))
				return
			}
			g, gerr := luaapi.ToGo(st)
			m, ok := g.(map[string]any)
			if gerr != nil || !ok {
				err = fmt.Errorf("settings: a table of named values (%v)", gerr)
				return
			}
			cfg.Settings = m
		case configKeys[name]:
			switch v := v.(type) {
			case lua.LString, lua.LBool:
				flags[name] = v.String()
			case lua.LNumber:
				flags[name] = numberText(v)
			default:
				err = fmt.Errorf("%s: a string, number or boolean, got %s", name, show(v))
			}
		default:
			err = fmt.Errorf("%q cannot be set by a test (it may set settings and %s)", name, strings.Join(sortedConfigKeys(), ", "))
		}
	})
	if err != nil {
		return err
	}
	loaded, err := config.Loader{Flags: flags}.Load()
	if err != nil {
		return fmt.Errorf("%s", strings.Replace(err.Error(), "flag --", "", 1))
	}
	for name := range flags {
		switch name {
		case "session_ttl":
			cfg.SessionTTL = loaded.SessionTTL
		case "reply_timeout":
			cfg.ReplyTimeout = loaded.ReplyTimeout
		case "handler_timeout":
			cfg.HandlerTimeout = loaded.HandlerTimeout
		case "load_timeout":
			cfg.LoadTimeout = loaded.LoadTimeout
		case "max_reply_parts":
			cfg.MaxReplyParts = loaded.MaxReplyParts
		case "store_error_reply":
			cfg.StoreErrorReply = loaded.StoreErrorReply
		case "http_timeout":
			cfg.HTTPTimeout = loaded.HTTPTimeout
		case "http_max_body":
			cfg.HTTPMaxBody = loaded.HTTPMaxBody
		case "use_stable_token":
			cfg.UseStableToken = loaded.UseStableToken
		case "pool_size":
			cfg.PoolSize = loaded.PoolSize
		case "max_states":
			cfg.MaxStates = loaded.MaxStates
		}
	}
	return nil
}

func sortedConfigKeys() []string {
	keys := make([]string, 0, len(configKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
