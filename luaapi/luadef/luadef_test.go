package luadef_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/luarobot/luarobot/luaapi/luadef"
)

func TestParseSig(t *testing.T) {
	for sig, want := range map[string]luadef.Func{
		"()": {Name: "f"},
		"(key: string, ttl?: number): any": {Name: "f",
			Params:  []luadef.Param{{Name: "key", Type: "string"}, {Name: "ttl", Type: "number", Optional: true}},
			Returns: []luadef.Return{{Type: "any"}}},
		"(url: string, opts?: table<string, any>): res: robot.Response?, err: robot.Error?": {Name: "f",
			Params:  []luadef.Param{{Name: "url", Type: "string"}, {Name: "opts", Type: "table<string, any>", Optional: true}},
			Returns: []luadef.Return{{Name: "res", Type: "robot.Response?"}, {Name: "err", Type: "robot.Error?"}}},
		// A function type keeps its own parameters and result.
		"(fn: fun(message: robot.Message, session: table): robot.Answer): fun(message: robot.Message)": {Name: "f",
			Params:  []luadef.Param{{Name: "fn", Type: "fun(message: robot.Message, session: table): robot.Answer"}},
			Returns: []luadef.Return{{Type: "fun(message: robot.Message)"}}},
		"(...: any)": {Name: "f", Params: []luadef.Param{{Name: "...", Type: "any"}}},
		"<T>(fn: fun(): T): T": {Name: "f", Generics: []string{"T"},
			Params: []luadef.Param{{Name: "fn", Type: "fun(): T"}}, Returns: []luadef.Return{{Type: "T"}}},
		`(t: {a: string, b?: "x,y"}): string[]`: {Name: "f",
			Params: []luadef.Param{{Name: "t", Type: `{a: string, b?: "x,y"}`}}, Returns: []luadef.Return{{Type: "string[]"}}},
	} {
		got, err := luadef.ParseSig("f", sig)
		if err != nil {
			t.Errorf("ParseSig(%q): %v", sig, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSig(%q)\n got %+v\nwant %+v", sig, got, want)
		}
	}
	for sig, want := range map[string]string{
		"key: string":         "starts with its parameters",
		"(key string)":        `parameter "key string" has no type`,
		"(key: string":        "unbalanced",
		"(end: string)":       `"end" is not a parameter name`,
		"(a: string) string":  "results follow a colon",
		"(a: string):":        "an empty result type",
		"<T(fn: fun(): T): T": "unclosed <",
	} {
		if _, err := luadef.ParseSig("f", sig); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSig(%q) = %v, want an error with %q", sig, err, want)
		}
	}
}

// sample is a small API with every kind of declaration.
func sample() []luadef.Section {
	get, _ := luadef.Binding[func()]{Name: "get", Sig: "(key: string): value: any, err: string?", Doc: "The value of key."}.Func()
	return []luadef.Section{
		{Title: "Values",
			Aliases: []luadef.Alias{
				{Name: "demo.Kind", Doc: "A kind.", Cases: []luadef.Case{{Type: `"a"`, Doc: "the first"}, {Type: `"b"`}}},
				{Name: "demo.Handler", Type: "fun(item: demo.Item): boolean"},
			},
			Classes: []luadef.Class{
				{Name: "demo.Item", Doc: "An item.\nTwo lines.", Fields: []luadef.Field{
					{Name: "kind", Type: "demo.Kind"}, {Name: "note", Type: "string", Optional: true, Doc: "a   note\nwrapped"},
					{Name: "content-type", Type: "string"}}},
				{Name: "demo.Box", Methods: []luadef.Func{{Name: "put", Params: []luadef.Param{{Name: "item", Type: "demo.Item"}},
					Overloads: []string{"fun(items: demo.Item[])", "fun()"}}}},
			}},
		{Title: "The demo table",
			Classes: []luadef.Class{{Name: "demo", Global: true, Doc: "The demo API.", Funcs: []luadef.Func{get}}},
			Funcs: []luadef.Func{{Name: "each", Generics: []string{"T"},
				Params: []luadef.Param{{Name: "list", Type: "T[]"}, {Name: "...", Type: "any"}}}}},
	}
}

const sampleGolden = `---@meta _
-- Demo definitions.
-- Second line.

-- ------------------------------------------------------------------------
-- Values
-- ------------------------------------------------------------------------

---A kind.
---@alias demo.Kind
---| "a" # the first
---| "b"

---@alias demo.Handler fun(item: demo.Item): boolean

---An item.
---Two lines.
---@class demo.Item
---@field kind demo.Kind
---@field note? string # a note wrapped
---@field ["content-type"] string

---@class demo.Box
local demo_Box = {}

---@param item demo.Item
---@overload fun(self: demo.Box, items: demo.Item[])
---@overload fun(self: demo.Box)
function demo_Box:put(item) end

-- ------------------------------------------------------------------------
-- The demo table
-- ------------------------------------------------------------------------

---The demo API.
---@class demo
demo = {}

---The value of key.
---@param key string
---@return any value
---@return string? err
function demo.get(key) end

---@generic T
---@param list T[]
---@param ... any
function each(list, ...) end
`

