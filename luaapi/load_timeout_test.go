package luaapi

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const loopingTopLevel = "print('looping')\nwhile true do end\n"

// A top level that never ends is stopped at load_timeout, not at
// handler_timeout; the error and the log name the file and line.
func TestLoadTimeout(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "good" end)`})
	rt, logs := startRuntime(t, nil, Options{Dir: dir, LoadTimeout: time.Second, HandlerTimeout: time.Hour})
	saveInPlace(t, filepath.Join(dir, "b.lua"), loopingTopLevel)
	err := rt.Reload()
	want := "b.lua:2: stopped: the top level was still running at load_timeout (1s)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="scripts not reloaded; the last good ones keep serving" err="`+want+`"`) {
		t.Errorf("no log line names the file:\n%s", logs)
	}
	if got := answer(t, rt, "x"); got != "good" {
		t.Errorf("after the stopped reload: %q", got)
	}

	// At startup, the same.
	_, err = New(Options{Dir: dir, LoadTimeout: time.Second, HandlerTimeout: time.Hour, Logger: discardLogger()})
	if err == nil || err.Error() != want {
		t.Errorf("New: %v, want %s", err, want)
	}
}

// A newer save supersedes a reload whose top level loops: the fix goes live
// without waiting for load_timeout (an hour here), and the log says the
// looping reload was stopped, and where.
func TestNewerSaveSupersedesReload(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "v1" end)`})
	rt, logs := startRuntime(t, nil, Options{Dir: dir, LoadTimeout: time.Hour, HandlerTimeout: time.Hour})
	watch(t, rt, logs)
	saveInPlace(t, filepath.Join(dir, "a.lua"), loopingTopLevel)
	eventually(t, "the broken save's reload to run", func() bool { return strings.Contains(logs.String(), "msg=looping") })
	if got := answer(t, rt, "x"); got != "v1" {
		t.Errorf("while the broken save loads: %q", got)
	}
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "fixed" end)`)
	eventually(t, "the fix to go live", func() bool { return answer(t, rt, "x") == "fixed" })
	eventually(t, "the log of the stopped reload", func() bool {
		return strings.Contains(logs.String(), `msg="a newer change superseded the reload in progress" stopped="a.lua:2: stopped: a newer change superseded this reload"`)
	})
}

// startLoopingReload starts a Reload of a save whose top level loops, with
// load_timeout an hour, and returns once the loop runs. done gets what
// Reload returns.
func startLoopingReload(t *testing.T) (rt *Runtime, dir string, done <-chan error) {
	t.Helper()
	dir = writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "v1" end)`})
	rt, logs := startRuntime(t, nil, Options{Dir: dir, LoadTimeout: time.Hour, HandlerTimeout: time.Hour})
	saveInPlace(t, filepath.Join(dir, "a.lua"), loopingTopLevel)
	ch := make(chan error, 1)
	go func() { ch <- rt.Reload() }()
	eventually(t, "the looping reload to run", func() bool { return strings.Contains(logs.String(), "msg=looping") })
	return rt, dir, ch
}

// Reload calls supersede each other the same way.
func TestReloadSupersedesReload(t *testing.T) {
	rt, dir, done := startLoopingReload(t)
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "fixed" end)`)
	if err := rt.Reload(); err != nil {
		t.Errorf("the newer Reload: %v", err)
	}
	if got := answer(t, rt, "x"); got != "fixed" {
		t.Errorf("after the newer Reload: %q", got)
	}
	if err := <-done; err == nil || !errors.Is(err, errSuperseded) {
		t.Errorf("the superseded Reload: %v", err)
	}
}

// Close stops a reload in progress rather than waiting for load_timeout.
func TestCloseStopsReload(t *testing.T) {
	rt, _, done := startLoopingReload(t)
	closed := make(chan struct{})
	go func() { rt.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waits for the looping reload")
	}
	if err := <-done; err == nil || !errors.Is(err, ErrClosed) {
		t.Errorf("the reload: %v", err)
	}
	if err := rt.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close: %v", err)
	}
}
