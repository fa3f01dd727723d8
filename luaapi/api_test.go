package luaapi

import "github.com/luarobot/luarobot/host"

// The runtime is what the host's pipeline calls.
var (
	_ host.Dispatcher = (*Runtime)(nil)
	_ host.ErrorPager = (*Runtime)(nil)
)
