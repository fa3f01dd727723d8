package luaapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/luaapi/internal/safehttp"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// robot.http: the Lua side of the guarded HTTP client. Where a request may
// go (http_allow, checked on every address dialled), the body cap, the
// redirects and TLS are internal/safehttp's; this file reads the script's
// arguments, waits through state.wait (the state gives back its pool slot
// meanwhile) and turns the response into a table.
//
//	local res, err = robot.http.get(url, {query = {...}, headers = {...}, timeout = "3s"})
//	local res, err = robot.http.post(url, {json = {...}})            -- or body = "...", form = {...}
//	local res, err = robot.http.request{method = "PUT", url = url, body = "raw"}
//	-- res = {status = 200, headers = {["content-type"] = "..."}, body = "...", json = {...}}
//	-- err = {errmsg = "GET https://api.example.com/weather: dial tcp: connection refused"}
//
// Arguments of the wrong type and unknown options raise a Lua error (a bug
// in the script); everything about the request itself — a refused or bad
// URL, a header with a line break, a timeout, a body over the cap — is a
// result, nil and an error table, since URLs and header values often come
// from users.

// openHTTP makes the client behind robot.http from the options.
func (rt *Runtime) openHTTP() error {
	c, err := safehttp.New(safehttp.Options{
		Allow:     rt.opts.HTTPAllow,
		Proxy:     rt.opts.HTTPProxy,
		MaxBody:   rt.opts.HTTPMaxBody,
		Timeout:   rt.opts.HTTPTimeout,
		Resolver:  rt.opts.HTTPResolver,
		Observe:   rt.opts.HTTPObserver,
		Transport: rt.opts.HTTPTransport,
	})
	if err != nil {
		return fmt.Errorf("luaapi: robot.http: %w", err)
	}
	rt.web = c
	return nil
}

// httpOptionFields are the options of a request; robot.http.request
// takes httpTargetFields too. The error of an unknown option lists them.
var (
	httpOptionFields = []luadef.Field{
		{Name: "query", Type: "robot.Query", Optional: true, Doc: "added to the URL's query"},
		{Name: "headers", Type: "table<string, string>", Optional: true},
		{Name: "body", Type: "string", Optional: true, Doc: "the body, sent as it is (one of body, json and form)"},
		{Name: "json", Type: "any", Optional: true, Doc: "a value sent as JSON (Content-Type application/json)"},
		{Name: "form", Type: "robot.Query", Optional: true, Doc: "sent url-encoded (Content-Type application/x-www-form-urlencoded)"},
		{Name: "timeout", Type: "number|string", Optional: true, Doc: "seconds, or a duration such as \"3s\" (default http_timeout; never past the handler's deadline)"},
	}
	httpTargetFields = []luadef.Field{
		{Name: "method", Type: "string", Optional: true, Doc: "default GET"},
		{Name: "url", Type: "string"},
	}
	httpOptionNames = fieldNames(httpOptionFields)
)

// httpResultFields are the members of a response table (httpResult).
var httpResultFields = []luadef.Field{
	{Name: "status", Type: "integer", Doc: "the status code; a non-2xx status is a result, not an error"},
	{Name: "headers", Type: "table<string, string>", Doc: "lower-case names; repeated headers joined by \", \""},
	{Name: "body", Type: "string"},
	{Name: "json", Type: "any", Optional: true, Doc: "the decoded body, when the response is JSON"},
}

// httpAPI is robot.http.
var httpAPI = apiTable{name: "robot.http", colon: true,
	doc: "HTTP requests through the host's guarded client: http_allow says where they may go; bodies over http_max_body, a refused URL, a timeout are nil and an error table. Call it from a handler or robot.on_load, not at the top level.",
	funcs: []apiFunc{
		httpFunc("get", "GET"),
		httpFunc("post", "POST"),
		{Name: "request", Sig: "(req: robot.http.Request): res: robot.http.Response?, err: robot.Error", Fn: (*state).httpRequest,
			Doc: "A request of any method: robot.http.request{method = \"PUT\", url = url, body = \"raw\"}."},
	}}

func httpFunc(name, method string) apiFunc {
	full := "robot.http." + name
	return apiFunc{Name: name, Sig: "(url: string, opts?: robot.http.Options): res: robot.http.Response?, err: robot.Error",
		Doc: "A " + method + " request to url.",
		Fn: func(st *state, L *lua.LState) int {
			req := &safehttp.Request{Method: method, URL: L.CheckString(1)}
			switch opts := L.Get(2).(type) {
			case *lua.LNilType:
			case *lua.LTable:
				st.httpOptions(L, full, opts, req, false)
			default:
				L.ArgError(2, "the options are a table ("+httpOptionNames+") or nil")
			}
			return st.doHTTP(L, full, req)
		}}
}

func (st *state) httpRequest(L *lua.LState) int {
	req := &safehttp.Request{Method: "GET"}
	st.httpOptions(L, "robot.http.request", L.CheckTable(1), req, true)
	if req.URL == "" {
		L.ArgError(1, "robot.http.request{method = ..., url = ..., ...} needs a url")
	}
	return st.doHTTP(L, "robot.http.request", req)
}

