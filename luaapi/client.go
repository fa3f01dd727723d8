package luaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// errNoClient is the error of every robot.client call when the host has no
// AppID and AppSecret: scripts still load and run, and say why they cannot
// reach WeChat.
const errNoClient = "robot.client is not configured: set app_id and app_secret"

// newClientTable builds robot.client for one Lua state: one function per
// method of client.Methods() (the method table is the single source of
// truth, so a new method needs no code here), plus call(method, path,
// query, body) for endpoints that are not wrapped. c may be nil.
//
// Every function follows the same convention: WeChat's answer as a table,
// or nil and an error table {errcode=, errmsg=} ({errmsg=} alone for
// transport errors). Wrong arguments raise a Lua error, as they are script
// bugs. Downloads return two values: the bytes (or the save_as path) and
// the content type.
//
// wait runs the part of each function that waits for WeChat (see
// state.wait: the state gives its pool slot back meanwhile); nil runs it
// directly.
func newClientTable(L *lua.LState, c *client.Client, wait waitFunc) *lua.LTable {
	if wait == nil {
		wait = func(L *lua.LState, _ string, fn func(context.Context)) { fn(clientContext(L)) }
	}
	methods := client.Methods()
	t := L.CreateTable(0, len(methods)+1)
	for _, m := range methods {
		t.RawSetString(m.Name, clientFunction(L, m.Name, clientMethod(c, m.Name, wait)))
	}
	t.RawSetString(clientCallDef.Name, clientFunction(L, clientCallDef.Name, clientCall(c, wait)))
	return t
}

// clientCallDef describes robot.client.call for editors; the methods of
// client.Methods() are described from their table (types.go).
var clientCallDef = luadef.Binding[any]{Name: "call",
	Sig: "(method: string, path: string, query?: robot.Query, body?: table|string): res: table?, err: robot.Error",
	Doc: "Calls an endpoint that has no method of its own: method \"GET\" or \"POST\", path under api_base (\"/cgi-bin/...\"), the access token added; body is a table sent as JSON, or JSON text."}

// waitFunc runs fn, the Go work of a binding that waits on the network,
// under the name the error of a stuck call gives (see state.wait). fn gets
// the call's context.
type waitFunc func(L *lua.LState, name string, fn func(ctx context.Context))

// clientFunction wraps a binding that takes its arguments from index
// first. It skips the table itself when the function was called with colon
// syntax (robot.client:get_menu()), which WeRoBot users used to Python
// methods tend to write.
func clientFunction(L *lua.LState, name string, f func(L *lua.LState, first int) int) *lua.LFunction {
	var fn *lua.LFunction
	fn = L.NewFunction(func(L *lua.LState) int {
		first := 1
		if self, ok := L.Get(1).(*lua.LTable); ok && L.GetField(self, name) == fn {
			first = 2
		}
		return f(L, first)
	})
	return fn
}

// clientMethod binds one named method.
func clientMethod(c *client.Client, name string, wait waitFunc) func(*lua.LState, int) int {
	return func(L *lua.LState, first int) int {
		if c == nil {
			return pushClientError(L, errors.New(errNoClient))
		}
		top := L.GetTop()
		argv := make([]any, 0, top)
		w := goWalk{ctx: clientContext(L)} // one bound for all the arguments
		for i := first; i <= top; i++ {
			v, err := w.value(L.Get(i), 0)
			if err != nil {
				L.ArgError(i, err.Error())
			}
			argv = append(argv, v)
		}
		var res any
		var err error
		wait(L, "robot.client."+name, func(ctx context.Context) { res, err = c.Invoke(ctx, name, argv...) })
		if err != nil {
			var argErr *client.ArgError
			if errors.As(err, &argErr) {
				L.RaiseError("robot.client.%s", argErr.Error())
			}
			return pushClientError(L, err)
		}
		switch v := res.(type) {
		case *client.Media:
			if v.Path != "" {
				L.Push(lua.LString(v.Path))
			} else {
				L.Push(lua.LString(v.Data))
			}
			L.Push(lua.LString(v.ContentType))
			return 2
		default:
			L.Push(FromGo(L, v))
		}
		return 1
	}
}

