package luaapi

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/luaapi/luadef"
)

// The robot API is built from tables of bindings: each entry names a
// function, gives its signature and description for editors, and the Go
// function that implements it. A state binds the entries; `luarobot
// types` writes their definitions (types.go). One table serves both, so
// a function cannot be bound without a definition.

// apiFunc is one function of the robot API.
type apiFunc = luadef.Binding[func(st *state, L *lua.LState) int]

// apiTable is a table of functions of the robot API (robot.store,
// robot.http, ...).
type apiTable struct {
	name  string // "robot.store"
	doc   string
	funcs []apiFunc
	// colon accepts robot.http:get(...) for robot.http.get(...), as
	// WeRoBot users used to Python methods tend to write.
	colon bool
}

// key is the table's name in the robot table ("store").
func (t *apiTable) key() string {
	return t.name[strings.LastIndexByte(t.name, '.')+1:]
}

// bindFuncs sets the functions of fns in t.
func (st *state) bindFuncs(t *lua.LTable, fns []apiFunc) {
	L := st.L
	for _, f := range fns {
		fn := f.Fn
		t.RawSetString(f.Name, L.NewFunction(func(L *lua.LState) int { return fn(st, L) }))
	}
}

// bindTable makes the read-only table of api.
func (st *state) bindTable(api *apiTable) *lua.LTable {
	L := st.L
	t := L.CreateTable(0, len(api.funcs))
	var view *lua.LTable // the read-only table scripts see, for colon calls
	for _, f := range api.funcs {
		fn := f.Fn
		if !api.colon {
			t.RawSetString(f.Name, L.NewFunction(func(L *lua.LState) int { return fn(st, L) }))
			continue
		}
		t.RawSetString(f.Name, L.NewFunction(func(L *lua.LState) int {
			if L.GetTop() > 0 && L.Get(1) == view {
				L.Remove(1)
			}
			return fn(st, L)
		}))
	}
	view = st.readOnly(t, api.name)
	return view
}

// fieldNames lists the names of fields as error messages do: "a, b, c".
func fieldNames(fields ...[]luadef.Field) string {
	var names []string
	for _, fs := range fields {
		for _, f := range fs {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}
