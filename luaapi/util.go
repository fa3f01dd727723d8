package luaapi

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"net/url"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// The small utilities of the robot table: robot.crypto, robot.base64,
// robot.url, robot.uuid, robot.sleep and robot.settings. They are what
// calling a web API takes (signing a request, encoding a query), done by
// Go's own packages, so that results match what the other side computes.

// ---- robot.crypto ----

// cryptoAPI is robot.crypto: digests and HMACs as lower-case hex, the
// form API signatures use.
var cryptoAPI = apiTable{name: "robot.crypto", doc: "Digests and HMACs, as lower-case hex (the form API signatures use).",
	funcs: []apiFunc{
		digest("md5", md5.New), digest("sha1", sha1.New), digest("sha256", sha256.New),
		hmacFunc("hmac_sha1", sha1.New), hmacFunc("hmac_sha256", sha256.New),
	}}

func digest(name string, h func() hash.Hash) apiFunc {
	return apiFunc{Name: name, Sig: "(s: string): string", Doc: "The " + name + " of s, in hex.",
		Fn: func(_ *state, L *lua.LState) int {
			d := h()
			d.Write([]byte(L.CheckString(1)))
			L.Push(lua.LString(hex.EncodeToString(d.Sum(nil))))
			return 1
		}}
}

func hmacFunc(name string, h func() hash.Hash) apiFunc {
	return apiFunc{Name: name, Sig: "(key: string, s: string): string", Doc: "The " + name + " of s with key, in hex.",
		Fn: func(_ *state, L *lua.LState) int {
			m := hmac.New(h, []byte(L.CheckString(1)))
			m.Write([]byte(L.CheckString(2)))
			L.Push(lua.LString(hex.EncodeToString(m.Sum(nil))))
			return 1
		}}
}

// ---- robot.base64 ----

// base64API is robot.base64: standard alphabet, with padding. decode
// answers nil and the error for text that is not base64, as
// robot.json.decode does: such text comes from outside.
var base64API = apiTable{name: "robot.base64", doc: "Base64, standard alphabet with padding.",
	funcs: []apiFunc{
		{Name: "encode", Sig: "(s: string): string", Doc: "The base64 of s.",
			Fn: func(_ *state, L *lua.LState) int {
				L.Push(lua.LString(base64.StdEncoding.EncodeToString([]byte(L.CheckString(1)))))
				return 1
			}},
		{Name: "decode", Sig: "(s: string): bytes: string?, err: string", Doc: "The bytes s stands for, or nil and the error.",
			Fn: func(_ *state, L *lua.LState) int {
				b, err := base64.StdEncoding.DecodeString(L.CheckString(1))
				if err != nil {
					L.Push(lua.LNil)
					L.Push(lua.LString("robot.base64.decode: " + err.Error()))
					return 2
				}
				L.Push(lua.LString(b))
				return 1
			}},
	}}

// ---- robot.url ----

// urlAPI is robot.url: encode and decode as Go's url.QueryEscape and
// QueryUnescape (a space is "+"), and query(t), a table as a query string
// with its keys sorted.
var urlAPI = apiTable{name: "robot.url", doc: "Query escaping, as Go's url.QueryEscape (a space is +).",
	funcs: []apiFunc{
		{Name: "encode", Sig: "(s: string): string", Doc: "s escaped for a query (a space is +).",
			Fn: func(_ *state, L *lua.LState) int {
				L.Push(lua.LString(url.QueryEscape(L.CheckString(1))))
				return 1
			}},
		{Name: "decode", Sig: "(s: string): text: string?, err: string", Doc: "s unescaped, or nil and the error.",
			Fn: func(_ *state, L *lua.LState) int {
				s, err := url.QueryUnescape(L.CheckString(1))
				if err != nil {
					L.Push(lua.LNil)
					L.Push(lua.LString("robot.url.decode: " + err.Error()))
					return 2
				}
				L.Push(lua.LString(s))
				return 1
			}},
		{Name: "query", Sig: "(t: robot.Query): string", Doc: "t as a query string, its keys sorted: a=1&b=2.",
			Fn: func(_ *state, L *lua.LState) int {
				q, err := queryValues(L.CheckTable(1), "query")
				if err != nil {
					L.ArgError(1, err.Error())
				}
				L.Push(lua.LString(q.Encode()))
				return 1
			}},
	}}

