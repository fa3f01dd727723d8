package luaapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/store/memory"
)

// Report is what `luarobot check` prints: per script, what it registers;
// every file that does not load; and warnings about scripts that load but
// probably do not do what their author meant.
type Report struct {
	Dir      string
	Files    []FileReport // every script of the folder, in file-name order
	Modules  []string     // require names of the modules under lib/
	Errors   []*Error     // every file that does not load, each once
	Warnings []Warning
}

// FileReport lists the registrations a script makes, in order. A handler
// registered by a module function is listed under the script that called it.
type FileReport struct {
	File     string
	Handlers []HandlerInfo
	// Err is why the script does not load, nil when it does.
	Err *Error
}

// OK reports whether every file loads.
func (r *Report) OK() bool { return len(r.Errors) == 0 }

// Summary says how many files do not load: "2 of 5 files do not load".
func (r *Report) Summary() string {
	broken := map[string]bool{}
	for _, e := range r.Errors {
		broken[e.File] = true
	}
	for _, f := range r.Files {
		if f.Err != nil {
			broken[f.File] = true
		}
	}
	return fmt.Sprintf("%d of %d files do not load", len(broken), len(r.Files)+len(r.Modules))
}

// HandlerCount counts the registrations of the scripts that load.
func (r *Report) HandlerCount() int {
	n := 0
	for _, f := range r.Files {
		n += len(f.Handlers)
	}
	return n
}

// String renders the report, one file per block:
//
//	hello.lua
//	  hello.lua:3   robot.text
//	  hello.lua:7   robot.filter [text] "help", robot.re("^(\d+)$")
func (r *Report) String() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

func (r *Report) write(w io.Writer) {
	for _, f := range r.Files {
		fmt.Fprintln(w, f.File)
		switch {
		case f.Err != nil:
			fmt.Fprintln(w, "  (does not load)")
			continue
		case len(f.Handlers) == 0:
			fmt.Fprintln(w, "  (registers nothing)")
		}
		width := 0
		for _, h := range f.Handlers {
			width = max(width, len(h.At))
		}
		for _, h := range f.Handlers {
			fmt.Fprintf(w, "  %-*s  %s\n", width, h.At, h)
		}
	}
	if len(r.Modules) > 0 {
		fmt.Fprintf(w, "modules: %s\n", strings.Join(r.Modules, ", "))
	}
}

// addError records e once: a script that fails because a module it
// requires does not compile fails with the module's own error.
func (r *Report) addError(e *Error) {
	for _, seen := range r.Errors {
		if seen.Error() == e.Error() {
			return
		}
	}
	r.Errors = append(r.Errors, e)
}

