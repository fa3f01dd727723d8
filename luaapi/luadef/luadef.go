// Package luadef describes a Lua API for editors and writes the
// description as a lua-language-server definition file: a `---@meta` file
// of LuaCATS annotations (`---@class`, `---@field`, `---@param`, ...) and
// empty function stubs, which VS Code's Lua extension (sumneko's) reads
// for completion, hover and type checks.
//
// The packages that bind an API describe it next to the code that makes
// the bindings: a Binding pairs a function's signature with the Go
// function that implements it, so one table builds both the Lua values
// and their definitions (`luarobot types`), and the two cannot drift.
//
// Types are written in LuaCATS syntax ("string", "integer?",
// "robot.Message.text", "fun(message: robot.AnyMessage): robot.Answer",
// "table<string, any>"); this package does not interpret them beyond
// splitting signatures.
package luadef

import (
	"fmt"
	"strings"
)

// Func is one function: a global, a function of a table (called with a
// dot) or a method (called with a colon).
type Func struct {
	Name string
	Doc  string
	// Generics are the type parameters of a generic function ("T").
	Generics  []string
	Params    []Param
	Returns   []Return
	Overloads []string // the other forms, as function types "fun(...): ..."
}

// Param is one parameter.
type Param struct {
	Name     string // "..." for the rest of the arguments
	Type     string
	Optional bool // it may be left out (name? in LuaCATS)
	Doc      string
}

// Return is one result.
type Return struct {
	Type string
	Name string // optional
	Doc  string
}

// Field is one field of a class.
type Field struct {
	Name     string
	Type     string
	Optional bool // it may be absent (nil)
	Doc      string
}

// Class is a table type: its fields, the functions called on it with a
// dot (Funcs) and with a colon (Methods).
type Class struct {
	Name   string
	Parent string // the class it extends, if any
	Doc    string
	// Global marks a class that is also a global table of that name
	// (robot, robot.store): it is written as `robot.store = {}` and its
	// Funcs as `function robot.store.get(key) end`.
	Global bool
	// Call, when set, makes the class's value callable: the function type
	// ("fun(name: string)") of the call, as a table with a __call
	// metamethod has (luarobot test's global test, which also has
	// test.config).
	Call    string
	Fields  []Field
	Funcs   []Func
	Methods []Func
}

// Alias names a type. A union with a word on each member lists them as
// Cases, one line each; otherwise Type is the whole type.
type Alias struct {
	Name  string
	Doc   string
	Type  string
	Cases []Case
}

// Case is one member of a union alias.
type Case struct {
	Type string
	Doc  string
}

// Section is a part of a definition file, under a heading comment.
type Section struct {
	Title   string
	Aliases []Alias
	Classes []Class
	Funcs   []Func // global functions
}

// Binding pairs a function's definition with the Go value that binds it
// (F is the binding package's own function type), so that one table
// serves the runtime and the definitions.
//
// Sig is the signature in LuaCATS's function syntax without "fun":
//
//	"(key: string, ttl?: number): any"
//	"(url: string, opts?: robot.http.Options): res: robot.http.Response?, err: robot.Error?"
//	"<T>(fn: fun(): T): T"
//
// A parameter type that is itself a function with several results must
// be put in parentheses, as in LuaCATS.
type Binding[F any] struct {
	Name      string
	Sig       string
	Doc       string
	Overloads []string // other forms, as "fun(...): ..." types
	Fn        F
}

// Func returns b's definition.
func (b Binding[F]) Func() (Func, error) {
	f, err := ParseSig(b.Name, b.Sig)
	if err != nil {
		return Func{}, err
	}
	f.Doc = b.Doc
	f.Overloads = b.Overloads
	return f, nil
}

// Funcs returns the definitions of a binding table, in its order.
func Funcs[F any](bs []Binding[F]) ([]Func, error) {
	out := make([]Func, 0, len(bs))
	for _, b := range bs {
		f, err := b.Func()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// ParseSig reads a signature (see Binding.Sig) into a Func named name.
func ParseSig(name, sig string) (Func, error) {
	f := Func{Name: name}
	fail := func(format string, args ...any) (Func, error) {
		return Func{}, fmt.Errorf("luadef: %s%s: %s", name, sig, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(sig)
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 0 {
			return fail("unclosed <")
		}
		for _, g := range strings.Split(s[1:end], ",") {
			if g = strings.TrimSpace(g); g == "" {
				return fail("an empty type parameter")
			}
			f.Generics = append(f.Generics, g)
		}
		s = strings.TrimSpace(s[end+1:])
	}
	if !strings.HasPrefix(s, "(") {
		return fail("a signature starts with its parameters in parentheses")
	}
	end := closing(s)
	if end < 0 {
		return fail("unbalanced brackets")
	}
	params, rest := s[1:end], strings.TrimSpace(s[end+1:])
	for _, p := range splitTop(params) {
		name, typ, ok := strings.Cut(p, ":")
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		if !ok || typ == "" {
			return fail("parameter %q has no type (name: type)", p)
		}
		param := Param{Name: name, Type: typ}
		if strings.HasSuffix(name, "?") {
			param.Name, param.Optional = strings.TrimSuffix(name, "?"), true
		}
		if param.Name != "..." && !IsName(param.Name) {
			return fail("%q is not a parameter name", param.Name)
		}
		f.Params = append(f.Params, param)
	}
	if rest == "" {
		return f, nil
	}
	if !strings.HasPrefix(rest, ":") {
		return fail("%q after the parameters; results follow a colon", rest)
	}
	if strings.TrimSpace(rest[1:]) == "" {
		return fail("an empty result type")
	}
	for _, r := range splitTop(rest[1:]) {
		ret := Return{Type: r}
		if name, typ, ok := strings.Cut(r, ":"); ok && IsName(strings.TrimSpace(name)) {
			ret = Return{Name: strings.TrimSpace(name), Type: strings.TrimSpace(typ)}
		}
		if ret.Type == "" {
			return fail("an empty result type")
		}
		f.Returns = append(f.Returns, ret)
	}
	return f, nil
}

// closing returns the index of the bracket that closes s[0], or -1.
func closing(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '<', '{', '[':
			depth++
		case ')', '>', '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return -1
			}
			i += j + 1
		}
	}
	return -1
}

// splitTop splits s at the commas outside brackets and string literals;
// an empty s has no parts.
func splitTop(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '<', '{', '[':
			depth++
		case ')', '>', '}', ']':
			depth--
		case '"':
			if j := strings.IndexByte(s[i+1:], '"'); j >= 0 {
				i += j + 1
			}
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if last := strings.TrimSpace(s[start:]); last != "" || len(parts) > 0 {
		parts = append(parts, last)
	}
	return parts
}

// luaKeywords cannot name anything.
var luaKeywords = map[string]bool{
	"and": true, "break": true, "do": true, "else": true, "elseif": true, "end": true,
	"false": true, "for": true, "function": true, "if": true, "in": true, "local": true,
	"nil": true, "not": true, "or": true, "repeat": true, "return": true, "then": true,
	"true": true, "until": true, "while": true, "goto": true,
}

// IsName reports whether s is a Lua name (an identifier that is not a
// keyword).
func IsName(s string) bool {
	if s == "" || luaKeywords[s] {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
