package luaapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// evalLua runs a chunk that returns one value.
func evalLua(t *testing.T, L *lua.LState, chunk string) lua.LValue {
	t.Helper()
	if err := L.DoString("return " + chunk); err != nil {
		t.Fatalf("eval %s: %v", chunk, err)
	}
	v := L.Get(-1)
	L.Pop(1)
	return v
}

func TestEncodeJSON(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	tests := []struct {
		lua  string
		want string
	}{
		{`nil`, `null`},
		{`true`, `true`},
		{`3`, `3`},
		{`-0.5`, `-0.5`},
		{`2^53`, `9007199254740992`},
		{`2^60`, `1152921504606847000`}, // shortest digits that read back exactly,
		{`1e300`, `1e+300`},
		{`"a\"b\\c\n\1"`, `"a\"b\\c\n\u0001"`},
		{`"<a href='x?a=1&b=2'>"`, `"<a href='x?a=1&b=2'>"`},
		{`"中文 😀"`, `"中文 😀"`},
		{`{}`, `{}`},
		{`{1, 2, "x"}`, `[1,2,"x"]`},
		{`{b = 1, a = {c = false}}`, `{"a":{"c":false},"b":1}`},
		{`{[1] = "a", [3] = "c"}`, `{"1":"a","3":"c"}`},
		{`{1, 2, x = 3}`, `{"1":1,"2":2,"x":3}`},
	}
	for _, tt := range tests {
		got, err := EncodeJSON(evalLua(t, L, tt.lua), false)
		if err != nil {
			t.Errorf("EncodeJSON(%s): %v", tt.lua, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("EncodeJSON(%s) = %s, want %s", tt.lua, got, tt.want)
		}
		if !json.Valid(got) {
			t.Errorf("EncodeJSON(%s) = %s is not valid JSON", tt.lua, got)
		}
	}
}

func TestEncodeJSONErrors(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	tests := []struct {
		lua  string
		want string
	}{
		{`{f = print}`, "value.f: a function cannot be written as JSON"},
		{`0/0`, "cannot be written as JSON"},
		{`(function() local t = {} t.self = t return t end)()`, "nested deeper"},
		{`"\255"`, "not valid UTF-8"},
		{`{[true] = {[print] = 1}}`, "a function cannot be a key"},
	}
	for _, tt := range tests {
		_, err := EncodeJSON(evalLua(t, L, tt.lua), false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("EncodeJSON(%s) error = %v, want it to contain %q", tt.lua, err, tt.want)
		}
	}
}

// TestExactRoundTrip is the session codec's promise: what a handler stores
// is what the next handler reads, byte for byte.
func TestExactRoundTrip(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	chunks := []string{
		`{s = "\0\255\254binary", prefix = "\0b64:looks like a marker", n = 42, f = 0.1, big = 2^53, neg = -7, yes = true, no = false}`,
		`{list = {1, "two", {three = 3}}, nested = {a = {b = {c = "d"}}}, empty = {}}`,
		`{text = "中文😀\n\t\"quoted\"", url = "https://x/?a=1&b=<2>"}`,
		// Tables that are not sequences keep their key types.
		`{sparse = {[1] = "a", [3] = "c"}, mixed = {1, 2, x = 3}, float = {[1.5] = "f"}, flags = {[true] = "yes", [false] = "no"}}`,
		// Strings that look like the codec's own markers stay strings.
		`{["\0n:3"] = "not a number key", ["\0bool:true"] = "\0n:7", s = "\0"}`,
	}
	for _, chunk := range chunks {
		v := evalLua(t, L, chunk)
		data, err := EncodeJSON(v, true)
		if err != nil {
			t.Fatalf("encode %s: %v", chunk, err)
		}
		back, err := DecodeJSON(L, data, true)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		again, err := EncodeJSON(back, true)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(data, again) {
			t.Errorf("round trip changed the value:\n%s\n%s", data, again)
		}
		L.SetGlobal("orig", v)
		L.SetGlobal("back", back)
		if err := L.DoString(`
			local function same(a, b)
				if type(a) ~= type(b) then return false end
				if type(a) ~= "table" then return a == b end
				for k, v in pairs(a) do if not same(v, b[k]) then return false end end
				for k in pairs(b) do if a[k] == nil then return false end end
				return true
			end
			assert(same(orig, back), "decoded value differs")`); err != nil {
			t.Errorf("%s: %v", chunk, err)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	v, err := DecodeJSON(L, []byte(` {"a": [1, 2.5, "x\u00e9\ud83d\ude00", null, true], "b": {"c": null}, "e": -1e2, "id": 6302917734529474561, "safe": 9007199254740992} `), false)
	if err != nil {
		t.Fatal(err)
	}
	L.SetGlobal("v", v)
	if err := L.DoString(`
		assert(v.a[1] == 1 and v.a[2] == 2.5 and v.a[3] == "xé😀" and v.a[4] == nil and v.a[5] == true)
		assert(type(v.b) == "table" and next(v.b) == nil)
		assert(v.e == -100)
		assert(v.id == "6302917734529474561", "64-bit ids stay text")
		assert(v.safe == 2^53)`); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":1,}`, `[1 2]`, `"\x"`, `01`, `1.`, `-`, `tru`, `{} x`, "\"a\x01\"", `{1:2}`} {
		if _, err := DecodeJSON(L, []byte(bad), false); err == nil {
			t.Errorf("DecodeJSON(%q) succeeded, want an error", bad)
		}
	}
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, err := DecodeJSON(L, []byte(deep), false); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: err = %v", err)
	}
}

func TestToGoFromGo(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	v, err := ToGo(evalLua(t, L, `{button = {{type = "click", name = "今日歌曲", key = "music"}}, n = 3, f = 1.5}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v)
	want := `{"button":[{"key":"music","name":"今日歌曲","type":"click"}],"f":1.5,"n":3}`
	if string(got) != want {
		t.Errorf("ToGo = %s, want %s", got, want)
	}
	L.SetGlobal("v", FromGo(L, v))
	if err := L.DoString(`assert(v.button[1].name == "今日歌曲" and v.n == 3 and v.f == 1.5)`); err != nil {
		t.Error(err)
	}
	if _, err := ToGo(evalLua(t, L, `{cb = function() end}`)); err == nil {
		t.Error("ToGo accepted a function")
	}
	// Every Go number kind a caller's map may hold (robot.config) is a number.
	for _, n := range []any{int8(-3), int16(300), int32(7), uint(8), uint8(9), uint16(10), uint32(11), uint64(12), float32(0.5)} {
		if v, ok := FromGo(L, n).(lua.LNumber); !ok || v == 0 {
			t.Errorf("FromGo(%T %v) = %v", n, n, FromGo(L, n))
		}
	}
}

// FuzzDecodeJSON: robot.json.decode and the session codec read bytes that
// come from users and from the store; they must fail cleanly, never panic,
// and agree with encoding/json on what is valid.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{`{"\u0000n:3":"x","\u0000bool:true":1}`, `{"a":[1,2,{"b":null}]}`, `"\ud83d\ude00"`, `"\ud800\u0041"`, `-0.0e+1`, `[]`, `{"\u0000b64:AAE=":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		L := lua.NewState()
		defer L.Close()
		v, err := DecodeJSON(L, data, false)
		tooDeep := err != nil && strings.Contains(err.Error(), "nested deeper")
		if valid := json.Valid(data); (err == nil) != valid && !tooDeep {
			t.Fatalf("DecodeJSON(%q): err = %v, but json.Valid = %v", data, err, valid)
		}
		if err != nil {
			return
		}
		if _, err := EncodeJSON(v, true); err != nil && !strings.Contains(err.Error(), "cannot be written") {
			t.Fatalf("re-encoding %q: %v", data, err)
		}
		// The exact codec (sessions) is stable: what it writes, it reads
		// back to the same value, which it writes the same way.
		ev, err := DecodeJSON(L, data, true)
		if err != nil {
			return
		}
		once, err := EncodeJSON(ev, true)
		if err != nil {
			return // e.g. a number key that is NaN cannot come back
		}
		back, err := DecodeJSON(L, once, true)
		if err != nil {
			t.Fatalf("exact codec cannot read what it wrote: %q -> %q: %v", data, once, err)
		}
		twice, err := EncodeJSON(back, true)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("exact codec unstable: %q -> %q -> %q (%v)", data, once, twice, err)
		}
	})
}
