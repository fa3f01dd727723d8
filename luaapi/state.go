package luaapi

import (
	"context"
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// state is one Lua state of the pool with every script of one version
// loaded into it. A state is used by one goroutine at a time; the pool
// hands it out. Handlers are Lua closures of this state, so each state has
// its own handler table.
type state struct {
	rt  *Runtime
	ver *version
	L   *lua.LState

	// Registered by the scripts while they load.
	byType    map[string][]*handler // message type → handlers, in registration order
	all       []*handler            // robot.handler: tried after the typed ones
	errorPage *lua.LFunction
	onLoad    []*lua.LFunction
	report    []registration // everything registered, for Check

	modules map[string]lua.LValue // require cache; nil value while loading
	loading string                // the script whose top level is running
	loaded  bool                  // the scripts have run: registration is closed
	async   []asyncJob            // robot.async work queued by the current call
	broken  bool                  // a Go panic left it in an unknown state, or the memory watchdog stopped it: never reuse
	jobs    chan *task            // the state's goroutine takes its calls here (nil: no goroutine)
	task    *task                 // the task being run, if any
	watched *watchedCall          // the running call as the memory watchdog sees it, if any

	// Shared pieces of the read-only views.
	next, roNewIndex, roLen, roPairs, roNext, msgNewIndex *lua.LFunction
	globals                                               *lua.LTable

	replyMeta *lua.LTable // metatable of robot.reply values
	reMeta    *lua.LTable // metatable of robot.re values

	dialog dialogState // robot.dialog (dialog.go)
}

// registration is one entry of a state's report: what was registered, and
// by the top level of which script.
type registration struct {
	script string
	HandlerInfo
}

// asyncJob is a function queued by robot.async.
type asyncJob struct {
	fn    *lua.LFunction
	where string
}

// State sizes: a recursion deeper than callStackSize frames is a bug, and
// the registry (gopher-lua's value stack) may grow to registryMaxSize slots.
const (
	callStackSize   = 200
	registrySize    = 1024 * 2
	registryMaxSize = 1024 * 256
)

// newState makes a state of ver: the sandboxed libraries, the robot table,
// then every script's top level in file-name order, then the globals are
// frozen. ctx bounds the top-level code (a script that loops at load time
// is stopped). The error names the script and line that failed.
func (rt *Runtime) newState(ctx context.Context, ver *version) (st *state, err error) {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    callStackSize,
		RegistrySize:     registrySize,
		RegistryMaxSize:  registryMaxSize,
		RegistryGrowStep: 256,
	})
	st = &state{
		rt:      rt,
		ver:     ver,
		L:       L,
		byType:  make(map[string][]*handler),
		modules: make(map[string]lua.LValue),
	}
	defer func() {
		// Our own Go code runs outside Lua's protection here; a panic in
		// it must not take the process down with it.
		if r := recover(); r != nil {
			err = fmt.Errorf("luaapi: loading the scripts: %v", r)
		}
		if err != nil {
			L.Close()
			st = nil
		}
	}()
	st.openSandbox()
	L.G.Global.RawSetString("robot", st.newRobot())
	st.freezeLibraries()

	ctx, watched := rt.mem.watch(ctx, nil)
	defer watched.unwatch()
	L.SetContext(ctx)
	defer L.RemoveContext()
	for _, c := range ver.scripts {
		st.loading = c.name
		ver.loading.Store(&c.name)
		fn := L.NewFunctionFromProto(c.proto)
		L.Push(fn)
		if err := L.PCall(0, 0, nil); err != nil {
			e := callError(ctx, err, fn)
			if e.File == "" || e.File == fn.Proto.SourceName && e.Line == 0 {
				e.File, e.Line = c.name, 0
			}
			return nil, e
		}
	}
	st.loading = ""
	st.loaded = true
	st.freezeGlobals(assignGlobal)
	return st, nil
}

// close releases the Lua state and ends its goroutine. It is called by the
// state's own goroutine, or for an idle state, whose goroutine is waiting
// for work and no longer touches it: never for a state someone else holds.
func (st *state) close() {
	st.L.Close()
	if st.jobs != nil {
		close(st.jobs)
	}
}

// call calls fn with args in protected mode under ctx and returns its first
// result.
func (st *state) call(ctx context.Context, fn *lua.LFunction, args ...lua.LValue) (lua.LValue, error) {
	L := st.L
	if st.task != nil {
		st.task.calling.Store(fn.Proto)
	}
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := L.PCall(len(args), 1, nil); err != nil {
		return lua.LNil, callError(ctx, err, fn)
	}
	ret := L.Get(-1)
	L.Pop(1)
	return ret, nil
}

// goCall records that the running call entered name, a Go function that
// may block (robot.send, robot.store, robot.client), with its caller's
// position: the error of a call abandoned at its deadline names it. The
// caller calls done when the function returns.
func (st *state) goCall(L *lua.LState, name string) (done func()) {
	t := st.task
	if t == nil {
		return func() {}
	}
	file, line := callerPos(L)
	where := name + " (" + posString(file, line) + ")"
	t.goCall.Store(&where)
	return func() { t.goCall.Store(nil) }
}

// wait runs fn, Go work of the running call that waits on the network or
// the clock (robot.client, robot.send, robot.store, robot.http,
// robot.sleep), and records it as goCall does. fn gets the call's context
// and must return when it ends.
//
// While fn waits, the state gives its run token back: it does not count
// against pool_size (it still counts against max_states), so handlers
// waiting on a hanging upstream leave the CPU to the others. It takes a
// token back before it returns to Lua; when the call's deadline passes
// first, wait returns the error that says so, and the caller raises it
// (the call is over: gopher-lua stops it at its next instruction anyway).
//
// The top level of the scripts, while a state is made, keeps its token.
func (st *state) wait(L *lua.LState, name string, fn func(ctx context.Context)) error {
	done := st.goCall(L, name)
	defer done()
	ctx := st.ctx()
	t := st.task
	if t == nil {
		fn(ctx)
		return nil
	}
	t.lease.yield(st.rt.pool)
	w := st.watched
	w.setWaiting(true)
	resumed := false
	defer func() {
		if !resumed { // fn panicked: Lua may catch it, and must not run without a token
			t.lease.resume(ctx, st.rt.pool)
			w.setWaiting(false)
		}
	}()
	fn(ctx)
	ended := ctx.Err() != nil // during fn: fn's own error says so to Lua, but the call is over
	err := t.lease.resume(ctx, st.rt.pool)
	resumed = true
	w.setWaiting(false)
	switch {
	case ended:
		return stopped(ctx, "in "+name)
	case err != nil && ctx.Err() != nil:
		return stopped(ctx, "waiting for a free Lua state to return to from "+name)
	}
	return err // nil, or the caller gave up on the call
}

// waitOrRaise is wait for the bindings: the error is raised in Lua.
func (st *state) waitOrRaise(L *lua.LState, name string, fn func(ctx context.Context)) {
	if err := st.wait(L, name, fn); err != nil {
		L.RaiseError("%s", err.Error())
	}
}

// where returns "file:line" of the function defined by fn.
func where(fn *lua.LFunction) string {
	if fn == nil || fn.Proto == nil {
		return "?"
	}
	return fmt.Sprintf("%s:%d", fn.Proto.SourceName, fn.Proto.LineDefined)
}

// callerPos returns the script file and line that called the running Go
// function.
func callerPos(L *lua.LState) (string, int) {
	for level := 1; level < 8; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.Source != "" && dbg.CurrentLine > 0 {
			return dbg.Source, dbg.CurrentLine
		}
	}
	return "", 0
}
