package luaapi

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/store"
)

// Sandbox is a Lua state under the bot scripts' sandbox for Lua code that
// is not a bot script: the test files of `luarobot test`. It opens the
// same libraries, cut and frozen the same way (no io, no os beyond time,
// date, clock and difftime, no load or dofile), and its globals are frozen
// once the file's top level has run. require finds the modules of the
// scripts folder's lib/, so a test can call a module's functions directly.
//
// Its robot table holds the utilities only — robot.re, robot.json,
// robot.log, robot.url, robot.base64, robot.crypto, robot.uuid: code in a
// sandbox reaches a bot through what its host adds (the test API), never
// by registering handlers or calling WeChat itself.
//
// A Sandbox is used by one goroutine at a time.
type Sandbox struct {
	st *state
}

// SandboxOptions configures NewSandbox.
type SandboxOptions struct {
	// Dir is the scripts folder whose lib/ modules require loads.
	Dir string
	// Logger receives print and robot.log (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock of os.time and os.date (default time.Now).
	Now func() time.Time
	// Values is the store StoreTable's functions read and write.
	Values store.Values
}

// NewSandbox makes a sandboxed state. The modules of Dir are compiled now;
// one that does not compile is an *Error naming it.
func NewSandbox(opts SandboxOptions) (*Sandbox, error) {
	src, err := readSources(opts.Dir)
	if err != nil {
		return nil, err
	}
	ver, err := compileSources(&sources{dir: src.dir, root: src.root, libs: src.libs, refused: src.refused})
	if err != nil {
		return nil, err
	}
	rt := &Runtime{opts: Options{Dir: opts.Dir, Logger: opts.Logger, Now: opts.Now, Values: opts.Values}, log: opts.Logger}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    callStackSize,
		RegistrySize:     registrySize,
		RegistryMaxSize:  registryMaxSize,
		RegistryGrowStep: 256,
	})
	st := &state{rt: rt, ver: ver, L: L, byType: map[string][]*handler{}, modules: map[string]lua.LValue{}}
	st.openSandbox()
	L.G.Global.RawSetString("robot", st.newUtilityRobot())
	st.freezeLibraries()
	return &Sandbox{st: st}, nil
}

// State is the Lua state, for the host to add its globals (before Run) and
// to build its values.
func (s *Sandbox) State() *lua.LState { return s.st.L }

// Run compiles src under the chunk name name (the file name errors show)
// and runs its top level under ctx, then freezes the globals: functions
// the file defined cannot change the state the next call sees through a
// global. The error names the file and line.
func (s *Sandbox) Run(ctx context.Context, name string, src []byte) error {
	c, err := compileChunk(source{name: name, data: src})
	if err != nil {
		return err
	}
	st := s.st
	fn := st.L.NewFunctionFromProto(c.proto)
	if _, err := s.Call(ctx, fn); err != nil {
		return err
	}
	st.loaded = true
	st.freezeGlobals(assignTestGlobal)
	return nil
}

// Call calls fn with args under ctx and returns its results; a Lua error
// comes back as an *Error naming the file and line. Called from a Go
// function that Lua called (a nested call), it runs under the outer
// call's context.
func (s *Sandbox) Call(ctx context.Context, fn *lua.LFunction, args ...lua.LValue) ([]lua.LValue, error) {
	L := s.st.L
	if L.Context() == nil {
		L.SetContext(ctx)
		defer L.RemoveContext()
	} else {
		ctx = L.Context()
	}
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	if err := L.PCall(len(args), lua.MultRet, nil); err != nil {
		L.SetTop(top)
		return nil, callError(ctx, err, fn)
	}
	ret := make([]lua.LValue, 0, L.GetTop()-top)
	for i := top + 1; i <= L.GetTop(); i++ {
		ret = append(ret, L.Get(i))
	}
	L.SetTop(top)
	return ret, nil
}

// ReadOnly returns a read-only view of t, as the robot table is: the
// values the host hands to Lua that Lua must not change.
func (s *Sandbox) ReadOnly(t *lua.LTable, name string) *lua.LTable { return s.st.readOnly(t, name) }

// Regexp returns the Go regexp of a robot.re value.
func (s *Sandbox) Regexp(v lua.LValue) (*regexp.Regexp, bool) {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return nil, false
	}
	rx, ok := ud.Value.(*regex)
	if !ok {
		return nil, false
	}
	return rx.re, true
}

// StoreTable returns a table with robot.store's functions (get, set,
// delete, incr) on SandboxOptions.Values, reading and writing it exactly
// as robot.store does for the bot's scripts.
func (s *Sandbox) StoreTable() *lua.LTable {
	return s.st.bindTable(&storeAPI)
}

// Session decodes a stored session as the handlers get it: a table of the
// user's values, without the record of a dialog in progress. An empty or
// missing session is an empty table.
func (s *Sandbox) Session(stored []byte) (*lua.LTable, error) {
	user, _ := splitSession(stored)
	if len(user) == 0 {
		return s.st.L.CreateTable(0, 0), nil
	}
	v, err := DecodeJSON(s.st.L, user, true)
	if err != nil {
		return nil, fmt.Errorf("the stored session is not JSON: %w", err)
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("the stored session is a %s, not a table", v.Type())
	}
	return t, nil
}

// Close releases the state.
func (s *Sandbox) Close() { s.st.L.Close() }

func assignTestGlobal(L *lua.LState) int {
	name := lua.LVAsString(L.Get(2))
	L.RaiseError("cannot set global %q: globals are shared by every test of the file; use a local", name)
	return 0
}
