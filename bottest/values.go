package bottest

import (
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Limits of how a value is shown in a failure: enough to recognise it on
// one line.
const (
	maxShownDepth = 4
	maxShownItems = 12
	maxShownBytes = 300
)

// show writes v as a Lua literal on one line: strings quoted (with \n, so
// that a failure is one line), tables as {a = 1, "x"} with sorted keys.
func show(v lua.LValue) string {
	var b strings.Builder
	showTo(&b, v, 0)
	s := b.String()
	if len(s) > maxShownBytes {
		s = s[:maxShownBytes] + "…"
	}
	return s
}

func showTo(b *strings.Builder, v lua.LValue, depth int) {
	switch v := v.(type) {
	case lua.LString:
		b.WriteString(strconv.Quote(string(v)))
	case *lua.LTable:
		if depth >= maxShownDepth {
			b.WriteString("{…}")
			return
		}
		b.WriteString("{")
		n := v.Len()
		i := 0
		for ; i < n && i < maxShownItems; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			showTo(b, v.RawGetInt(i+1), depth+1)
		}
		for _, k := range sortedKeys(v, n) {
			if i >= maxShownItems {
				b.WriteString(", …")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			i++
			if s, ok := k.(lua.LString); ok && isIdentifier(string(s)) {
				b.WriteString(string(s))
			} else {
				b.WriteString("[")
				showTo(b, k, depth+1)
				b.WriteString("]")
			}
			b.WriteString(" = ")
			showTo(b, v.RawGet(k), depth+1)
		}
		b.WriteString("}")
	default:
		b.WriteString(v.String())
	}
}

// sortedKeys returns the keys of t that are not part of its sequence
// 1..n, in a stable order.
func sortedKeys(t *lua.LTable, n int) []lua.LValue {
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if f, ok := k.(lua.LNumber); ok && float64(f) >= 1 && float64(f) <= float64(n) && float64(f) == float64(int(f)) {
			return
		}
		keys = append(keys, k)
	})
	sort.Slice(keys, func(i, j int) bool {
		ki, kj := keys[i], keys[j]
		if ki.Type() != kj.Type() {
			return ki.Type() < kj.Type()
		}
		if a, ok := ki.(lua.LNumber); ok {
			return a < kj.(lua.LNumber)
		}
		return ki.String() < kj.String()
	})
	return keys
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// equal is t:eq's comparison: tables are equal when they have the same
// keys with equal values, all the way down; other values as ==.
func equal(a, b lua.LValue) bool {
	return equalAt(a, b, 0)
}

func equalAt(a, b lua.LValue, depth int) bool {
	ta, aok := a.(*lua.LTable)
	tb, bok := b.(*lua.LTable)
	if !aok || !bok {
		return a == b || a.Type() == b.Type() && a.Type() == lua.LTNumber && a.(lua.LNumber) == b.(lua.LNumber)
	}
	if ta == tb {
		return true
	}
	if depth > 32 {
		return false
	}
	same := true
	ta.ForEach(func(k, v lua.LValue) {
		if same && !equalAt(v, tb.RawGet(k), depth+1) {
			same = false
		}
	})
	tb.ForEach(func(k, _ lua.LValue) {
		if same && ta.RawGet(k) == lua.LNil {
			same = false
		}
	})
	return same
}

// mismatch is where subset found a difference: the path to it (".title",
// "[1].url"; "" for the values themselves) and the two values there.
type mismatch struct {
	path      string
	want, got lua.LValue
}

// subset reports whether got has everything want has: for a table, every
// key of want with a value that is a subset of got's, all the way down
// (so a list in want checks the first elements of got's); anything else
// must be equal. An empty table inside want ({sent = {}}) wants an empty
// table: as a subset it would match anything, a check that cannot fail.
// On a difference it says where.
func subset(want, got lua.LValue) (mismatch, bool) {
	return subsetAt(want, got, 0)
}

func subsetAt(want, got lua.LValue, depth int) (mismatch, bool) {
	tw, ok := want.(*lua.LTable)
	if !ok {
		return mismatch{want: want, got: got}, equal(want, got)
	}
	tg, ok := got.(*lua.LTable)
	if !ok || depth > 32 {
		return mismatch{want: want, got: got}, false
	}
	if depth > 0 && isEmpty(tw) {
		return mismatch{want: want, got: got}, isEmpty(tg)
	}
	var m mismatch
	match := true
	tw.ForEach(func(k, v lua.LValue) {
		if !match {
			return
		}
		if inner, ok := subsetAt(v, tg.RawGet(k), depth+1); !ok {
			match = false
			m = inner
			m.path = keyPath(k) + inner.path
		}
	})
	return m, match
}

// keyPath writes a key as it is read in Lua after a value: .name or [1].
func keyPath(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok && isIdentifier(string(s)) {
		return "." + string(s)
	}
	return "[" + show(k) + "]"
}

func isEmpty(t *lua.LTable) bool {
	k, _ := t.Next(lua.LNil)
	return k == lua.LNil
}
