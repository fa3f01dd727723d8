package luaapi

import (
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// The sandbox: what a script can reach. gopher-lua's base library is not a
// sandbox by itself, so a state opens only base, table, string and math,
// then removes or replaces every function that reads files, loads code from
// strings, reaches around metatables or writes to stdout:
//
//   - removed: dofile, loadfile, load, loadstring, module, collectgarbage,
//     getfenv, setfenv (they change the environment a function shares with
//     every later request), newproxy, _printregs, and the package library;
//   - replaced: require (scripts/lib only, see requireModule), print (the
//     log), getmetatable (honours __metatable, so the metatables that make
//     tables read-only cannot be taken apart), rawset, table.insert,
//     table.remove and table.sort (refuse read-only tables), pairs and
//     ipairs (see through read-only proxies);
//   - capped: string.rep, string.format (Lua 5.1's two-digit widths, and
//     a bound on the result) and table.concat; the pattern functions
//     (find, match, gmatch, gsub) are replaced by versions that the call's
//     deadline can stop, with a bound on their subject and on gsub's
//     result (patterns.go);
//   - setmetatable takes tables only, as in Lua 5.1: gopher-lua's would set
//     the metatable of a whole type (every number, every function), one per
//     state and so shared by every later request the state serves;
//   - os is a new table with time, date, clock and difftime only;
//   - math.randomseed does nothing (Go's generator is one per process).
//
// Everything a script shares with the later requests of its state is
// read-only by every path: the library tables and the robot table are
// read-only views (readOnly) whose backing tables no Lua code can reach —
// every table inside a view is a view too, the string metatable's __index
// is the string view, getmetatable refuses the views' metatables, pairs
// and next never hand out a backing table, and the registry holds the
// views. The globals are frozen once the scripts have run
// (freezeGlobals). What stays writable is the scripts' own: their
// top-level locals and tables, per-state caches by design.
//
// What the sandbox cannot bound: memory in general, and the `..` operator
// (a VM instruction, not a function: s = s .. s doubles a string at every
// step). See also MaxArrayIndex below.
//
// gopher-lua never loads bytecode (it has no undump), and with load and
// loadstring gone no source text but the scripts' own is ever compiled.

// Limits that keep one script call from allocating without bound.
const (
	// maxRepBytes bounds the result of string.rep.
	maxRepBytes = 1 << 20
	// maxPatternInput bounds the subject of string.find, match, gmatch and
	// gsub: Lua patterns backtrack, and a large subject turns a careless
	// pattern into minutes of CPU.
	maxPatternInput = 256 << 10
	// maxStringResult bounds the strings that string.format, table.concat
	// and string.gsub build in one call.
	maxStringResult = 16 << 20
)

// maxArrayIndex is what luaapi sets gopher-lua's lua.MaxArrayIndex to.
//
// gopher-lua keeps the integer keys of a table below MaxArrayIndex in the
// table's array part, and fills the gap up to a new key with nils: with
// its default (2^26), `t[20240101] = 1` (a date as a key) allocates 320
// MiB and `t[67108863] = true` a GiB, in one VM instruction that no
// deadline interrupts. Below 2^20, such a key costs at most 16 MiB; keys
// above it go to the hash part, as any other key.
//
// The cost: a list holds at most maxArrayIndex-1 elements. gopher-lua
// keeps the elements beyond MaxArrayIndex in the hash part when they are
// assigned (so # and ipairs, which only see the array part, stop before
// them) and in the array part when table.insert appends them (where t[i]
// does not look): either way the list is broken, and DecodeJSON refuses
// longer arrays. A bot has no use for million-element lists; a date or an
// id as a key is common.
//
// lua.MaxArrayIndex is a variable of the gopher-lua package, so this
// setting is global to the process: it applies to every gopher-lua state
// of a program that imports luaapi, not only to luaapi's own. Nothing else
// in this project uses gopher-lua.
const maxArrayIndex = 1 << 20

func init() {
	lua.MaxArrayIndex = maxArrayIndex
}

// removedGlobals are deleted from the base library.
var removedGlobals = []string{
	"dofile", "loadfile", "load", "loadstring", "module", "collectgarbage",
	"getfenv", "setfenv", "newproxy", "_printregs",
}

// openSandbox opens the safe libraries in L and installs the replacements.
func (st *state) openSandbox() {
	L := st.L
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	G := L.G.Global
	for _, name := range removedGlobals {
		G.RawSetString(name, lua.LNil)
	}

	// os: keep the clock, drop the rest (execute, exit, getenv, remove,
	// rename, setenv, setlocale, tmpname).
	full := G.RawGetString("os").(*lua.LTable)
	safeOS := L.CreateTable(0, 4)
	for _, name := range []string{"clock", "difftime"} {
		safeOS.RawSetString(name, full.RawGetString(name))
	}
	// os.time and os.date read the runtime's clock: under luarobot test,
	// the fake clock that t.clock:advance moves.
	safeOS.RawSetString("time", L.NewFunction(st.osTime(full.RawGetString("time").(*lua.LFunction).GFunction)))
	safeOS.RawSetString("date", L.NewFunction(st.osDate(full.RawGetString("date").(*lua.LFunction).GFunction)))
	G.RawSetString("os", safeOS)
	// The registry's list of loaded modules still holds the full os table;
	// nothing in the sandbox can read the registry, but leave nothing there.
	if loaded, ok := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable); ok {
		loaded.RawSetString("os", safeOS)
	}

	st.next = G.RawGetString("next").(*lua.LFunction)
	st.roNewIndex = L.NewFunction(st.readOnlyNewIndex)
	st.msgNewIndex = L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("message is read-only (cannot set %s): to remember something about this user, use session", lua.LVAsString(L.Get(2)))
		return 0
	})
	st.roLen = L.NewFunction(readOnlyLen)
	st.roPairs = L.NewFunction(st.readOnlyPairs)
	st.roNext = L.NewFunction(readOnlyNext)

	G.RawSetString("require", L.NewFunction(st.requireModule))
	G.RawSetString("print", L.NewFunction(st.print))
	G.RawSetString("getmetatable", L.NewFunction(getMetatable))
	G.RawSetString("setmetatable", L.NewFunction(setMetatable))
	G.RawSetString("rawset", L.NewFunction(st.rawSet))
	G.RawSetString("pairs", L.NewFunction(st.pairs))
	G.RawSetString("ipairs", L.NewClosure(st.ipairs, L.NewFunction(ipairsIter)))

	tbl := G.RawGetString("table").(*lua.LTable)
	for _, name := range []string{"insert", "remove", "sort"} {
		tbl.RawSetString(name, st.refuseReadOnly("table."+name, tbl.RawGetString(name).(*lua.LFunction)))
	}
	tbl.RawSetString("concat", L.NewFunction(tableConcat))

	str := G.RawGetString("string").(*lua.LTable)
	str.RawSetString("dump", lua.LNil)
	str.RawSetString("rep", L.NewFunction(strRep))
	str.RawSetString("format", L.NewFunction(strFormat(str.RawGetString("format").(*lua.LFunction).GFunction)))
	// The pattern functions, stoppable and bounded (patterns.go).
	str.RawSetString("find", L.NewFunction(st.strFind))
	str.RawSetString("match", L.NewFunction(st.strMatch))
	gmatch := L.NewFunction(st.strGmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)
	str.RawSetString("gsub", L.NewFunction(st.strGsub))
	// gopher-lua's string library holds itself as string.__index (it
	// doubles as the string metatable): ("").__index would hand out the
	// library table. Lua 5.1's has no such field.
	str.RawSetString("__index", lua.LNil)

	// math.random is Go's generator, one for the whole process: a
	// request that seeded it would make every later request's numbers
	// predictable, in every state. Go ignores its Seed since 1.24; this
	// makes that hold whatever GODEBUG says.
	mathLib := G.RawGetString("math").(*lua.LTable)
	mathLib.RawSetString("randomseed", L.NewFunction(func(*lua.LState) int { return 0 }))
}

