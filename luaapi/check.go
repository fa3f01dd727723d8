package luaapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/luarobot/luarobot/store/memory"
)

// Report is what `luarobot check` prints: per script, what it registers.
type Report struct {
	Dir     string
	Files   []FileReport
	Modules []string // require names of the modules under lib/
}

// FileReport lists the registrations a script makes, in order. A handler
// registered by a module function is listed under the script that called it.
type FileReport struct {
	File     string
	Handlers []HandlerInfo
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
		if len(f.Handlers) == 0 {
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

// Check loads the scripts of dir as the host would, without serving them and
// without running robot.on_load, and reports what each registers. The
// error, if any, is an *Error: "file:line: message". The report then holds
// nothing: no file is listed as fine when the set does not load.
//
// Scripts run with an empty in-memory robot.store (a host always has a
// store) and no Client: robot.client and robot.send answer nil and an
// error, as on a host without app_id and app_secret.
func Check(dir string) (*Report, error) {
	values := memory.New(memory.Options{})
	defer values.Close()
	rt := newRuntime(Options{
		Dir:            dir,
		PoolSize:       1,
		HandlerTimeout: 10 * time.Second,
		Values:         values,
		Logger:         slog.New(slog.DiscardHandler),
	})
	ver, err := loadVersion(dir)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), rt.opts.HandlerTimeout)
	defer cancel()
	st, err := rt.newState(ctx, ver)
	if err != nil {
		return nil, err
	}
	defer st.close()
	rep := &Report{Dir: dir, Modules: ver.sortedModuleNames()}
	byFile := map[string]int{}
	for _, c := range ver.scripts {
		byFile[c.name] = len(rep.Files)
		rep.Files = append(rep.Files, FileReport{File: c.name})
	}
	for _, h := range st.report {
		i, ok := byFile[h.script]
		if !ok {
			continue
		}
		rep.Files[i].Handlers = append(rep.Files[i].Handlers, h.HandlerInfo)
	}
	return rep, nil
}
