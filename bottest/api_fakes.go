package bottest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// ---- API: the fake WeChat API ----

var apiClass = &class{
	name: "luarobot.FakeAPI",
	doc:  "The fake WeChat API the bot's Client calls. Endpoints are API paths without /cgi-bin/ (\"user/info\", \"message/custom/send\"); an endpoint without a fake answers {errcode = 0, errmsg = \"ok\"}.",
	methods: []method{
		{Name: "on", Sig: "(endpoint: string, answer: table|fun(call: luarobot.APICall): table)",
			Doc: "Answers the endpoint's calls with answer, or with what the function returns for each call.",
			Fn:  apiOn},
		{Name: "fail", Sig: "(endpoint: string, errcode: integer)",
			Doc: "Makes every later call of the endpoint fail with errcode (\"token\" fails fetching the access token).",
			Fn:  apiFail},
		{Name: "calls", Sig: "(endpoint?: string): luarobot.APICall[]",
			Doc: "The calls made so far (of the endpoint), token fetches included, robot.on_load's too.",
			Fn:  apiCalls},
		{Name: "expect_called", Sig: "(endpoint: string, body?: table)",
			Doc: "Fails the test unless the endpoint was called (with a body that has these fields).",
			Fn:  apiExpectCalled},
	},
}

// apiCallClass is the shape of t.api:calls()'s elements (a plain table).
var apiCallClass = &class{
	name: "luarobot.APICall",
	doc:  "A call the bot made to the WeChat API.",
	fields: []luadef.Field{
		{Name: "endpoint", Type: "string", Doc: "the API path without /cgi-bin/"},
		{Name: "method", Type: "string", Doc: "GET or POST"},
		{Name: "query", Type: "table<string, string>", Doc: "the query parameters, access_token left out"},
		{Name: "body", Type: "table", Optional: true, Doc: "the JSON body"},
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
	doc:  "The fakes that answer the bot's robot.http requests: no test reaches the network, and a URL no fake matches is nil, err.",
	methods: []method{
		{Name: "on", Sig: "(url_pattern: string, response: string|luarobot.FakeResponse|(fun(request: luarobot.HTTPRequest): luarobot.FakeResponse|string|nil, string?))",
			Doc: "Answers the URLs that match the pattern (* matches anything, / and the query included; the newest matching fake answers); a function may return nil, errmsg for a transport error.",
			Fn:  httpOn},
		{Name: "calls", Sig: "(): luarobot.HTTPRequest[]",
			Doc: "The requests made so far, answered or not, robot.on_load's too.",
			Fn:  httpCalls},
	},
}

// httpRequestClass is the shape of a robot.http request as t.http sees
// it (a plain table).
var httpRequestClass = &class{
	name: "luarobot.HTTPRequest",
	doc:  "A robot.http request of the bot.",
	fields: []luadef.Field{
		{Name: "method", Type: "string", Doc: "GET, POST, ..."},
		{Name: "url", Type: "string", Doc: "the URL with its query"},
		{Name: "query", Type: "table<string, string>", Doc: "the URL's query parameters"},
		{Name: "headers", Type: "table<string, string>", Doc: "lower-case names"},
		{Name: "body", Type: "string", Doc: "the body sent"},
		{Name: "json", Type: "any", Optional: true, Doc: "the body decoded, when it is JSON"},
	},
}

// fakeResponseClass is the shape of a response a test gives t.http:on.
var fakeResponseClass = &class{
	name: "luarobot.FakeResponse",
	doc:  "A response of the fake robot.http; a plain string is the body of a 200 text/plain response.",
	fields: []luadef.Field{
		{Name: "status", Type: "integer", Optional: true, Doc: "the HTTP status (default 200)"},
		{Name: "headers", Type: "table<string, string>", Optional: true, Doc: "the response headers"},
		{Name: "body", Type: "string", Optional: true, Doc: "the body"},
		{Name: "json", Type: "any", Optional: true, Doc: "a body sent as JSON (with Content-Type application/json)"},
		{Name: "delay", Type: "string|number", Optional: true, Doc: "how long the upstream takes to answer (\"5s\", or seconds), on the real clock: a slow upstream"},
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
	tc.ensureBot(L) // robot.on_load's requests count
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
	doc:  "The bot's wall clock: it starts at the real time and moves one second per delivery, and when advanced. Deadlines (reply_timeout, handler_timeout, robot.sleep) stay real.",
	methods: []method{
		{Name: "advance", Sig: "(duration: string|number)",
			Doc: "Moves the clock forward: \"31m\", \"2h\", \"7d\", or seconds; sessions, robot.store values, dialogs and the access token expire by it.",
			Fn:  clockAdvance},
		{Name: "now", Sig: "(): integer",
			Doc: "The clock's time in Unix seconds, as os.time() reads it in the bot.",
			Fn:  clockNow},
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