// freezeLibraries makes the standard library tables read-only, and the
// string metatable's way to them: a handler that replaced string.format,
// or ("").upper, would change it for every later request of the state.
// The registry's list of loaded modules gets the read-only views too, so
// that no path to a writable library table is left in the state, even one
// scripts cannot take today.
func (st *state) freezeLibraries() {
	L := st.L
	G := L.G.Global
	loaded, _ := L.GetField(L.Get(lua.RegistryIndex), "_LOADED").(*lua.LTable)
	for _, name := range []string{"string", "table", "math", "os"} {
		t, ok := G.RawGetString(name).(*lua.LTable)
		if !ok {
			continue
		}
		view := st.readOnly(t, name)
		G.RawSetString(name, view)
		if loaded != nil {
			loaded.RawSetString(name, view)
		}
	}
	// Methods on strings ("x"):upper() look in the string metatable: its
	// __index is the read-only view, and the metatable itself cannot be
	// had (getmetatable("") is false) nor assigned through.
	smt := L.CreateTable(0, 3)
	smt.RawSetString("__index", G.RawGetString("string"))
	smt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cannot set %s on a string: strings have no fields, and the string library is read-only",
			lua.LVAsString(L.Get(2)))
		return 0
	}))
	smt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(lua.LString(""), smt)
}

