package luaapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// Bounds of the conversions of Lua values to Go and to JSON. maxDepth
// bounds the nesting: deeper is almost always a table that contains
// itself. The others bound the size: a table may hold one subtable many
// times ({t, t} nested 24 levels is 2^24 tables to write out), so depth
// alone does not bound the work, or the memory.
const (
	maxDepth = 64
	// maxJSONBytes bounds the JSON text of one value: a session, a
	// robot.store value, robot.json.encode's result, a robot.client body.
	// robot.json.decode reads no more either.
	maxJSONBytes = 4 << 20
	// maxGoValues bounds the values (tables included) of one conversion
	// to Go (robot.client arguments, robot.log attributes); their strings
	// add up to maxJSONBytes at most, since the client writes them as JSON.
	maxGoValues = 1 << 16
	// checkEvery is how many values a conversion handles between looks at
	// its context, when it has one.
	checkEvery = 1024
)

// limitError is the error of a conversion that went over one of the
// bounds above.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// pathError is an error at a place in a value, which it names
// ("value.list[3].f: ..."). The keys are added as the error goes up the
// walk (see at): nothing is built for the values that convert fine.
type pathError struct {
	keys []pathKey // innermost first
	msg  string
}

type pathKey struct {
	key   lua.LValue // the key of a table member, or nil for an array element
	index int        // the array index, when key is nil
}

func (e *pathError) Error() string {
	var b strings.Builder
	b.WriteString("value")
	for i := len(e.keys) - 1; i >= 0; i-- {
		k := e.keys[i]
		if k.key == nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(k.index))
			b.WriteByte(']')
			continue
		}
		b.WriteByte('.')
		if text, ok := tableKey(k.key); ok {
			b.WriteString(text)
		} else {
			b.WriteString(k.key.String())
		}
	}
	b.WriteString(": ")
	b.WriteString(e.msg)
	return b.String()
}

// valueErrorf returns a pathError at the value being converted.
func valueErrorf(format string, args ...any) error {
	return &pathError{msg: fmt.Sprintf(format, args...)}
}

// at adds the key under which the value that failed was found, when err is
// a pathError.
func at(err error, k pathKey) error {
	if pe, ok := err.(*pathError); ok {
		pe.keys = append(pe.keys, k)
	}
	return err
}

// maxSafeInteger is the largest integer a float64 (a Lua number) holds
// exactly; integral numbers up to it are written without a fraction.
const maxSafeInteger = 1 << 53

// binaryPrefix marks a string that JSON cannot carry as text (it is not
// UTF-8, or it begins with the marker itself): the rest is its base64. Only
// the exact codec (sessions, robot.store) uses it, so that "strings with any
// bytes" round-trip; robot.json follows the JSON standard instead.
const binaryPrefix = "\x00b64:"

// In the exact codec, a table key that is not a string is written as a
// string with one of these prefixes, so that {[1] = "a", [3] = "c"} comes
// back with number keys rather than "1" and "3". A string key or value
// beginning with NUL is written with binaryPrefix, so nothing a script
// stores can be mistaken for these markers.
const (
	numberKeyPrefix = "\x00n:"
	boolKeyPrefix   = "\x00bool:"
)

// ToGo converts a Lua value into plain Go values: nil, bool, string, int64
// (integral numbers up to 2^53) or float64, []any for a table that is a
// sequence 1..n, and map[string]any for any other table (number keys become
// their decimal text). Functions, userdata, threads and channels have no Go
// form and are an error naming where they were found. So is a value of
// more than 65536 values in all, or of more than 4 MiB of strings.
func ToGo(v lua.LValue) (any, error) {
	var w goWalk
	return w.value(v, 0)
}

// goWalk is one conversion to Go: the values and string bytes so far, and
// the context that stops it (nil: none). Several values converted with
// one goWalk share its bounds.
type goWalk struct {
	ctx      context.Context
	maxBytes int // of strings; 0: maxJSONBytes
	values   int
	bytes    int
}

