package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The deploy layout at the process level: `luarobot serve` with scripts ->
// releases/N and load_timeout from the command line. The host serves the
// link's target, follows a re-pointed link, stops a looping save at
// load_timeout with a log line naming the file, and a later fix goes live.
func TestServeLinkedScriptsAndLoadTimeout(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bot := func(answer string) string {
		return `robot.text(function() return "` + answer + `" end)`
	}
	write(filepath.Join(base, "releases", "1", "bot.lua"), bot("release 1"))
	write(filepath.Join(base, "releases", "2", "bot.lua"), bot("release 2"))
	link := filepath.Join(base, "scripts")
	if err := os.Symlink("releases/1", link); err != nil {
		t.Fatal(err)
	}
	p := startHost(t, "--session_storage", "memory", "--scripts", link, "--load_timeout", "1s")
	sim := p.simulator(t, false)
	waitFor := func(what, text string) {
		t.Helper()
		want := "text reply to oUser\n  " + text
		deadline := time.Now().Add(20 * time.Second)
		for got := sim.text("oUser", "hi"); got != want; got = sim.text("oUser", "hi") {
			if time.Now().After(deadline) {
				t.Fatalf("%s: answered %q, want %q", what, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("the link's target", "release 1")
	if want := `msg="watching the scripts" dir=` + link + " path=" + filepath.Join(base, "releases", "1"); !strings.Contains(p.log(), want) {
		t.Errorf("the log does not say what is watched; want %s", want)
	}

	write(filepath.Join(link, "bot.lua"), bot("release 1 edited"))
	waitFor("an edit through the link", "release 1 edited")

	tmp := link + ".new"
	if err := os.Symlink("releases/2", tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
	waitFor("the re-pointed link", "release 2")

	// 0-loop.lua runs before bot.lua: once fixed, its handler answers.
	write(filepath.Join(link, "0-loop.lua"), "\nwhile true do end\n")
	want := `err="0-loop.lua:2: stopped: the top level was still running at load_timeout (1s)"`
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line of the stopped reload; want %s", want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor("the last good scripts", "release 2")
	write(filepath.Join(link, "0-loop.lua"), bot("fixed"))
	waitFor("the fix", "fixed")
}