// queryValues reads a table of query parameters (robot.url.query, the
// query and form options of robot.http, robot.client.call's query):
// string keys; values that are strings, numbers, booleans, or lists of
// them for a repeated parameter. name names the table in errors
// ("query.city: ...").
func queryValues(t *lua.LTable, name string) (url.Values, error) {
	q := url.Values{}
	var err error
	count := 0 // values and lists so far, for maxQueryValues
	plainTable(t).ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			err = fmt.Errorf("%s keys must be strings, got %s", name, k.Type())
			return
		}
		if tv, ok := v.(*lua.LTable); ok {
			v = plainTable(tv)
		}
		vals, verr := clientQueryValues(v, 0, &count)
		if verr != nil {
			err = fmt.Errorf("%s.%s: %v", name, string(key), verr)
			return
		}
		q[string(key)] = vals
	})
	return q, err
}

// plainTable returns what a read-only view shows (robot.settings.headers,
// the message, say), so that it can be iterated like the table a script
// made: a view itself is empty. Everything that reads tables raw (query
// strings, JSON, Go values) goes through it. Any other table is itself,
// also one with an __index table (a script's object is not its class).
func plainTable(t *lua.LTable) *lua.LTable {
	if mt, ok := t.Metatable.(*lua.LTable); ok && mt.RawGetString(viewMark) == lua.LTrue {
		if b, ok := backingOf(t); ok {
			return b
		}
	}
	return t
}

// ---- robot.uuid ----

// newUUID is robot.uuid(): a random (version 4) UUID, lower-case.
func newUUID(L *lua.LState) int {
	var b [16]byte
	rand.Read(b[:])         // crypto/rand does not fail on supported platforms
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	h := hex.EncodeToString(b[:])
	L.Push(lua.LString(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]))
	return 1
}

// ---- robot.sleep ----

// sleep is robot.sleep(seconds): it waits, giving back the Lua slot it
// held (see state.wait), and never past the handler's deadline — the call
// then ends with its usual timeout error.
func (st *state) sleep(L *lua.LState) int {
	secs := float64(L.CheckNumber(1))
	if math.IsNaN(secs) || secs < 0 {
		L.ArgError(1, "a number of seconds, 0 or more")
	}
	st.checkLoaded(L, "robot.sleep")
	d := time.Duration(math.Min(secs, float64(math.MaxInt64/2)/float64(time.Second)) * float64(time.Second))
	st.waitOrRaise(L, "robot.sleep", func(ctx context.Context) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	})
	return 0
}

// checkLoaded refuses a wait while the scripts load: the top level runs in
// every Lua state the pool makes, so a request or a sleep there would run
// once per state, each time one is made.
func (st *state) checkLoaded(L *lua.LState, name string) {
	if !st.loaded {
		L.RaiseError("%s: call it from a handler or robot.on_load, not while the scripts load (the top level runs in every Lua state)", name)
	}
}

// ---- robot.settings ----

// settingsTable is robot.settings: Options.Settings as nested read-only
// tables. They hold the scripts' secrets; nothing here logs them.
func (st *state) settingsTable() lua.LValue {
	return st.readOnlyValue(plainSettings(st.rt.opts.Settings), "robot.settings", 0)
}

// plainSettings turns what a TOML decoder gives (arrays of tables are
// []map[string]any) into the map[string]any and []any that readOnlyValue
// reads.
func plainSettings(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = plainSettings(e)
		}
		return out
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainSettings(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainSettings(e)
		}
		return out
	}
	return v
}