func (w *goWalk) value(v lua.LValue, depth int) (any, error) {
	if w.values++; w.values > maxGoValues {
		return nil, &limitError{fmt.Sprintf("value: more than %d values (does it hold a table many times?)", maxGoValues)}
	}
	if w.ctx != nil && w.values%checkEvery == 0 {
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
	}
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		limit := w.maxBytes
		if limit == 0 {
			limit = maxJSONBytes
		}
		if w.bytes += len(v); w.bytes > limit {
			return nil, &limitError{fmt.Sprintf("value: more than %d bytes of strings", limit)}
		}
		return string(v), nil
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, valueErrorf("%v is not a finite number", f)
		}
		if f == math.Trunc(f) && math.Abs(f) <= maxSafeInteger {
			return int64(f), nil
		}
		return f, nil
	case *lua.LTable:
		if depth >= maxDepth {
			return nil, valueErrorf("tables nested deeper than %d (does a table contain itself?)", maxDepth)
		}
		v = plainTable(v)
		if n := sequenceLen(v); n > 0 {
			out := make([]any, n)
			for i := 1; i <= n; i++ {
				e, err := w.value(v.RawGetInt(i), depth+1)
				if err != nil {
					return nil, at(err, pathKey{index: i})
				}
				out[i-1] = e
			}
			return out, nil
		}
		out := make(map[string]any)
		var err error
		v.ForEach(func(k, e lua.LValue) {
			if err != nil {
				return
			}
			key, ok := tableKey(k)
			if !ok {
				err = valueErrorf("a %s cannot be a key", k.Type())
				return
			}
			var ge any
			if ge, err = w.value(e, depth+1); err != nil {
				err = at(err, pathKey{key: k})
				return
			}
			out[key] = ge
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	default:
		return nil, valueErrorf("a %s cannot be converted", v.Type())
	}
}

// sequenceLen returns n when the table's keys are exactly 1..n, else 0.
func sequenceLen(t *lua.LTable) int {
	n := t.Len()
	if n == 0 {
		return 0
	}
	count := 0
	isSeq := true
	t.ForEach(func(k, _ lua.LValue) {
		count++
		if num, ok := k.(lua.LNumber); !ok || float64(num) != math.Trunc(float64(num)) || num < 1 || int(num) > n {
			isSeq = false
		}
	})
	if !isSeq || count != n {
		return 0
	}
	return n
}

// tableKey is the text of a table key as a JSON object key or a Go map
// key; false for a key that has none (a table, a function...).
func tableKey(k lua.LValue) (string, bool) {
	switch k := k.(type) {
	case lua.LString:
		return string(k), true
	case lua.LNumber:
		return formatNumber(float64(k)), true
	case lua.LBool:
		return strconv.FormatBool(bool(k)), true
	default:
		return "", false
	}
}

// FromGo converts plain Go values (as produced by ToGo or encoding/json) into
// Lua values. Unknown types become their fmt.Sprint text.
func FromGo(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case []byte:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case int8:
		return lua.LNumber(v)
	case int16:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case uint:
		return lua.LNumber(v)
	case uint8:
		return lua.LNumber(v)
	case uint16:
		return lua.LNumber(v)
	case uint32:
		return lua.LNumber(v)
	case uint64:
		return lua.LNumber(v)
	case float32:
		return lua.LNumber(v)
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := v.Float64()
		if err != nil {
			return lua.LString(fmt.Sprint(v))
		}
		return lua.LNumber(f)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(FromGo(L, e))
		}
		return t
	case []string:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(lua.LString(e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, FromGo(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, lua.LString(e))
		}
		return t
	case []map[string]string:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(FromGo(L, e))
		}
		return t
	case lua.LValue:
		return v
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

// formatNumber writes a Lua number as JSON: integral values without a
// fraction or exponent, others in the shortest form that reads back exactly.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		// Integral: every digit, no exponent (2^60 stays 1152921504606846976).
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// EncodeJSON writes a Lua value as JSON: object keys sorted (so equal values
// give equal bytes), no HTML escaping (URLs keep their & < >), UTF-8 kept as
// is. With exact set, strings that are not UTF-8 survive the round trip
// through DecodeJSON (see binaryPrefix); without it they are an error. So
// is a text longer than 4 MiB.
func EncodeJSON(v lua.LValue, exact bool) ([]byte, error) {
	return encodeJSON(nil, v, exact)
}

// encodeJSON is EncodeJSON that stops when ctx ends (nil: never), with the
// ctx error itself.
func encodeJSON(ctx context.Context, v lua.LValue, exact bool) ([]byte, error) {
	e := jsonEncoder{exact: exact, limit: maxJSONBytes, ctx: ctx}
	if err := e.value(v, 0); err != nil {
		return nil, err
	}
	if len(e.buf) > e.limit {
		return nil, e.tooLong()
	}
	return e.buf, nil
}

