package luadef

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Write writes a definition file: `---@meta _` (the file defines names;
// it is not a module to require), the intro as comment lines, then each
// section. The result is valid Lua: comments and empty stubs. Sections
// that do not pass Check are not written.
func Write(w io.Writer, intro string, sections []Section) error {
	if err := Check(sections); err != nil {
		return err
	}
	b := bufio.NewWriter(w)
	p := &printer{w: b}
	p.line("---@meta _")
	for _, l := range strings.Split(strings.TrimSpace(intro), "\n") {
		p.line(strings.TrimRight("-- "+l, " "))
	}
	for _, s := range sections {
		p.section(s)
	}
	if p.err != nil {
		return p.err
	}
	return b.Flush()
}

// printer writes one file, keeping the first error.
type printer struct {
	w   *bufio.Writer
	err error
}

func (p *printer) line(s string) {
	if p.err == nil {
		_, p.err = p.w.WriteString(s + "\n")
	}
}

func (p *printer) failf(format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("luadef: "+format, args...)
	}
}

// doc writes a description as `---` lines.
func (p *printer) doc(doc string) {
	doc = strings.TrimSpace(doc)
	if doc == "" {
		return
	}
	for _, l := range strings.Split(doc, "\n") {
		p.line(strings.TrimRight("---"+l, " "))
	}
}

// inline is a description after an annotation: one line, after " # ".
func inline(doc string) string {
	doc = strings.Join(strings.Fields(doc), " ")
	if doc == "" {
		return ""
	}
	return " # " + doc
}

func (p *printer) section(s Section) {
	p.line("")
	p.line("-- " + strings.Repeat("-", 72))
	p.line("-- " + s.Title)
	p.line("-- " + strings.Repeat("-", 72))
	for _, a := range s.Aliases {
		p.alias(a)
	}
	for _, c := range s.Classes {
		p.class(c)
	}
	for _, f := range s.Funcs {
		p.fn("", f)
	}
}

func (p *printer) alias(a Alias) {
	p.line("")
	p.doc(a.Doc)
	if len(a.Cases) == 0 {
		if a.Type == "" {
			p.failf("alias %s has no type", a.Name)
		}
		p.line("---@alias " + a.Name + " " + a.Type)
		return
	}
	p.line("---@alias " + a.Name)
	for _, c := range a.Cases {
		p.line("---| " + c.Type + inline(c.Doc))
	}
}

// fieldName writes a field's name, in brackets when it is not a Lua name
// (`["content-type"]`).
func fieldName(name string) string {
	if IsName(name) {
		return name
	}
	return fmt.Sprintf("[%q]", name)
}

func (p *printer) class(c Class) {
	p.line("")
	p.doc(c.Doc)
	head := "---@class " + c.Name
	if c.Parent != "" {
		head += " : " + c.Parent
	}
	p.line(head)
	for _, f := range c.Fields {
		opt := ""
		if f.Optional {
			opt = "?"
		}
		if f.Name == "" || f.Type == "" {
			p.failf("class %s has a field without a name or a type", c.Name)
		}
		p.line("---@field " + fieldName(f.Name) + opt + " " + f.Type + inline(f.Doc))
	}
	if c.Call != "" {
		if !strings.HasPrefix(c.Call, "fun(") {
			p.failf("class %s: its call %q is not a function type", c.Name, c.Call)
		}
		p.line("---@overload " + c.Call)
	}
	table := c.Name
	switch {
	case c.Global:
		p.line(c.Name + " = {}")
	case len(c.Funcs) > 0 || len(c.Methods) > 0:
		table = LocalName(c.Name)
		p.line("local " + table + " = {}")
	}
	for _, f := range c.Funcs {
		p.fn(table+".", f)
	}
	for _, f := range c.Methods {
		// lua-language-server reads a method's overloads with self
		// first, as the function the colon call stands for.
		overloads := make([]string, len(f.Overloads))
		for i, o := range f.Overloads {
			overloads[i] = o
			if rest, ok := strings.CutPrefix(o, "fun("); ok {
				if !strings.HasPrefix(rest, ")") {
					rest = ", " + rest
				}
				overloads[i] = "fun(self: " + c.Name + rest
			}
		}
		f.Overloads = overloads
		p.fn(table+":", f)
	}
}

// LocalName is the local variable that holds the methods of a class that
// is not a global: its name with every dot an underscore.
func LocalName(class string) string {
	return strings.NewReplacer(".", "_", ":", "_").Replace(class)
}

// fn writes a function stub; prefix is "robot.store." or "Dialog:".
func (p *printer) fn(prefix string, f Func) {
	if !IsName(f.Name) {
		p.failf("%s%s: not a function name", prefix, f.Name)
	}
	p.line("")
	p.doc(f.Doc)
	for _, g := range f.Generics {
		p.line("---@generic " + g)
	}
	names := make([]string, len(f.Params))
	for i, a := range f.Params {
		if a.Name != "..." && !IsName(a.Name) {
			p.failf("%s%s: %q is not a parameter name", prefix, f.Name, a.Name)
		}
		if a.Name == "..." && i != len(f.Params)-1 {
			p.failf("%s%s: ... must be the last parameter", prefix, f.Name)
		}
		opt := ""
		if a.Optional && a.Name != "..." {
			opt = "?"
		}
		p.line("---@param " + a.Name + opt + " " + a.Type + inline(a.Doc))
		names[i] = a.Name
	}
	for _, r := range f.Returns {
		s := "---@return " + r.Type
		if r.Name != "" {
			s += " " + r.Name
		}
		p.line(s + inline(r.Doc))
	}
	for _, o := range f.Overloads {
		if !strings.HasPrefix(o, "fun(") {
			p.failf("%s%s: overload %q is not a function type", prefix, f.Name, o)
		}
		p.line("---@overload " + o)
	}
	p.line("function " + prefix + f.Name + "(" + strings.Join(names, ", ") + ") end")
}