// clientCall binds robot.client.call(method, path, query, body).
func clientCall(c *client.Client, wait waitFunc) func(*lua.LState, int) int {
	return func(L *lua.LState, first int) int {
		method := L.CheckString(first)
		path := L.CheckString(first + 1)
		var query url.Values
		if q, ok := L.Get(first + 2).(*lua.LTable); ok {
			var err error
			if query, err = queryValues(q, "query"); err != nil {
				L.ArgError(first+2, err.Error())
			}
		} else if L.Get(first+2) != lua.LNil {
			L.ArgError(first+2, "query must be a table or nil")
		}
		var body any
		switch b := L.Get(first + 3).(type) {
		case *lua.LNilType:
		case lua.LString:
			body = json.RawMessage(b)
		case *lua.LTable:
			data, err := encodeJSON(clientContext(L), b, false)
			if err != nil {
				L.ArgError(first+3, err.Error())
			}
			body = json.RawMessage(data)
		default:
			L.ArgError(first+3, "body must be a table, a JSON string or nil")
		}
		if c == nil {
			return pushClientError(L, errors.New(errNoClient))
		}
		var res any
		var err error
		wait(L, "robot.client.call", func(ctx context.Context) { res, err = c.Call(ctx, method, path, query, body) })
		if err != nil {
			return pushClientError(L, err)
		}
		L.Push(FromGo(L, res))
		return 1
	}
}

// Bounds of robot.client.call's query: a list of values may hold lists
// (they are flattened), but a table that contains itself must be an
// error, not a recursion that overflows the Go stack and kills the
// process; and a URL does not carry millions of parameters.
const (
	maxQueryDepth  = 16
	maxQueryValues = 1024 // values and lists, all levels together
)

// clientQueryValues turns a query table value into its strings: a string, a
// number, a boolean, or a list of those for a repeated parameter. depth is
// the nesting of v; *count the values and lists of the whole query so far.
func clientQueryValues(v lua.LValue, depth int, count *int) ([]string, error) {
	if *count++; *count > maxQueryValues {
		return nil, fmt.Errorf("more than %d values", maxQueryValues)
	}
	switch v := v.(type) {
	case lua.LString:
		return []string{string(v)}, nil
	case lua.LNumber:
		return []string{formatNumber(float64(v))}, nil
	case lua.LBool:
		return []string{v.String()}, nil
	case *lua.LTable:
		if depth >= maxQueryDepth {
			return nil, fmt.Errorf("lists nested deeper than %d (does the table contain itself?)", maxQueryDepth)
		}
		var out []string
		v = plainTable(v)
		for i := 1; i <= v.Len(); i++ {
			vs, err := clientQueryValues(v.RawGetInt(i), depth+1, count)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s cannot be a query value", v.Type())
}

// clientContext is the context of the Lua call in progress: the handler's
// deadline when the runtime set one.
func clientContext(L *lua.LState) context.Context {
	if ctx := L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// errorFields are the members of the error table pushClientError makes.
var errorFields = []luadef.Field{
	{Name: "errmsg", Type: "string", Doc: "what went wrong"},
	{Name: "errcode", Type: "integer", Optional: true, Doc: "WeChat's errcode, when WeChat refused the call"},
	{Name: "method", Type: "string", Optional: true, Doc: "the robot.client method that failed"},
	{Name: "hint", Type: "string", Optional: true, Doc: "what a common errcode usually means"},
}

// pushClientError returns nil, err to Lua: err is {errcode=, errmsg=} for
// WeChat's errors and {errmsg=} for the others, with the method's name
// (method=) and, for common errcodes, a hint (hint=). tostring(err) gives
// the whole message, so robot.log.error(err) says everything.
func pushClientError(L *lua.LState, err error) int {
	t := L.NewTable()
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		t.RawSetString("errcode", lua.LNumber(apiErr.Code))
		t.RawSetString("errmsg", lua.LString(apiErr.Msg))
		t.RawSetString("method", lua.LString(apiErr.Method))
		if h := client.Hint(apiErr.Code); h != "" {
			t.RawSetString("hint", lua.LString(h))
		}
	} else {
		t.RawSetString("errmsg", lua.LString(err.Error()))
	}
	mt := L.NewTable()
	text := err.Error()
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(text))
		return 1
	}))
	L.SetMetatable(t, mt)
	L.Push(lua.LNil)
	L.Push(t)
	return 2
}
