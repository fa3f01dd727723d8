package luaapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReloadHistoryAndLoaded(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{
		"a.lua":        "robot.text(function() return 'v1' end)\nrobot.key_click('music', function() return 'm' end)\n",
		"b.lua":        "local menu = require 'menu'\nrobot.subscribe(function() return menu.hello end)\n",
		"lib/menu.lua": "return {hello = 'hi'}\n",
	}, Options{})
	dir := rt.opts.Dir

	loaded := rt.Loaded()
	if loaded.Version == 0 || loaded.LoadedAt.IsZero() || len(loaded.Files) != 2 || len(loaded.Modules) != 1 {
		t.Fatalf("Loaded() = %+v", loaded)
	}
	a := loaded.Files[0]
	if a.File != "a.lua" || len(a.Handlers) != 2 || a.Handlers[0].At != "a.lua:1" || a.Handlers[1].Func != "key_click" || a.Handlers[1].Rule != `key "music"` {
		t.Errorf("a.lua = %+v", a)
	}
	if b := loaded.Files[1]; b.File != "b.lua" || len(b.Handlers) != 1 || b.Handlers[0].Type != "subscribe_event" {
		t.Errorf("b.lua = %+v", b)
	}
	hist := rt.Reloads()
	if len(hist) != 1 || !hist[0].OK || hist[0].Version != loaded.Version || hist[0].Scripts != 2 || hist[0].Modules != 1 || hist[0].Registrations != 3 {
		t.Fatalf("history after start = %+v", hist)
	}

	changed := rt.Changed()
	// A broken save: recorded with its position, the old set serving.
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte("robot.text(function()\n  return 'v2'\nend\nrobot.nothing(\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err == nil {
		t.Fatal("broken script loaded")
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed by a failed reload")
	}
	hist = rt.Reloads()
	last := hist[len(hist)-1]
	if len(hist) != 2 || last.OK || last.Err == nil || last.Err.File != "a.lua" || last.Err.Line != 4 {
		t.Fatalf("history after a broken save = %+v (err %v)", hist, last.Err)
	}
	if rt.Loaded().Version != loaded.Version {
		t.Error("the broken set replaced the good one")
	}
	lines, err := rt.Source(last.Err.File, last.Err.Line, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0].N != 2 || lines[1].Text != "end" || lines[2].Text != "robot.nothing(" || lines[2].N != 4 {
		t.Errorf("Source around a.lua:4 = %+v", lines)
	}

	// Unchanged files: no reload recorded. Fixed: a new version.
	if err := rt.reload(t.Context(), false); err == nil {
		t.Fatal("still broken, yet loaded")
	}
	os.WriteFile(filepath.Join(dir, "a.lua"), []byte("robot.text(function() return 'v3' end)\n"), 0o644)
	if err := rt.reload(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if err := rt.reload(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	hist = rt.Reloads()
	if len(hist) != 4 || !hist[3].OK || hist[3].Version <= loaded.Version || hist[3].Registrations != 2 {
		t.Errorf("history after the fix = %+v", hist)
	}
}

func TestReloadHistoryIsBounded(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": "robot.text(function() return 'x' end)"}, Options{})
	for range maxReloadHistory + 5 {
		if err := rt.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rt.Reloads()); n != maxReloadHistory {
		t.Errorf("%d reloads remembered", n)
	}
}

func TestLastHandlerError(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": "robot.text(function(m)\n  if m.content == 'bad' then\n    error('no good')\n  end\n  return 'ok'\nend)\n"}, Options{})
	if _, ok := rt.LastHandlerError(); ok {
		t.Error("an error before any")
	}
	answer(t, rt, "fine")
	if got := answer(t, rt, "bad"); !strings.Contains(got, "a.lua:3: no good") {
		t.Fatalf("answer = %s", got)
	}
	rec, ok := rt.LastHandlerError()
	if !ok || rec.Err.File != "a.lua" || rec.Err.Line != 3 || rec.At.IsZero() {
		t.Errorf("LastHandlerError = %+v, %v", rec, ok)
	}
}

func TestSourceStaysInTheScriptsFolder(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": "robot.text(function() return 'x' end)"}, Options{})
	dir := rt.opts.Dir
	secret := filepath.Join(t.TempDir(), "secret.lua")
	os.WriteFile(secret, []byte("token = 'hunter2'\n"), 0o644)
	if err := os.Symlink(secret, filepath.Join(dir, "link.lua")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a script"), 0o644)
	for _, name := range []string{"../secret.lua", "/etc/passwd", secret, "link.lua", "notes.txt", "./a.lua", "lib/../../x.lua", "missing.lua"} {
		lines, err := rt.Source(name, 1, 3)
		if err == nil {
			t.Errorf("Source(%q) = %+v, want an error", name, lines)
		}
		for _, l := range lines {
			if strings.Contains(l.Text, "hunter2") {
				t.Errorf("Source(%q) read outside the folder", name)
			}
		}
	}
	if lines, err := rt.Source("a.lua", 1, 3); err != nil || len(lines) != 1 {
		t.Errorf("Source(a.lua) = %+v, %v", lines, err)
	}
}