// freezeGlobals makes the global table read-only once the scripts have run.
// A state serves many requests one after the other; a global written by one
// handler would be seen by whichever request the state serves next, and not
// by the requests of the other states — a bug that shows only under load.
// The globals move to a backing table; the global table stays (every
// function's environment points to it) but is emptied and given a
// metatable that reads through to the backing table and refuses writes.
func (st *state) freezeGlobals(assign lua.LGFunction) {
	L := st.L
	G := L.G.Global
	backing := L.CreateTable(0, 64)
	var keys []lua.LValue
	G.ForEach(func(k, v lua.LValue) {
		backing.RawSet(k, v)
		keys = append(keys, k)
	})
	for _, k := range keys {
		G.RawSet(k, lua.LNil)
	}
	mt := L.CreateTable(0, 6)
	mt.RawSetString("__index", backing)
	mt.RawSetString("__newindex", L.NewFunction(assign))
	mt.RawSetString("__metatable", lua.LFalse)
	mt.RawSetString("__pairs", st.roPairs)
	mt.RawSetString("__len", st.roLen)
	mt.RawSetString("__name", lua.LString("_G"))
	L.SetMetatable(G, mt)
	st.globals = G
}

func assignGlobal(L *lua.LState) int {
	name := L.Get(2)
	L.RaiseError("cannot set global %q: globals are shared by every request this Lua state serves; "+
		"use a local for this request, session.%v for this user, or robot.store for the whole bot",
		lua.LVAsString(name), lua.LVAsString(name))
	return 0
}

// readOnly returns a read-only view of t: reads go through, writes raise an
// error naming the table. pairs, ipairs and # see t's contents.
//
// A table inside t (robot.config's lists, a sub-table added to robot
// later) is reached through the view, so it is made read-only too, all
// the way down: name.key is its name in errors. t itself must not be
// handed out after this; only the view.
func (st *state) readOnly(t *lua.LTable, name string) *lua.LTable {
	return st.readOnlyTree(t, name, map[*lua.LTable]*lua.LTable{})
}