// encodeSession writes a session table: the exact codec, and an object
// even when the table is a list (session[1] = ...), with number keys as
// the exact codec marks them. A stored session is an object: the loader
// takes anything else for corrupt, and a dialog's record is stored as one
// of its members.
func encodeSession(ctx context.Context, t *lua.LTable) ([]byte, error) {
	e := jsonEncoder{exact: true, rootObject: true, limit: maxJSONBytes, ctx: ctx}
	if err := e.value(t, 0); err != nil {
		return nil, err
	}
	if len(e.buf) > e.limit {
		return nil, e.tooLong()
	}
	return e.buf, nil
}

type jsonEncoder struct {
	buf   []byte
	exact bool
	// rootObject writes the outermost table as an object even when it
	// is a list (encodeSession).
	rootObject bool
	// markedKey is set while writing a key objectKey marked as a number
	// or boolean, which must not be taken for a binary string.
	markedKey bool

	limit int             // the most bytes buf may hold
	ctx   context.Context // nil: none
	steps int             // values written, for checkEvery
}

// tooLong is the error of a text that would exceed e.limit. What was
// written so far stays in e.buf.
func (e *jsonEncoder) tooLong() error {
	return &limitError{fmt.Sprintf("value: the JSON text would be over %d bytes (a table used in several places is written in full each time)", e.limit)}
}

// objectKey is the JSON key of a table key: tableKey's text, or in the
// exact codec a marked string for number and boolean keys (marked true).
func (e *jsonEncoder) objectKey(k lua.LValue) (key string, marked bool, err error) {
	if e.exact {
		switch k := k.(type) {
		case lua.LNumber:
			return numberKeyPrefix + formatNumber(float64(k)), true, nil
		case lua.LBool:
			return boolKeyPrefix + strconv.FormatBool(bool(k)), true, nil
		}
	}
	key, ok := tableKey(k)
	if !ok {
		err = valueErrorf("a %s cannot be a key", k.Type())
	}
	return key, false, err
}

// jsonEntry is one member of an object being written.
type jsonEntry struct {
	key    string
	marked bool // a number or boolean key, see objectKey
	k, val lua.LValue
}

func (e *jsonEncoder) value(v lua.LValue, depth int) error {
	if e.steps++; e.ctx != nil && e.steps%checkEvery == 0 {
		if err := e.ctx.Err(); err != nil {
			return err
		}
	}
	switch v := v.(type) {
	case *lua.LNilType:
		e.buf = append(e.buf, "null"...)
	case lua.LBool:
		e.buf = strconv.AppendBool(e.buf, bool(v))
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return valueErrorf("%v cannot be written as JSON", f)
		}
		e.buf = append(e.buf, formatNumber(f)...)
	case lua.LString:
		return e.string(string(v))
	case *lua.LTable:
		if depth >= maxDepth {
			return valueErrorf("tables nested deeper than %d (does a table contain itself?)", maxDepth)
		}
		v = plainTable(v)
		if len(e.buf) > e.limit {
			return e.tooLong()
		}
		if n := sequenceLen(v); n > 0 && !(depth == 0 && e.rootObject) {
			e.buf = append(e.buf, '[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					e.buf = append(e.buf, ',')
				}
				if len(e.buf) > e.limit {
					return e.tooLong()
				}
				if err := e.value(v.RawGetInt(i), depth+1); err != nil {
					return at(err, pathKey{index: i})
				}
			}
			e.buf = append(e.buf, ']')
			return nil
		}
		var entries []jsonEntry
		var err error
		v.ForEach(func(k, val lua.LValue) {
			if err != nil {
				return
			}
			var key string
			var marked bool
			if key, marked, err = e.objectKey(k); err == nil {
				entries = append(entries, jsonEntry{key, marked, k, val})
			}
		})
		if err != nil {
			return err
		}
		slices.SortFunc(entries, func(a, b jsonEntry) int { return strings.Compare(a.key, b.key) })
		e.buf = append(e.buf, '{')
		for i, en := range entries {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.markedKey = en.marked
			err := e.string(en.key)
			e.markedKey = false
			if err != nil {
				return err
			}
			e.buf = append(e.buf, ':')
			if len(e.buf) > e.limit {
				return e.tooLong()
			}
			if err := e.value(en.val, depth+1); err != nil {
				return at(err, pathKey{key: en.k})
			}
		}
		e.buf = append(e.buf, '}')
	default:
		return valueErrorf("a %s cannot be written as JSON", v.Type())
	}
	return nil
}

