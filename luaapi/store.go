package luaapi

import (
	"context"
	"math"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// maxStoreKey bounds robot.store keys; keys are names, not data.
const maxStoreKey = 256

// storeAPI is robot.store: bot-wide values shared by every user and
// every host process, kept in Options.Values as exact JSON (the codec of
// sessions, so any string survives). A store failure raises an error: the
// handler stops and the log names the line. Every call to the store waits
// through st.waitOrRaise, so a state waiting on Redis gives its pool slot
// back.
var storeAPI = apiTable{name: "robot.store",
	doc: "Bot-wide values shared by every user and every host process (sessions are per user). A store failure is an error that stops the handler.",
	funcs: []apiFunc{
		{Name: "get", Sig: "(key: string): any", Fn: (*state).storeGet,
			Doc: "The value stored under key (1 to 256 bytes), or nil."},
		{Name: "set", Sig: "(key: string, value: any, ttl?: number)", Fn: (*state).storeSet,
			Doc: "Stores value (a string, number, boolean or table of them) under key; nil deletes it. ttl: seconds until it expires."},
		{Name: "delete", Sig: "(key: string)", Fn: (*state).storeDelete,
			Doc: "Deletes key."},
		{Name: "incr", Sig: "(key: string, n?: integer): integer", Fn: (*state).storeIncr,
			Doc: "Adds n (default 1) to the integer under key, atomically across processes, and returns the new value."},
	}}

func (st *state) storeGet(L *lua.LState) int {
	key := st.storeKey(L, "get")
	var data []byte
	var err error
	st.waitOrRaise(L, "robot.store.get", func(ctx context.Context) { data, err = st.rt.opts.Values.Get(ctx, key) })
	if err != nil {
		L.RaiseError("robot.store.get(%q): %s", key, err)
	}
	if data == nil {
		L.Push(lua.LNil)
		return 1
	}
	v, err := DecodeJSON(L, data, true)
	if err != nil {
		L.RaiseError("robot.store.get(%q): the stored value is not JSON: %s", key, err)
	}
	L.Push(v)
	return 1
}

func (st *state) storeSet(L *lua.LState) int {
	key := st.storeKey(L, "set")
	v := L.Get(2)
	ttl := time.Duration(0)
	if L.GetTop() >= 3 && L.Get(3) != lua.LNil {
		secs := float64(L.CheckNumber(3))
		if secs <= 0 || math.IsNaN(secs) || secs > 100*365*24*3600 {
			L.ArgError(3, "ttl is a number of seconds greater than 0")
		}
		ttl = time.Duration(secs * float64(time.Second))
	}
	if v == lua.LNil {
		var err error
		st.waitOrRaise(L, "robot.store.set", func(ctx context.Context) { err = st.rt.opts.Values.Delete(ctx, key) })
		if err != nil {
			L.RaiseError("robot.store.set(%q, nil): %s", key, err)
		}
		return 0
	}
	data, err := encodeJSON(st.ctx(), v, true)
	if err != nil {
		L.RaiseError("robot.store.set(%q): %s", key, err)
	}
	st.waitOrRaise(L, "robot.store.set", func(ctx context.Context) { err = st.rt.opts.Values.Set(ctx, key, data, ttl) })
	if err != nil {
		L.RaiseError("robot.store.set(%q): %s", key, err)
	}
	return 0
}

func (st *state) storeDelete(L *lua.LState) int {
	key := st.storeKey(L, "delete")
	var err error
	st.waitOrRaise(L, "robot.store.delete", func(ctx context.Context) { err = st.rt.opts.Values.Delete(ctx, key) })
	if err != nil {
		L.RaiseError("robot.store.delete(%q): %s", key, err)
	}
	return 0
}

func (st *state) storeIncr(L *lua.LState) int {
	key := st.storeKey(L, "incr")
	n := float64(L.OptNumber(2, 1))
	if n != math.Trunc(n) || math.Abs(n) > maxSafeInteger {
		L.ArgError(2, "incr adds an integer")
	}
	var v int64
	var err error
	st.waitOrRaise(L, "robot.store.incr", func(ctx context.Context) { v, err = st.rt.opts.Values.Incr(ctx, key, int64(n)) })
	if err != nil {
		L.RaiseError("robot.store.incr(%q): %s", key, err)
	}
	L.Push(lua.LNumber(v))
	return 1
}

// storeKey checks the key argument and that a store is configured.
func (st *state) storeKey(L *lua.LState, fn string) string {
	key := L.CheckString(1)
	if key == "" || len(key) > maxStoreKey {
		L.ArgError(1, "a key is 1 to 256 bytes")
	}
	if st.rt.opts.Values == nil {
		L.RaiseError("robot.store.%s: the runtime has no store (luaapi.Options.Values)", fn)
	}
	return key
}
