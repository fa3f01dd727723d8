package luaapi

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client"
)

// newClientTable builds robot.client for one Lua state: one function per
// Client method. (The bindings land with the Client; until then the table
// is empty.)
func newClientTable(L *lua.LState, c *client.Client) *lua.LTable {
	_ = c
	return L.NewTable()
}