// httpOptions reads the options table of a request into req; with
// withTarget (robot.http.request), method and url too.
func (st *state) httpOptions(L *lua.LState, name string, t *lua.LTable, req *safehttp.Request, withTarget bool) {
	fail := func(format string, args ...any) {
		L.RaiseError("%s: %s", name, fmt.Sprintf(format, args...))
	}
	var bodies []string
	var contentType string
	str := func(key string, v lua.LValue) string {
		switch v := v.(type) {
		case lua.LString:
			return string(v)
		case lua.LNumber:
			return v.String()
		}
		fail("%s must be a string, got %s", key, v.Type().String())
		return ""
	}
	plainTable(t).ForEach(func(k, v lua.LValue) {
		key, ok := k.(lua.LString)
		if !ok {
			fail("the options have a %s key; they are named (%s)", k.Type(), httpOptionNames)
		}
		switch string(key) {
		case "method", "url":
			if !withTarget {
				fail("%s is an option of robot.http.request; robot.http.get and post take the URL first", key)
			}
			if key == "method" {
				req.Method = str("method", v)
			} else {
				req.URL = str("url", v)
			}
		case "query":
			q, ok := v.(*lua.LTable)
			if !ok {
				fail("query must be a table, got %s", v.Type())
			}
			var err error
			if req.Query, err = queryValues(q, "query"); err != nil {
				fail("%s", err)
			}
		case "headers":
			h, ok := v.(*lua.LTable)
			if !ok {
				fail("headers must be a table, got %s", v.Type())
			}
			req.Header = http.Header{}
			plainTable(h).ForEach(func(hk, hv lua.LValue) {
				hname, ok := hk.(lua.LString)
				if !ok {
					fail("header names must be strings, got %s", hk.Type())
				}
				req.Header.Add(string(hname), str("headers."+string(hname), hv))
			})
		case "body":
			req.Body = []byte(str("body", v))
			bodies = append(bodies, "body")
		case "json":
			b, err := encodeJSON(st.ctx(), v, false)
			if err != nil {
				fail("json: %s", err)
			}
			req.Body, contentType = b, "application/json"
			bodies = append(bodies, "json")
		case "form":
			f, ok := v.(*lua.LTable)
			if !ok {
				fail("form must be a table, got %s", v.Type())
			}
			q, err := queryValues(f, "form")
			if err != nil {
				fail("%s", err)
			}
			req.Body, contentType = []byte(q.Encode()), "application/x-www-form-urlencoded"
			bodies = append(bodies, "form")
		case "timeout":
			d, err := parseTimeout(v)
			if err != nil {
				fail("%s", err)
			}
			req.Timeout = d
		default:
			fail("unknown option %q (want %s)", string(key), httpOptionNames)
		}
	})
	if len(bodies) > 1 {
		slices.Sort(bodies)
		fail("give one of body, json and form, not %s", strings.Join(bodies, " and "))
	}
	if contentType != "" && req.Header.Get("Content-Type") == "" {
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set("Content-Type", contentType)
	}
}

// parseTimeout reads the timeout option: seconds, or a duration text
// ("3s", "500ms").
func parseTimeout(v lua.LValue) (time.Duration, error) {
	const usage = `timeout is a number of seconds or a duration such as "3s", greater than 0`
	switch v := v.(type) {
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || f <= 0 {
			return 0, errors.New(usage)
		}
		// At least a nanosecond: a duration of 0 means "http_timeout".
		return max(time.Duration(math.Min(f, 1e6)*float64(time.Second)), 1), nil
	case lua.LString:
		d, err := time.ParseDuration(string(v))
		if err != nil || d <= 0 {
			return 0, errors.New(usage)
		}
		return d, nil
	}
	return 0, errors.New(usage)
}

// doHTTP sends req, waiting without holding a Lua slot, and pushes the
// result: the response table, or nil and an error table.
func (st *state) doHTTP(L *lua.LState, name string, req *safehttp.Request) int {
	st.checkLoaded(L, name)
	if st.rt.web == nil {
		return pushClientError(L, errors.New(name+": robot.http is not available when scripts are only checked"))
	}
	var res *safehttp.Response
	var err error
	// A wait stopped by the deadline raises "stopped: ... (in NAME)", which
	// the runtime turns back into the call's timeout error.
	st.waitOrRaise(L, name, func(ctx context.Context) {
		res, err = st.rt.web.Do(ctx, req)
	})
	if err != nil {
		return pushClientError(L, err)
	}
	L.Push(httpResult(L, res))
	return 1
}

// httpResult is the table of a response: status, headers (lower-case
// names, repeated headers joined by ", "), body, and json when the
// response says it is JSON and is (else json is nil and body is kept).
func httpResult(L *lua.LState, res *safehttp.Response) *lua.LTable {
	t := L.CreateTable(0, 4)
	t.RawSetString("status", lua.LNumber(res.Status))
	h := L.CreateTable(0, len(res.Header))
	for k, vs := range res.Header {
		h.RawSetString(strings.ToLower(k), lua.LString(strings.Join(vs, ", ")))
	}
	t.RawSetString("headers", h)
	t.RawSetString("body", lua.LString(res.Body))
	if isJSON(res.Header.Get("Content-Type")) && len(res.Body) > 0 {
		if v, err := DecodeJSON(L, res.Body, false); err == nil {
			t.RawSetString("json", v)
		}
	}
	return t
}

// isJSON says whether a Content-Type declares JSON: application/json,
// text/json, or a +json type (application/problem+json).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}