// readOnlyTree is readOnly; views maps the tables already made read-only
// by this call to their views, so a table found twice (or inside itself)
// gets one view.
func (st *state) readOnlyTree(t *lua.LTable, name string, views map[*lua.LTable]*lua.LTable) *lua.LTable {
	if v, ok := views[t]; ok {
		return v
	}
	L := st.L
	proxy := L.CreateTable(0, 0)
	views[t] = proxy
	type entry struct{ k, v lua.LValue }
	var inner []entry
	t.ForEach(func(k, v lua.LValue) {
		kt, kok := k.(*lua.LTable)
		vt, vok := v.(*lua.LTable)
		if kok && !st.isReadOnly(kt) || vok && !st.isReadOnly(vt) {
			inner = append(inner, entry{k, v})
		}
	})
	for _, e := range inner {
		k, v := e.k, e.v
		if kt, ok := k.(*lua.LTable); ok && !st.isReadOnly(kt) {
			t.RawSet(k, lua.LNil)
			k = st.readOnlyTree(kt, name+".(key)", views)
		}
		if vt, ok := v.(*lua.LTable); ok && !st.isReadOnly(vt) {
			v = st.readOnlyTree(vt, name+"."+lua.LVAsString(k), views)
		}
		t.RawSet(k, v)
	}
	mt := L.CreateTable(0, 7)
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", st.roNewIndex)
	mt.RawSetString("__len", st.roLen)
	mt.RawSetString("__pairs", st.roPairs)
	mt.RawSetString("__metatable", lua.LFalse)
	mt.RawSetString("__name", lua.LString(name))
	mt.RawSetString(viewMark, lua.LTrue)
	proxy.Metatable = mt
	return proxy
}

// viewMark marks the metatable of a read-only view, for plainTable. Scripts
// never see such a metatable (getmetatable refuses it); one that puts the
// mark in a metatable of its own gets its table written as what it shows,
// which is harmless.
const viewMark = "__view"

// isReadOnly reports whether t is a read-only view or the frozen globals.
func (st *state) isReadOnly(t *lua.LTable) bool {
	if t == st.globals {
		return true
	}
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return false
	}
	ni := mt.RawGetString("__newindex")
	return ni == st.roNewIndex || ni == st.msgNewIndex
}

// readOnlyMessage is readOnly for the message of a call, with a metatable
// of five entries: one is made per message, and every entry costs
// allocations.
func (st *state) readOnlyMessage(t *lua.LTable) *lua.LTable {
	L := st.L
	mt := L.CreateTable(0, 5)
	mt.RawSetString("__index", t)
	mt.RawSetString("__newindex", st.msgNewIndex)
	mt.RawSetString("__pairs", st.roPairs)
	mt.RawSetString("__metatable", lua.LFalse)
	mt.RawSetString(viewMark, lua.LTrue)
	proxy := L.CreateTable(0, 0)
	proxy.Metatable = mt
	return proxy
}

// backingOf returns what a read-only view shows.
func backingOf(t *lua.LTable) (*lua.LTable, bool) {
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return nil, false
	}
	b, ok := mt.RawGetString("__index").(*lua.LTable)
	return b, ok
}

func tableName(t *lua.LTable) string {
	if mt, ok := t.Metatable.(*lua.LTable); ok {
		if n, ok := mt.RawGetString("__name").(lua.LString); ok {
			return string(n)
		}
	}
	return "table"
}

func (st *state) readOnlyNewIndex(L *lua.LState) int {
	t := L.CheckTable(1)
	name := tableName(t)
	hint := ""
	switch {
	case strings.HasPrefix(name, "robot"):
		hint = ": the robot API cannot be changed by scripts"
	case name == "string" || name == "table" || name == "math" || name == "os":
		hint = ": the standard library is shared by every request this Lua state serves; keep your own functions in locals"
	}
	L.RaiseError("%s is read-only (cannot set %s)%s", name, lua.LVAsString(L.Get(2)), hint)
	return 0
}

func readOnlyLen(L *lua.LState) int {
	if b, ok := backingOf(L.CheckTable(1)); ok {
		L.Push(lua.LNumber(b.Len()))
		return 1
	}
	L.Push(lua.LNumber(0))
	return 1
}

// readOnlyPairs is __pairs of a read-only view. It iterates with
// readOnlyNext over the view itself: handing out the backing table as
// pairs' state would hand out a writable table behind the view.
func (st *state) readOnlyPairs(L *lua.LState) int {
	L.Push(st.roNext)
	L.Push(L.CheckTable(1))
	L.Push(lua.LNil)
	return 3
}

