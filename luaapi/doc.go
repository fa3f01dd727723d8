// Package luaapi is the Lua runtime of LuaRoBot: it loads the bot scripts,
// keeps a pool of sandboxed Lua states that run them, reloads them when they
// change on disk, and exposes WeRoBot's vocabulary to them as the `robot`
// global. Its Runtime implements the host's Dispatcher and ErrorPager.
//
// The most common use:
//
//	rt, err := luaapi.New(luaapi.Options{Dir: "scripts", Logger: logger})
//	if err != nil {
//		return err // "hello.lua:12: ..." when a script does not load
//	}
//	defer rt.Close()
//	go rt.Watch(ctx) // hot reload
//	reply, session, err := rt.Dispatch(ctx, msg, storedSession)
//
// The caller stores the returned session when it is not nil (an empty,
// non-nil slice means the session became empty: delete it), renders the
// reply (nil: answer "success"), and logs err, which names the script file
// and line (an *Error; errors.Is(err, ErrTimeout) for a handler stopped at
// its deadline). Dispatch stops the handlers when ctx ends: a host that
// answers WeChat early and lets the handlers finish passes a context that
// outlives its own reply deadline.
//
// # Scripts
//
// Every *.lua file directly in the folder is a script; they run in file-name
// order. require "name" loads lib/name.lua ("a.b" is lib/a/b.lua), once per
// state; nothing else can be loaded. A script registers handlers
// (robot.text(fn), robot.filter(rule, ..., fn), ...) while it loads; see
// robot.go for the whole robot table and the design document for its
// contract.
//
// # Versions and the pool
//
// A load compiles every file once into a version (gopher-lua function
// protos, shared read-only). A pooled state is made from one version: the
// sandboxed libraries, the robot table, then each script's top level; its
// globals are then frozen, so a request cannot leave state behind for the
// next one. At most Options.PoolSize states run Lua at once, and at most
// Options.MaxStates are alive, those waiting in Go for the network
// included: a binding that waits (robot.client, robot.send, robot.store)
// gives its place among the running ones back meanwhile (state.wait). Each
// state has its own goroutine, which runs the calls given to the state
// (see Runtime.run): the caller waits for the answer or the deadline,
// whichever comes first, and a state that does not come back in time is
// abandoned and replaced, never reused. At most PoolSize abandoned states
// that still run are replaced; beyond that, one keeps its place until it
// returns (see pool).
//
// # Memory
//
// Options.MemoryLimit bounds the Go heap while Lua runs: past it, the calls
// running Lua are stopped through their context and their states
// discarded (see memoryWatch, which says how precise that is).
//
// Reload (and Watch, on every change) makes a new version and one state of
// it; only if every file compiles and every top level runs does the new
// version replace the current one, atomically. Calls in flight finish on
// the version they started with; idle states of the old version are
// closed, busy ones when they come back.
//
// # Dialogs
//
// robot.dialog (dialog.go) keeps nothing in memory between two messages:
// the record of a user's dialog in progress rides inside the session
// bytes Dispatch receives and returns, under a member scripts cannot
// write, and each message replays the dialog's function against it. A
// user's message goes to their dialog before any handler. With
// Options.DialogMemory (a host that stores no sessions) the records stay
// in the Runtime instead; Options.Now is the clock of their timeouts.
//
// # Sandbox
//
// A state opens base, table, string and math, and a reduced os (time, date,
// clock, difftime). Functions that load code or files, reach the
// environment of other functions or bypass metatables are removed or
// replaced; string.rep, string.format, table.concat and the pattern
// functions are bounded, and the pattern functions can be stopped by the
// deadline (internal/luapattern). sandbox.go lists every change. Every walk
// of a Lua table in Go (JSON, conversion to Go, filter rules, query values)
// is bounded in depth and in size, so that a table that contains itself, or
// one that holds a subtable many times, is an error rather than a crash or
// minutes of work.
//
// luaapi lowers gopher-lua's lua.MaxArrayIndex (see maxArrayIndex), a
// package variable: the setting applies to the whole process.
//
// What is not bounded: memory in general (gopher-lua has no allocation
// limit that does not exit the process), and the `..` operator, a VM
// instruction: a script that doubles a string in a loop can still use a
// lot of memory before its deadline.
package luaapi