// The writer's output, exactly: a golden excerpt of every construct.
func TestWriteGolden(t *testing.T) {
	var b bytes.Buffer
	if err := luadef.Write(&b, "Demo definitions.\nSecond line.", sample()); err != nil {
		t.Fatal(err)
	}
	if b.String() != sampleGolden {
		t.Errorf("Write:\n%s\nwant:\n%s", b.String(), sampleGolden)
	}
}

// A definition file is Lua: it parses, and running it defines the
// global tables and their functions.
func TestWrittenFileIsLua(t *testing.T) {
	var b bytes.Buffer
	if err := luadef.Write(&b, "x", sample()); err != nil {
		t.Fatal(err)
	}
	if _, err := parse.Parse(strings.NewReader(b.String()), "demo.d.lua"); err != nil {
		t.Fatalf("parse: %v", err)
	}
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(b.String()); err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := L.DoString(`assert(type(demo.get) == "function" and type(each) == "function")`); err != nil {
		t.Error(err)
	}
}

func TestWriteRefusesBadDefinitions(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(s []luadef.Section)
		want string
	}{
		"undefined type": {func(s []luadef.Section) { s[0].Classes[0].Fields[0].Type = "demo.Knid|nil" },
			"undefined type demo.Knid (in demo.Item.kind)"},
		"undefined in a function type": {func(s []luadef.Section) { s[0].Aliases[1].Type = "fun(item: demo.Itm): boolean" },
			"undefined type demo.Itm"},
		"undefined in an overload": {func(s []luadef.Section) { s[0].Classes[1].Methods[0].Overloads[0] = "fun(x: demo.Nope)" },
			"undefined type demo.Nope (in demo.Box:put overload)"},
		"defined twice": {func(s []luadef.Section) { s[1].Classes[0].Name = "demo.Item" },
			"defined twice: demo.Item"},
		"bad function name": {func(s []luadef.Section) { s[1].Funcs[0].Name = "for" }, "for: not a function name"},
		"bad parameter":     {func(s []luadef.Section) { s[1].Funcs[0].Params[0].Name = "a b" }, `"a b" is not a parameter name`},
		"vararg not last": {func(s []luadef.Section) {
			p := s[1].Funcs[0].Params
			p[0], p[1] = p[1], p[0]
		}, "... must be the last parameter"},
		"overload not a function": {func(s []luadef.Section) { s[0].Classes[1].Methods[0].Overloads[1] = "string" },
			"is not a function type"},
		"alias without type": {func(s []luadef.Section) { s[0].Aliases[1].Type = "" }, "alias demo.Handler has no type"},
	} {
		s := sample()
		c.edit(s)
		err := luadef.Write(&bytes.Buffer{}, "x", s)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Write = %v, want an error with %q", name, err, c.want)
		}
	}
}

func TestTypeNames(t *testing.T) {
	for typ, want := range map[string][]string{
		"string":                       {"string"},
		"robot.Match?":                 {"robot.Match"},
		"table<integer|string, any>[]": {"table", "integer", "string", "any"},
		`"text"|"image"|robot.X`:       {"robot.X"},
		"fun(message: robot.Message.text, session?: table): robot.Answer, string": {"robot.Message.text", "table", "robot.Answer", "string"},
		"{media_id: string, title?: string}":                                      {"string", "string"},
		"(string|robot.Regex)[]":                                                  {"string", "robot.Regex"},
		"fun(text: string): (true|robot.Answer)":                                  {"string", "true", "robot.Answer"},
	} {
		if got := luadef.TypeNames(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("TypeNames(%q) = %q, want %q", typ, got, want)
		}
	}
}

// A callable class is written with its call as the class's overload, so a
// global can be both called and indexed (test(...) and test.config{...}).
func TestCallableClass(t *testing.T) {
	var b bytes.Buffer
	err := luadef.Write(&b, "callable", []luadef.Section{{Title: "t", Classes: []luadef.Class{{
		Name: "test", Global: true, Call: "fun(name: string, fn: fun())",
		Funcs: []luadef.Func{{Name: "config", Params: []luadef.Param{{Name: "settings", Type: "table"}}}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "---@class test\n---@overload fun(name: string, fn: fun())\ntest = {}\n\n---@param settings table\nfunction test.config(settings) end\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("got\n%s\nwant it to contain\n%s", b.String(), want)
	}
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(b.String()); err != nil {
		t.Errorf("not Lua: %v", err)
	}
	err = luadef.Write(&b, "", []luadef.Section{{Classes: []luadef.Class{{Name: "x", Call: "string"}}}})
	if err == nil {
		t.Error("a call that is not a function type was accepted")
	}
}
