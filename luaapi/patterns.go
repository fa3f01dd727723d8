package luaapi

import (
	"context"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/luaapi/internal/luapattern"
)

// string.find, string.match, string.gmatch and string.gsub, on the
// stoppable matcher of internal/luapattern. gopher-lua's own versions
// cannot be interrupted (a pattern runs inside one VM instruction, so the
// context deadline is never checked: yuin/gopher-lua#521), gmatch finds
// every match before returning the first, and gsub copies the whole string
// for every replacement. These run under the call's context, refuse a
// subject longer than maxPatternInput, and bound gsub's result.

// maxGsubResult bounds the string gsub builds. It is checked before every
// piece is written, within a replacement too: one replacement template of
// "%0" repeated is megabytes per match.
const maxGsubResult = maxStringResult

// readOnlyBytes views s as bytes without copying it: the matcher only
// reads its subject, and a copy per match would make gsub quadratic.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func (st *state) patternCtx() context.Context {
	return st.L.Context() // nil outside a call: no deadline to honour
}

func checkSubject(L *lua.LState, fn string) string {
	s := L.CheckString(1)
	if len(s) > maxPatternInput {
		L.RaiseError("string.%s: the string is %d bytes; pattern matching is limited to %d", fn, len(s), maxPatternInput)
	}
	return s
}

func compilePattern(L *lua.LState, fn, p string) *luapattern.Pattern {
	pat, err := luapattern.Compile(p)
	if err != nil {
		L.RaiseError("string.%s: malformed pattern %q: %s", fn, p, err)
	}
	return pat
}

// findFrom runs one match, raising the matcher's error (a cancellation
// reads as one, so the handler stops).
func (st *state) findFrom(L *lua.LState, fn string, pat *luapattern.Pattern, s string, offset int) (*luapattern.MatchData, int) {
	md, next, err := pat.FindFrom(st.patternCtx(), readOnlyBytes(s), offset)
	if err != nil {
		L.RaiseError("string.%s: %s", fn, err)
	}
	return md, next
}

// startIndex converts Lua's init argument (1-based, negative from the end)
// into a byte offset.
func startIndex(s string, init int) int {
	switch {
	case init > 0:
		return init - 1
	case init == 0:
		return 0
	default:
		return max(len(s)+init, 0)
	}
}

// pushCaptures pushes the captures of md (or the whole match when whole is
// set and there are none) and returns how many.
func pushCaptures(L *lua.LState, s string, md *luapattern.MatchData, whole bool) int {
	n := md.CaptureLength()
	if n <= 2 {
		if !whole {
			return 0
		}
		L.Push(lua.LString(s[md.Capture(0):md.Capture(1)]))
		return 1
	}
	for i := 2; i < n; i += 2 {
		L.Push(captureValue(s, md, i))
	}
	return n/2 - 1
}

func captureValue(s string, md *luapattern.MatchData, i int) lua.LValue {
	if md.IsPosCapture(i) {
		return lua.LNumber(md.Capture(i))
	}
	return lua.LString(s[md.Capture(i):md.Capture(i+1)])
}

func (st *state) strFind(L *lua.LState) int {
	s := L.CheckString(1)
	p := L.CheckString(2)
	init := startIndex(s, L.OptInt(3, 1))
	if init > len(s) {
		L.Push(lua.LNil)
		return 1
	}
	if lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(p, "^$*+?.([%-") {
		// A plain search is linear: no cap on the subject.
		i := strings.Index(s[init:], p)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(p)))
		return 2
	}
	s = checkSubject(L, "find")
	pat := compilePattern(L, "find", p)
	md, _ := st.findFrom(L, "find", pat, s, init)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(lua.LNumber(md.Capture(0) + 1))
	L.Push(lua.LNumber(md.Capture(1)))
	return 2 + pushCaptures(L, s, md, false)
}

func (st *state) strMatch(L *lua.LState) int {
	s := checkSubject(L, "match")
	pat := compilePattern(L, "match", L.CheckString(2))
	init := startIndex(s, L.OptInt(3, 1))
	if init > len(s) {
		L.Push(lua.LNil)
		return 1
	}
	md, _ := st.findFrom(L, "match", pat, s, init)
	if md == nil {
		L.Push(lua.LNil)
		return 1
	}
	return pushCaptures(L, s, md, true)
}

// gmatchState is the iterator state of string.gmatch.
type gmatchState struct {
	s    string
	pat  *luapattern.Pattern
	next int
	done bool
}