const hexDigits = "0123456789abcdef"

func (e *jsonEncoder) string(s string) error {
	if len(e.buf)+len(s) > e.limit {
		return e.tooLong()
	}
	if !utf8.ValidString(s) || (e.exact && strings.HasPrefix(s, "\x00") && !e.markedKey) {
		if !e.exact {
			return valueErrorf("string is not valid UTF-8")
		}
		s = binaryPrefix + base64.StdEncoding.EncodeToString([]byte(s))
	}
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		e.buf = append(e.buf, s[start:i]...)
		switch c {
		case '"', '\\':
			e.buf = append(e.buf, '\\', c)
		case '\n':
			e.buf = append(e.buf, '\\', 'n')
		case '\r':
			e.buf = append(e.buf, '\\', 'r')
		case '\t':
			e.buf = append(e.buf, '\\', 't')
		default:
			e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
	if len(e.buf) > e.limit { // escapes made it longer
		return e.tooLong()
	}
	return nil
}

// DecodeJSON parses JSON into Lua values: objects and arrays become tables,
// null becomes nil (so a null member is absent). With exact set, strings
// written by EncodeJSON(exact) come back byte for byte.
func DecodeJSON(L *lua.LState, data []byte, exact bool) (lua.LValue, error) {
	d := jsonDecoder{L: L, data: data, exact: exact}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return lua.LNil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return lua.LNil, d.errorf("unexpected %q after the value", d.data[d.pos])
	}
	return v, nil
}

type jsonDecoder struct {
	L     *lua.LState
	data  []byte
	pos   int
	exact bool
}

var errJSONEnd = errors.New("unexpected end of JSON")

func (d *jsonDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("json: offset %d: %s", d.pos, fmt.Sprintf(format, args...))
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (lua.LValue, error) {
	if d.pos >= len(d.data) {
		return lua.LNil, errJSONEnd
	}
	if depth >= maxDepth {
		return lua.LNil, d.errorf("nested deeper than %d", maxDepth)
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.string()
		if err != nil {
			return lua.LNil, err
		}
		return lua.LString(s), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case c == 't':
		return lua.LTrue, d.literal("true")
	case c == 'f':
		return lua.LFalse, d.literal("false")
	case c == 'n':
		return lua.LNil, d.literal("null")
	default:
		return lua.LNil, d.errorf("unexpected %q", c)
	}
}

func (d *jsonDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal, expected %s", word)
	}
	d.pos += len(word)
	return nil
}

func (d *jsonDecoder) object(depth int) (lua.LValue, error) {
	d.pos++ // {
	// Small: NewTable reserves 32 array slots and 32 map entries, which
	// made decoding a session most of a dispatch's allocations.
	t := d.L.CreateTable(0, 4)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return t, nil
	}
	for {
		d.skipSpace()
		if d.pos >= len(d.data) {
			return lua.LNil, errJSONEnd
		}
		if d.data[d.pos] != '"' {
			return lua.LNil, d.errorf("object key must be a string")
		}
		key, err := d.objectKey()
		if err != nil {
			return lua.LNil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return lua.LNil, d.errorf("expected ':' after object key")
		}
		d.pos++
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return lua.LNil, err
		}
		if v != lua.LNil {
			if k, ok := key.(lua.LString); ok {
				t.RawSetString(string(k), v)
			} else {
				t.RawSet(key, v)
			}
		}
		if end, err := d.separator('}', "object"); end || err != nil {
			return t, err
		}
	}
}

func (d *jsonDecoder) array(depth int) (lua.LValue, error) {
	d.pos++ // [
	t := d.L.CreateTable(4, 0)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return t, nil
	}
	for i := 1; ; i++ {
		if i >= lua.MaxArrayIndex {
			// gopher-lua keeps such elements apart from the others, where
			// # and ipairs do not see them: the list would be cut short.
			return lua.LNil, d.errorf("an array of more than %d elements", lua.MaxArrayIndex-1)
		}
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return lua.LNil, err
		}
		t.RawSetInt(i, v)
		if end, err := d.separator(']', "array"); end || err != nil {
			return t, err
		}
	}
}