// Check loads the scripts of dir as the host would, without serving them and
// without running robot.on_load, and reports what each registers, every
// file that does not load (not only the first), and warnings. The error is
// for a folder that cannot be read at all.
//
// Scripts run with an empty in-memory robot.store (a host always has a
// store) and no Client: robot.client and robot.send answer nil and an
// error, as on a host without app_id and app_secret.
func Check(dir string) (*Report, error) {
	src, err := readSources(dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dir: dir}
	if len(src.scripts) == 0 {
		rep.Warnings = append(rep.Warnings, Warning{File: dir, Msg: "no scripts (*.lua) in the folder: every message will be answered with success"})
	}
	for _, name := range sortedKeys(src.refused) {
		rep.Warnings = append(rep.Warnings, Warning{File: name, Msg: "not loaded: a link to outside the scripts folder (" + src.refused[name] + "); require of it fails"})
	}

	// Each file compiles on its own, so that every syntax error shows.
	ver := &version{dir: src.dir, root: src.root, libs: make(map[string]*chunk, len(src.libs)), refused: src.refused}
	one := func(scripts, libs []source) (*version, error) {
		return compileSources(&sources{dir: src.dir, root: src.root, scripts: scripts, libs: libs})
	}
	for _, s := range src.libs {
		v, err := one(nil, []source{s})
		if err != nil {
			e := asError(s.name, err)
			rep.addError(e)
			// The scripts that require it fail with its error, not with
			// "there is no lib/x.lua".
			ver.libs[moduleName(s.name)] = failingChunk(s.name, e)
			continue
		}
		for name, c := range v.libs {
			ver.libs[name] = c
		}
	}
	byFile := map[string]int{}
	for _, s := range src.scripts {
		byFile[s.name] = len(rep.Files)
		rep.Files = append(rep.Files, FileReport{File: s.name})
		v, err := one([]source{s}, nil)
		if err != nil {
			e := asError(s.name, err)
			rep.Files[len(rep.Files)-1].Err = e
			rep.addError(e)
			continue
		}
		ver.scripts = append(ver.scripts, v.scripts...)
	}
	rep.Modules = ver.sortedModuleNames()

	st, err := loadEach(dir, ver, func(script string, e *Error) {
		rep.Files[byFile[script]].Err = e
		rep.addError(e)
	})
	if err != nil {
		return nil, err
	}
	defer st.close()
	for _, h := range st.report {
		if i, ok := byFile[h.script]; ok {
			rep.Files[i].Handlers = append(rep.Files[i].Handlers, h.HandlerInfo)
		}
	}

	members := robotMembers(st)
	for _, group := range [][]source{src.scripts, src.libs} {
		for _, s := range group {
			errs, warns := lint(s.name, s.data, members)
			for _, e := range errs {
				rep.addError(e)
				if i, ok := byFile[s.name]; ok && rep.Files[i].Err == nil {
					rep.Files[i].Err = e
				}
			}
			rep.Warnings = append(rep.Warnings, warns...)
		}
	}
	rep.Warnings = append(rep.Warnings, duplicateRules(st)...)
	slices.SortStableFunc(rep.Errors, func(a, b *Error) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	slices.SortStableFunc(rep.Warnings, func(a, b Warning) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	return rep, nil
}

// loadEach makes a state of ver, dropping each script whose top level
// fails (reported to failed) until the rest load: every failing script is
// found, not only the first.
func loadEach(dir string, ver *version, failed func(script string, e *Error)) (*state, error) {
	values := memory.New(memory.Options{})
	rt := newRuntime(Options{
		Dir:            dir,
		PoolSize:       1,
		HandlerTimeout: 10 * time.Second,
		Values:         values,
		Logger:         slog.New(slog.DiscardHandler),
	})
	for {
		ver.loading.Store(nil)
		ctx, cancel := context.WithTimeout(context.Background(), rt.opts.HandlerTimeout)
		st, err := rt.newState(ctx, ver)
		cancel()
		if err == nil {
			return st, nil
		}
		script := ver.loading.Load()
		if script == nil {
			return nil, err // not a script's fault: the state itself failed
		}
		failed(*script, asError(*script, err))
		kept := ver.scripts[:0:0]
		for _, c := range ver.scripts {
			if c.name != *script {
				kept = append(kept, c)
			}
		}
		ver.scripts = kept
	}
}

// asError makes err an *Error of file when it is not one already.
func asError(file string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return errorf(file, 0, "%v", err)
}

// failingChunk stands in for a module that does not compile: requiring it
// raises the module's own error.
func failingChunk(name string, e *Error) *chunk {
	msg := e.Error()
	eq := ""
	for strings.Contains(msg, "]"+eq+"]") {
		eq += "="
	}
	src := "error([" + eq + "[" + msg + "]" + eq + "], 0)"
	c, err := compileChunk(source{name: name, data: []byte(src)})
	if err != nil {
		panic("luaapi: the stand-in of a broken module does not compile: " + err.Error())
	}
	return c
}

// robotMembers lists the names of a state's robot table, through pairs as
// a script sees them.
func robotMembers(st *state) []string {
	L := st.L
	fn, err := L.LoadString(`local names = {} for k in pairs(robot) do names[#names + 1] = k end return names`)
	if err != nil {
		return nil
	}
	L.Push(fn)
	if err := L.PCall(0, 1, nil); err != nil {
		return nil
	}
	t, _ := L.Get(-1).(*lua.LTable)
	L.Pop(1)
	var names []string
	if t != nil {
		for i := 1; i <= t.Len(); i++ {
			if s, ok := t.RawGetInt(i).(lua.LString); ok {
				names = append(names, string(s))
			}
		}
	}
	return names
}

// duplicateRules warns about a filter rule or a click key registered a
// second time: the earlier handler is tried first, so the later one runs
// only when it returns nil.
func duplicateRules(st *state) []Warning {
	var warns []Warning
	seen := map[string]string{} // rule → where it was first registered
	next := map[string]int{}    // message type → index into st.byType
	for _, reg := range st.report {
		if reg.Type == "" || reg.Type == "all" {
			continue
		}
		list := st.byType[reg.Type]
		i := next[reg.Type]
		next[reg.Type]++
		if i >= len(list) {
			continue
		}
		h := list[i]
		var rules []string
		for _, r := range h.rules {
			rules = append(rules, "filter rule "+r.String())
		}
		if h.key != nil {
			rules = append(rules, "key_click key "+quoteLua(*h.key))
		}
		for _, r := range rules {
			if first, dup := seen[r]; dup {
				file, line, _ := splitPosition(reg.At + ": ")
				warns = append(warns, Warning{File: file, Line: line,
					Msg: fmt.Sprintf("%s is also registered at %s, which is tried first: this handler gets it only when that one returns nil", r, first)})
				continue
			}
			seen[r] = reg.At
		}
	}
	return warns
}
