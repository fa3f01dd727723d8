package luaapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"time"
)

// This file lets an operator's tool (the console) see what the runtime
// serves: the scripts of the version in use and what each registers, the
// recent reloads with their errors, the last handler error, and the
// source lines around an error.

// maxReloadHistory bounds the reloads remembered.
const maxReloadHistory = 20

// ReloadRecord is one load of the scripts folder that swapped in a new set
// or failed. Loads that changed nothing, and reloads superseded by a newer
// one, are not recorded.
type ReloadRecord struct {
	At   time.Time     // when the load started
	Took time.Duration // until it was swapped in or failed
	OK   bool
	// Version numbers the set swapped in (0 when it failed); Scripts,
	// Modules and Registrations count it.
	Version                         uint64
	Scripts, Modules, Registrations int
	// Err is why the load failed: "file:line: message".
	Err *Error
}

// ErrorRecord is an error and when it happened.
type ErrorRecord struct {
	At  time.Time
	Err *Error
}

// Loaded is the set of scripts serving now.
type Loaded struct {
	Dir      string
	Version  uint64
	LoadedAt time.Time
	Files    []FileReport // every script, in file-name order, with its registrations
	Modules  []string     // require names of the modules under lib/
}

// inspection is the runtime's memory of its reloads and errors.
type inspection struct {
	mu       sync.Mutex
	reloads  []ReloadRecord // oldest first
	handler  *ErrorRecord   // the last handler error
	loadedAt time.Time      // when the version in use was swapped in
	changed  chan struct{}  // closed and replaced at every change
}

// changedLocked returns the channel of the next change; mu is held.
func (in *inspection) changedLocked() chan struct{} {
	if in.changed == nil {
		in.changed = make(chan struct{})
	}
	return in.changed
}

// notifyLocked wakes the waiters of Changed; mu is held.
func (in *inspection) notifyLocked() {
	if in.changed != nil {
		close(in.changed)
		in.changed = nil
	}
}

// noteReload records a load that started at start with old serving and
// ended with err.
func (rt *Runtime) noteReload(start time.Time, old *version, err error) {
	if errors.Is(err, errSuperseded) || errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return
	}
	rec := ReloadRecord{At: start, Took: time.Since(start), OK: err == nil}
	if err == nil {
		cur := rt.cur.Load()
		if cur == nil || cur == old {
			return // nothing changed on disk
		}
		rec.Version, rec.Scripts, rec.Modules, rec.Registrations = cur.seq, len(cur.scripts), len(cur.libs), cur.handlers
	} else if !errors.As(err, &rec.Err) {
		rec.Err = &Error{Message: err.Error()}
	}
	in := &rt.inspect
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.reloads) == maxReloadHistory {
		in.reloads = append(in.reloads[:0], in.reloads[1:]...)
	}
	in.reloads = append(in.reloads, rec)
	if rec.OK {
		in.loadedAt = start.Add(rec.Took)
	}
	in.notifyLocked()
}

// noteHandlerError remembers the error of a handler that failed in a
// script (errors of no script, such as no free Lua state, are not
// remembered).
func (rt *Runtime) noteHandlerError(err error) {
	var e *Error
	if !errors.As(err, &e) || e.File == "" {
		return
	}
	in := &rt.inspect
	in.mu.Lock()
	defer in.mu.Unlock()
	in.handler = &ErrorRecord{At: time.Now(), Err: e}
	in.notifyLocked()
}

// Reloads returns the recent reloads, oldest first (at most 20).
func (rt *Runtime) Reloads() []ReloadRecord {
	in := &rt.inspect
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]ReloadRecord(nil), in.reloads...)
}

// LastHandlerError returns the last error a handler raised in a script,
// and false when there was none.
func (rt *Runtime) LastHandlerError() (ErrorRecord, bool) {
	in := &rt.inspect
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.handler == nil {
		return ErrorRecord{}, false
	}
	return *in.handler, true
}

// Changed returns a channel closed at the next reload recorded or handler
// error: a console waits on it instead of polling.
func (rt *Runtime) Changed() <-chan struct{} {
	in := &rt.inspect
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.changedLocked()
}

// Loaded describes the scripts serving now: every script of the version
// in use with what it registers.
func (rt *Runtime) Loaded() Loaded {
	out := Loaded{Dir: rt.opts.Dir}
	ver := rt.cur.Load()
	if ver == nil {
		return out
	}
	rt.inspect.mu.Lock()
	out.LoadedAt = rt.inspect.loadedAt
	rt.inspect.mu.Unlock()
	out.Version, out.Modules = ver.seq, ver.sortedModuleNames()
	byFile := make(map[string]int, len(ver.scripts))
	for _, c := range ver.scripts {
		byFile[c.name] = len(out.Files)
		out.Files = append(out.Files, FileReport{File: c.name})
	}
	for _, r := range ver.report {
		if i, ok := byFile[r.script]; ok {
			out.Files[i].Handlers = append(out.Files[i].Handlers, r.HandlerInfo)
		}
	}
	return out
}

// SourceLine is one numbered line of a script.
type SourceLine struct {
	N    int
	Text string
}

// maxSourceLine bounds a line returned by Source.
const maxSourceLine = 500

// Source returns the lines line-around to line+around of file (relative
// to the scripts folder, "hello.lua" or "lib/menu.lua"), as the file is on
// disk now. Only *.lua files inside the scripts folder are read: a file
// name from an error message cannot lead anywhere else.
func (rt *Runtime) Source(file string, line, around int) ([]SourceLine, error) {
	clean := path.Clean(file)
	if clean != file || path.IsAbs(file) || strings.HasPrefix(clean, "../") || clean == ".." || !IsScriptName(path.Base(clean)) {
		return nil, fmt.Errorf("%q is not a script of the scripts folder", file)
	}
	root, err := realPath(rt.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	r := &folderReader{root: root}
	if r.fs, err = os.OpenRoot(root); err != nil {
		return nil, fmt.Errorf("reading the scripts folder: %w", err)
	}
	defer r.fs.Close()
	data, err := r.read(clean)
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, fmt.Errorf("%s: no such script", file)
	}
	var out []SourceLine
	for n, text := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if n+1 < line-around {
			continue
		}
		if n+1 > line+around {
			break
		}
		s := strings.TrimRight(string(text), "\r")
		if len(s) > maxSourceLine {
			s = s[:maxSourceLine] + "…"
		}
		out = append(out, SourceLine{N: n + 1, Text: s})
	}
	return out, nil
}