// readOnlyNext is next() over what a read-only view shows.
func readOnlyNext(L *lua.LState) int {
	t := L.CheckTable(1)
	if b, ok := backingOf(t); ok {
		t = b
	}
	k, v := t.Next(L.Get(2))
	if k == lua.LNil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(k)
	L.Push(v)
	return 2
}

// pairs honours __pairs (as Lua 5.2 does), so that pairs(message) and
// pairs(robot.config) list their fields.
func (st *state) pairs(L *lua.LState) int {
	t := L.CheckTable(1)
	if mt, ok := t.Metatable.(*lua.LTable); ok {
		if fn, ok := mt.RawGetString("__pairs").(*lua.LFunction); ok {
			L.Push(fn)
			L.Push(t)
			L.Call(1, 3)
			return 3
		}
	}
	L.Push(st.next)
	L.Push(t)
	L.Push(lua.LNil)
	return 3
}

// ipairs reads through __index (as Lua 5.3 does), so that it walks the
// arrays of read-only views.
func (st *state) ipairs(L *lua.LState) int {
	t := L.CheckTable(1)
	L.Push(L.Get(lua.UpvalueIndex(1)))
	L.Push(t)
	L.Push(lua.LNumber(0))
	return 3
}

func ipairsIter(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.CheckInt(2) + 1
	var v lua.LValue
	if t.Metatable == lua.LNil {
		v = t.RawGetInt(i)
	} else {
		v = L.GetTable(t, lua.LNumber(i))
	}
	if v == lua.LNil {
		return 0
	}
	L.Push(lua.LNumber(i))
	L.Push(v)
	return 2
}

// getMetatable honours __metatable: the metatables of read-only tables
// answer false instead of handing out the table that enforces them. The
// only metatable of a type (the string metatable, which every state
// shares between its requests) is protected the same way, and
// setMetatable never makes another.
func getMetatable(L *lua.LState) int {
	mt := L.GetMetatable(L.CheckAny(1))
	if t, ok := mt.(*lua.LTable); ok {
		if protected := t.RawGetString("__metatable"); protected != lua.LNil {
			L.Push(protected)
			return 1
		}
	}
	L.Push(mt)
	return 1
}

// setMetatable is Lua 5.1's setmetatable(table, metatable): argument 1
// must be a table. gopher-lua's own accepts any value and then sets the
// metatable of its whole type — setmetatable(0, {__index = ...}) would
// give every number of the state that metatable, and the next request the
// state serves (another user's) would see it. Userdata (robot.reply
// values, robot.re values) keep the metatables the host gave them.
func setMetatable(L *lua.LState) int {
	t := L.CheckTable(1)
	mt := L.Get(2)
	if _, ok := mt.(*lua.LTable); !ok && mt != lua.LNil {
		L.ArgError(2, "nil or table expected")
	}
	if cur, ok := t.Metatable.(*lua.LTable); ok && cur.RawGetString("__metatable") != lua.LNil {
		L.RaiseError("cannot change a protected metatable")
	}
	t.Metatable = mt
	L.SetTop(1)
	return 1
}

func (st *state) rawSet(L *lua.LState) int {
	t := L.CheckTable(1)
	if st.isReadOnly(t) {
		L.RaiseError("rawset: %s is read-only", tableName(t))
	}
	L.CheckAny(2)
	L.CheckAny(3)
	t.RawSet(L.Get(2), L.Get(3))
	L.SetTop(1)
	return 1
}

// refuseReadOnly wraps a table function that writes with raw access, which
// would bypass a read-only view's __newindex.
func (st *state) refuseReadOnly(name string, fn *lua.LFunction) *lua.LFunction {
	orig := fn.GFunction
	return st.L.NewFunction(func(L *lua.LState) int {
		if t, ok := L.Get(1).(*lua.LTable); ok && st.isReadOnly(t) {
			L.RaiseError("%s: %s is read-only", name, tableName(t))
		}
		return orig(L)
	})
}

