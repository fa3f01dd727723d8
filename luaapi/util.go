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

// newCryptoTable builds robot.crypto: digests and HMACs as lower-case hex,
// the form API signatures use.
func (st *state) newCryptoTable() *lua.LTable {
	L := st.L
	t := L.CreateTable(0, 5)
	digest := func(name string, h func() hash.Hash) {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			d := h()
			d.Write([]byte(L.CheckString(1)))
			L.Push(lua.LString(hex.EncodeToString(d.Sum(nil))))
			return 1
		}))
	}
	digest("md5", md5.New)
	digest("sha1", sha1.New)
	digest("sha256", sha256.New)
	mac := func(name string, h func() hash.Hash) {
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			m := hmac.New(h, []byte(L.CheckString(1)))
			m.Write([]byte(L.CheckString(2)))
			L.Push(lua.LString(hex.EncodeToString(m.Sum(nil))))
			return 1
		}))
	}
	mac("hmac_sha1", sha1.New)
	mac("hmac_sha256", sha256.New)
	return st.readOnly(t, "robot.crypto")
}

// ---- robot.base64 ----

// newBase64Table builds robot.base64: standard alphabet, with padding.
// decode answers nil and the error for text that is not base64, as
// robot.json.decode does: such text comes from outside.
func (st *state) newBase64Table() *lua.LTable {
	L := st.L
	t := L.CreateTable(0, 2)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(base64.StdEncoding.EncodeToString([]byte(L.CheckString(1)))))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		b, err := base64.StdEncoding.DecodeString(L.CheckString(1))
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString("robot.base64.decode: " + err.Error()))
			return 2
		}
		L.Push(lua.LString(b))
		return 1
	}))
	return st.readOnly(t, "robot.base64")
}

// ---- robot.url ----

// newURLTable builds robot.url: encode and decode as Go's
// url.QueryEscape and QueryUnescape (a space is "+"), and query(t), a
// table as a query string with its keys sorted.
func (st *state) newURLTable() *lua.LTable {
	L := st.L
	t := L.CreateTable(0, 3)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(url.QueryEscape(L.CheckString(1))))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		s, err := url.QueryUnescape(L.CheckString(1))
		if err != nil {
			L.Push(lua.LNil)
			L.Push(lua.LString("robot.url.decode: " + err.Error()))
			return 2
		}
		L.Push(lua.LString(s))
		return 1
	}))
	t.RawSetString("query", L.NewFunction(func(L *lua.LState) int {
		q, err := queryValues(L.CheckTable(1), "query")
		if err != nil {
			L.ArgError(1, err.Error())
		}
		L.Push(lua.LString(q.Encode()))
		return 1
	}))
	return st.readOnly(t, "robot.url")
}

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