func (st *state) strGmatch(L *lua.LState) int {
	s := checkSubject(L, "gmatch")
	pat := compilePattern(L, "gmatch", L.CheckString(2))
	ud := L.NewUserData()
	ud.Value = &gmatchState{s: s, pat: pat}
	L.Push(L.NewClosure(st.gmatchIter, ud))
	return 1
}

func (st *state) gmatchIter(L *lua.LState) int {
	g := L.Get(lua.UpvalueIndex(1)).(*lua.LUserData).Value.(*gmatchState)
	if g.done || g.next > len(g.s) {
		return 0
	}
	md, next := st.findFrom(L, "gmatch", g.pat, g.s, g.next)
	if md == nil {
		g.done = true
		return 0
	}
	g.next = next
	if g.pat.MustHead() {
		g.done = true
	}
	return pushCaptures(L, g.s, md, true)
}

func (st *state) strGsub(L *lua.LState) int {
	s := checkSubject(L, "gsub")
	pat := compilePattern(L, "gsub", L.CheckString(2))
	L.CheckTypes(3, lua.LTString, lua.LTNumber, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	limit := L.OptInt(4, -1)
	var b strings.Builder
	count, last, sp := 0, 0, 0
	for sp <= len(s) && count != limit {
		md, next := st.findFrom(L, "gsub", pat, s, sp)
		if md == nil {
			break
		}
		count++
		start, end := md.Capture(0), md.Capture(1)
		gsubWrite(L, &b, s[last:start])
		st.gsubReplace(L, &b, s, md, repl)
		last = end
		if pat.MustHead() {
			break
		}
		sp = next
	}
	if count == 0 {
		L.Push(lua.LString(s))
		L.Push(lua.LNumber(0))
		return 2
	}
	gsubWrite(L, &b, s[last:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(count))
	return 2
}

// gsubWrite adds piece to gsub's result, or raises the error when the
// result would exceed maxGsubResult.
func gsubWrite(L *lua.LState, b *strings.Builder, piece string) {
	if b.Len()+len(piece) > maxGsubResult {
		L.RaiseError("string.gsub: the result would exceed %d bytes", maxGsubResult)
	}
	b.WriteString(piece)
}

// gsubReplace writes the replacement of one match, as Lua 5.1's add_value.
func (st *state) gsubReplace(L *lua.LState, b *strings.Builder, s string, md *luapattern.MatchData, repl lua.LValue) {
	whole := s[md.Capture(0):md.Capture(1)]
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		tmpl := lua.LVAsString(r)
		if b.Len()+len(tmpl) > maxGsubResult {
			L.RaiseError("string.gsub: the result would exceed %d bytes", maxGsubResult)
		}
		for i := 0; i < len(tmpl); i++ {
			c := tmpl[i]
			if c != '%' || i == len(tmpl)-1 {
				b.WriteByte(c)
				continue
			}
			i++
			d := tmpl[i]
			switch {
			case d == '0':
				gsubWrite(L, b, whole)
			case d >= '1' && d <= '9':
				k := int(d-'0') * 2
				switch {
				case k == 2 && md.CaptureLength() <= 2:
					gsubWrite(L, b, whole) // %1 with no captures is the whole match
				case k >= md.CaptureLength():
					L.RaiseError("string.gsub: invalid capture index %%%c in the replacement", d)
				default:
					gsubWrite(L, b, lua.LVAsString(captureValue(s, md, k)))
				}
			default:
				b.WriteByte(d) // "%%" is "%", and Lua 5.1 keeps any other escaped character
			}
		}
		return
	}
	var key lua.LValue = lua.LString(whole)
	if md.CaptureLength() > 2 {
		key = captureValue(s, md, 2)
	}
	var v lua.LValue
	switch r := repl.(type) {
	case *lua.LTable:
		v = L.GetTable(r, key)
	case *lua.LFunction:
		L.Push(r)
		n := pushCaptures(L, s, md, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v := v.(type) {
	case *lua.LNilType:
		gsubWrite(L, b, whole)
	case lua.LBool:
		if v {
			L.RaiseError("string.gsub: invalid replacement value (a boolean)")
		}
		gsubWrite(L, b, whole)
	case lua.LString, lua.LNumber:
		gsubWrite(L, b, lua.LVAsString(v))
	default:
		L.RaiseError("string.gsub: invalid replacement value (a %s)", v.Type())
	}
}