// strRep is string.rep with a bound on the result.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if n > maxRepBytes/len(s) {
		L.RaiseError("string.rep: the result would be %d bytes; the limit is %d", int64(len(s))*int64(n), maxRepBytes)
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// strFormat wraps gopher-lua's string.format (Go's fmt.Sprintf on the Lua
// values) with Lua 5.1's bounds: at most five flags and two digits of
// width and of precision per directive, and a result of at most
// maxStringResult bytes, estimated before anything is formatted. A width
// of 999999 repeated in the format would otherwise make megabytes per
// directive. Go's own additions that take a width from elsewhere ('*',
// argument indexes "[n]") are refused: they are not Lua.
//
// Arguments that are neither strings nor numbers are passed as their
// tostring text (what %s printed for them anyway): fmt would print a
// table's Go structure, all of it, for a verb such as %d.
func strFormat(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		f := L.CheckString(1)
		top := L.GetTop()
		size := len(f)
		arg := 2
		for i := 0; i < len(f); i++ {
			if f[i] != '%' {
				continue
			}
			i++
			if i < len(f) && f[i] == '%' {
				continue
			}
			start := i - 1
			flags := 0
			for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
				i++
				flags++
			}
			if flags > 5 {
				L.RaiseError("string.format: invalid format %q (repeated flags)", formatDirective(f, start))
			}
			width, prec := 0, 0
			var ok bool
			if i, width, ok = twoDigits(f, i); !ok {
				L.RaiseError("string.format: invalid format %q (width or precision too long: at most 99)", formatDirective(f, start))
			}
			if i < len(f) && f[i] == '.' {
				if i, prec, ok = twoDigits(f, i+1); !ok {
					L.RaiseError("string.format: invalid format %q (width or precision too long: at most 99)", formatDirective(f, start))
				}
			}
			if i >= len(f) {
				break
			}
			verb := f[i]
			if verb == '*' || verb == '[' {
				L.RaiseError("string.format: invalid format %q (Lua formats have no '*' or '[n]')", formatDirective(f, start))
			}
			size += width + prec + 16 // 16: fmt's "%!d(MISSING)" and the like
			if arg > top {
				continue
			}
			switch v := L.Get(arg).(type) {
			case lua.LString:
				n := len(v)
				if verb == 'q' || verb == 'x' || verb == 'X' {
					n *= 4 // escapes, hex digits and the spaces of "% x"
				}
				size += n
			case lua.LNumber:
				size += 330 // "%.99f" of 1e308 is 409 bytes: 309 digits, the point, the precision
			default:
				s := lua.LString(v.String())
				L.Replace(arg, s)
				size += len(s)
			}
			arg++
			if size > maxStringResult {
				break
			}
		}
		if size > maxStringResult {
			L.RaiseError("string.format: the result would be over %d bytes; the limit is %d", size, maxStringResult)
		}
		return orig(L)
	}
}

// twoDigits reads at most two decimal digits of f from i; ok is false when
// a third follows.
func twoDigits(f string, i int) (next, n int, ok bool) {
	for d := 0; i < len(f) && f[i] >= '0' && f[i] <= '9'; d++ {
		if d == 2 {
			return i, n, false
		}
		n = n*10 + int(f[i]-'0')
		i++
	}
	return i, n, true
}

// formatDirective is the directive of f that starts at i, for errors.
func formatDirective(f string, i int) string {
	end := i + 1
	for end < len(f) && end-i < 12 && strings.IndexByte("-+ #0123456789.", f[end]) >= 0 {
		end++
	}
	if end < len(f) && end-i < 12 {
		end++
	}
	return f[i:end]
}

