package luadef

import (
	"fmt"
	"sort"
	"strings"
)

// builtinTypes are the types lua-language-server knows without a
// definition.
var builtinTypes = map[string]bool{
	"nil": true, "any": true, "boolean": true, "string": true, "number": true, "integer": true,
	"table": true, "function": true, "thread": true, "userdata": true, "lightuserdata": true,
	"true": true, "false": true, "self": true, "unknown": true,
}

// Check reports what lua-language-server would flag in the definitions
// of sections: a type name that no class or alias defines (a misspelt
// "robot.Anwser" in a signature), and a class or alias defined twice.
func Check(sections []Section) error {
	defined := map[string]bool{}
	var problems []string
	define := func(name string) {
		if defined[name] {
			problems = append(problems, "defined twice: "+name)
		}
		defined[name] = true
	}
	for _, s := range sections {
		for _, a := range s.Aliases {
			define(a.Name)
		}
		for _, c := range s.Classes {
			define(c.Name)
		}
	}
	undefined := map[string][]string{} // type → where it is used
	use := func(where, typ string, generics []string) {
		for _, name := range TypeNames(typ) {
			if !defined[name] && !builtinTypes[name] && !contains(generics, name) {
				undefined[name] = append(undefined[name], where)
			}
		}
	}
	useFunc := func(where string, f Func) {
		for _, p := range f.Params {
			use(where+"("+p.Name+")", p.Type, f.Generics)
		}
		for _, r := range f.Returns {
			use(where+" result", r.Type, f.Generics)
		}
		for _, o := range f.Overloads {
			use(where+" overload", o, f.Generics)
		}
	}
	for _, s := range sections {
		for _, a := range s.Aliases {
			use(a.Name, a.Type, nil)
			for _, c := range a.Cases {
				use(a.Name, c.Type, nil)
			}
		}
		for _, c := range s.Classes {
			if c.Parent != "" {
				use(c.Name, c.Parent, nil)
			}
			for _, f := range c.Fields {
				use(c.Name+"."+f.Name, f.Type, nil)
			}
			for _, f := range c.Funcs {
				useFunc(c.Name+"."+f.Name, f)
			}
			for _, f := range c.Methods {
				useFunc(c.Name+":"+f.Name, f)
			}
		}
		for _, f := range s.Funcs {
			useFunc(f.Name, f)
		}
	}
	names := make([]string, 0, len(undefined))
	for name := range undefined {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		problems = append(problems, fmt.Sprintf("undefined type %s (in %s)", name, strings.Join(undefined[name], ", ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("luadef: %s", strings.Join(problems, "; "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// TypeNames returns the type names a LuaCATS type uses, in order:
// "fun(message: robot.Message.text): robot.Answer?" uses robot.Message.text
// and robot.Answer. Names of parameters and table fields (followed by a
// colon), string literals and the keyword fun are not type names.
func TypeNames(typ string) []string {
	var names []string
	for i := 0; i < len(typ); {
		c := typ[i]
		switch {
		case c == '"' || c == '\'':
			end := strings.IndexByte(typ[i+1:], c)
			if end < 0 {
				return names
			}
			i += end + 2
		case isNameStart(c):
			j := i + 1
			for j < len(typ) && (isNameStart(typ[j]) || typ[j] >= '0' && typ[j] <= '9' || typ[j] == '.') {
				j++
			}
			name := strings.TrimRight(typ[i:j], ".")
			rest := strings.TrimLeft(typ[j:], " ")
			rest = strings.TrimPrefix(rest, "?")
			switch {
			case strings.HasPrefix(rest, ":"): // a parameter or field name
			case name == "fun" && strings.HasPrefix(rest, "("):
			default:
				names = append(names, name)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