// objectKey reads an object key: a string, or in the exact codec a number
// or boolean written by jsonEncoder.objectKey.
func (d *jsonDecoder) objectKey() (lua.LValue, error) {
	raw, err := d.rawString()
	if err != nil {
		return lua.LNil, err
	}
	if d.exact {
		switch {
		case strings.HasPrefix(raw, numberKeyPrefix):
			f, err := strconv.ParseFloat(raw[len(numberKeyPrefix):], 64)
			if err != nil || math.IsNaN(f) {
				return lua.LNil, d.errorf("bad number key %q", raw[len(numberKeyPrefix):])
			}
			return lua.LNumber(f), nil
		case raw == boolKeyPrefix+"true":
			return lua.LTrue, nil
		case raw == boolKeyPrefix+"false":
			return lua.LFalse, nil
		}
	}
	key, err := d.finishString(raw)
	return lua.LString(key), err
}

// separator reads what follows a member of an object or array: ',' (more
// follow) or the closing bracket. It reports whether the container ended.
func (d *jsonDecoder) separator(closing byte, container string) (bool, error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return false, errJSONEnd
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		return false, nil
	case closing:
		d.pos++
		return true, nil
	}
	return false, d.errorf("expected ',' or '%c' in %s", closing, container)
}

func (d *jsonDecoder) number() (lua.LValue, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	if first := d.pos; digits() == 0 || (d.data[first] == '0' && d.pos-first > 1) {
		return lua.LNil, d.errorf("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return lua.LNil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return lua.LNil, d.errorf("invalid number")
		}
	}
	text := string(d.data[start:d.pos])
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return lua.LNil, d.errorf("invalid number %q", text)
	}
	if !d.exact && math.Abs(f) > maxSafeInteger && !strings.ContainsAny(text, ".eE") {
		// A 64-bit id (an order id, a msgid): a Lua number would round
		// it, so it stays text, as robot.client and message ids do.
		return lua.LString(text), nil
	}
	return lua.LNumber(f), nil
}

// string reads a JSON string, decoding the exact codec's binary strings.
func (d *jsonDecoder) string() (string, error) {
	s, err := d.rawString()
	if err != nil {
		return "", err
	}
	return d.finishString(s)
}

// rawString reads a JSON string as written.
func (d *jsonDecoder) rawString() (string, error) {
	d.pos++ // opening quote
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		d.pos++
	}
	var b strings.Builder
	b.Write(d.data[start:d.pos])
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return b.String(), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			b.WriteByte(c)
			d.pos++
			continue
		}
		d.pos++ // backslash
		if d.pos >= len(d.data) {
			return "", errJSONEnd
		}
		esc := d.data[d.pos]
		d.pos++
		switch esc {
		case '"', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, err := d.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				r = d.lowSurrogate(r)
			}
			b.WriteRune(r)
		default:
			return "", d.errorf("invalid escape \\%c", esc)
		}
	}
	return "", errJSONEnd
}

// lowSurrogate completes a UTF-16 pair whose high half is r. Without a
// valid low half the result is U+FFFD and the next escape is left unread.
func (d *jsonDecoder) lowSurrogate(r rune) rune {
	if d.pos+1 >= len(d.data) || d.data[d.pos] != '\\' || d.data[d.pos+1] != 'u' {
		return utf8.RuneError
	}
	save := d.pos
	d.pos += 2
	r2, err := d.hex4()
	if err != nil {
		d.pos = save
		return utf8.RuneError
	}
	if pair := utf16.DecodeRune(r, r2); pair != utf8.RuneError {
		return pair
	}
	d.pos = save
	return utf8.RuneError
}

func (d *jsonDecoder) hex4() (rune, error) {
	if len(d.data)-d.pos < 4 {
		return 0, errJSONEnd
	}
	n, err := strconv.ParseUint(string(d.data[d.pos:d.pos+4]), 16, 32)
	if err != nil {
		return 0, d.errorf("invalid \\u escape")
	}
	d.pos += 4
	return rune(n), nil
}

func (d *jsonDecoder) finishString(s string) (string, error) {
	if d.exact && strings.HasPrefix(s, binaryPrefix) {
		raw, err := base64.StdEncoding.DecodeString(s[len(binaryPrefix):])
		if err != nil {
			return "", d.errorf("bad binary string: %v", err)
		}
		return string(raw), nil
	}
	return s, nil
}