// tableConcat is table.concat(t, sep, i, j) with gopher-lua's range rules,
// built in one allocation of a size computed first, so that a result over
// maxStringResult is refused before it is made (and a long list does not
// have to fit on the Lua stack, as gopher-lua's version needs).
func tableConcat(L *lua.LState) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := tbl.Len()
	i := L.OptInt(3, 1)
	j := L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := (j - i) * len(sep)
	if len(sep) > 0 && (j-i) > maxStringResult/len(sep) {
		size = maxStringResult + 1
	}
	for k := i; k <= j && size <= maxStringResult; k++ {
		switch v := tbl.RawGetInt(k).(type) {
		case lua.LString:
			size += len(v)
		case lua.LNumber:
			size += len(v.String())
		default:
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
	}
	if size > maxStringResult {
		L.RaiseError("table.concat: the result would be over %d bytes; the limit is %d", maxStringResult, maxStringResult)
	}
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		if k > i {
			b.WriteString(sep)
		}
		b.WriteString(lua.LVAsString(tbl.RawGetInt(k)))
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// print writes to the log at info level, tab-separated like Lua's print.
func (st *state) print(L *lua.LState) int {
	n := L.GetTop()
	parts := make([]string, n)
	for i := 1; i <= n; i++ {
		parts[i-1] = L.ToStringMeta(L.Get(i)).String()
	}
	st.logAt(L, levelInfo, joinLog(parts, "\t"), nil)
	return 0
}

// osTime is os.time: os.time() is the runtime's clock; os.time(t) is
// gopher-lua's, which converts the table.
func (st *state) osTime(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if L.GetTop() == 0 || L.Get(1) == lua.LNil {
			L.SetTop(0)
			L.Push(lua.LNumber(st.rt.now().Unix()))
			return 1
		}
		return orig(L)
	}
}

// osDate is os.date: gopher-lua's, given the runtime's clock when the
// script passes no time.
func (st *state) osDate(orig lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		if L.GetTop() < 2 || L.Get(2) == lua.LNil {
			format := lua.LValue(lua.LString("%c"))
			if L.GetTop() >= 1 && L.Get(1) != lua.LNil {
				format = L.Get(1)
			}
			L.SetTop(0)
			L.Push(format)
			L.Push(lua.LNumber(st.rt.now().Unix()))
		}
		return orig(L)
	}
}

// requireModule is require: it loads scripts/lib/NAME.lua (dots in NAME are
// folders), once per state.
func (st *state) requireModule(L *lua.LState) int {
	name := L.CheckString(1)
	if !moduleNameRE.MatchString(name) {
		L.RaiseError("require %q: a module is named after its file in %s/ (\"menu\" for %s/menu.lua, \"a.b\" for %s/a/b.lua); paths are not allowed",
			name, libDir, libDir, libDir)
	}
	if v, ok := st.modules[name]; ok {
		if v == nil {
			L.RaiseError("require %q: the module requires itself (a require loop)", name)
		}
		L.Push(v)
		return 1
	}
	c, ok := st.ver.libs[name]
	if !ok {
		if why := st.ver.whyMissing(name); why != "" {
			L.RaiseError("require %q: %s", name, why)
		}
		L.RaiseError("require %q: there is no %s in the scripts folder", name, modulePath(name))
	}
	st.modules[name] = nil // loading: a loop finds nil
	L.Push(L.NewFunctionFromProto(c.proto))
	L.Push(lua.LString(name))
	if err := L.PCall(1, 1, nil); err != nil {
		delete(st.modules, name)
		// The message already names the module's file and line.
		if aerr, ok := err.(*lua.ApiError); ok {
			L.Error(aerr.Object, 0)
		}
		L.Error(lua.LString(err.Error()), 0)
	}
	v := L.Get(-1)
	L.Pop(1)
	if v == lua.LNil {
		v = lua.LTrue // as Lua's require does for a module that returns nothing
	}
	st.modules[name] = v
	L.Push(v)
	return 1
}

// describe names a Lua value for error messages: its type, and the value
// itself when it is short.
func describe(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		s := string(v)
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return fmt.Sprintf("a string (%q)", s)
	case lua.LNumber:
		return "a number (" + v.String() + ")"
	case lua.LBool:
		return "a boolean (" + v.String() + ")"
	case *lua.LNilType:
		return "nil"
	case *lua.LTable:
		return "a table"
	case *lua.LFunction:
		return "a function"
	case *lua.LUserData:
		if r, ok := v.Value.(interface{ Kind() string }); ok {
			return "a " + r.Kind() + " reply"
		}
		return "a userdata"
	default:
		return "a " + v.Type().String()
	}
}
