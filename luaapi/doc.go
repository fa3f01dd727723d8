// Package luaapi is the Lua runtime of LuaRoBot: it loads the bot scripts,
// keeps a pool of sandboxed Lua states that run them, reloads them when they
// change on disk, and exposes WeRoBot's vocabulary to them as the `robot`
// global. Its Runtime implements the host's Dispatcher.
package luaapi
