package luaapi

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/reply"
)

// Saving a file the ways editors do.

func saveInPlace(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// saveByRename writes a temp file and renames it over the file (VS Code,
// most "atomic save" editors).
func saveByRename(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp" + fmt.Sprint(time.Now().UnixNano())
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// saveVimStyle moves the file to a backup, writes a new file, removes the
// backup (vim's default with backupcopy=no).
func saveVimStyle(t testing.TB, path, content string) {
	t.Helper()
	if err := os.Rename(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "4913"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(filepath.Dir(path), "4913"))
	saveInPlace(t, path, content)
	os.Remove(path + "~")
}

func answer(t testing.TB, rt *Runtime, content string) string {
	t.Helper()
	r, _, err := rt.Dispatch(context.Background(), textMsg(content), nil)
	if err != nil {
		return "error: " + err.Error()
	}
	return textOf(r)
}

// watch starts rt.Watch, waits until it watches, and stops it when the
// test ends.
func watch(t testing.TB, rt *Runtime, logs *logBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	})
	eventually(t, "the watcher to start", func() bool { return strings.Contains(logs.String(), "watching the scripts") })
}

func TestReload(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "v1" end)`})
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "v2" end)`)
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "v2" {
		t.Errorf("after Reload: %q", got)
	}

	// A broken save: the error names the line, v2 keeps serving.
	saveInPlace(t, filepath.Join(dir, "a.lua"), "robot.text(function() return \"v3\" end)\nlocal = 1")
	err := rt.Reload()
	if err == nil || !strings.HasPrefix(err.Error(), "a.lua:2: ") {
		t.Errorf("broken save: err = %v", err)
	}
	if got := answer(t, rt, "x"); got != "v2" {
		t.Errorf("after a broken save: %q, want the last good v2", got)
	}
	if !strings.Contains(logs.String(), "scripts not reloaded; the last good ones keep serving") || !strings.Contains(logs.String(), "a.lua:2: ") {
		t.Errorf("the log does not say where it is broken:\n%s", logs)
	}
	// A top level that fails at run time is the same.
	saveInPlace(t, filepath.Join(dir, "a.lua"), "robot.text(function() return 'v3' end)\nerror('nope')")
	if err := rt.Reload(); err == nil || !strings.HasPrefix(err.Error(), "a.lua:2: nope") {
		t.Errorf("failing top level: err = %v", err)
	}
	if got := answer(t, rt, "x"); got != "v2" {
		t.Errorf("after a failing top level: %q", got)
	}
}

// Requests in flight finish on the scripts they started with.
func TestInFlightFinishOnOldScripts(t *testing.T) {
	started := make(chan struct{})
	proceed := make(chan struct{})
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		close(started)
		<-proceed
		return nil
	}
	dir := writeScripts(t, map[string]string{"a.lua": `
robot.text(function(msg)
  if msg.content == "slow" then robot.send(msg.source, "wait") end
  return "old"
end)`})
	rt, _ := startRuntime(t, nil, Options{Dir: dir, Send: send})
	slow := make(chan string)
	go func() { slow <- answer(t, rt, "slow") }()
	<-started
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "new" end)`)
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "new" {
		t.Errorf("a new request: %q", got)
	}
	close(proceed)
	if got := <-slow; got != "old" {
		t.Errorf("the request in flight: %q, want old", got)
	}
}

// Hot reload: every kind of save becomes live.
func TestWatchSaves(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua":        `local m = require "menu" robot.text(function(msg) return m.answer(msg.content) end)`,
		"lib/menu.lua": `return { answer = function(c) return "a1:" .. c end }`,
	})
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	watch(t, rt, logs)
	waitFor := func(what, content, want string) {
		t.Helper()
		eventually(t, what, func() bool { return answer(t, rt, content) == want })
	}
	saveInPlace(t, filepath.Join(dir, "lib", "menu.lua"), `return { answer = function(c) return "a2:" .. c end }`)
	waitFor("an edited lib module", "x", "a2:x")

	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function(msg) return "in place" end)`)
	waitFor("a save in place", "x", "in place")

	saveByRename(t, filepath.Join(dir, "a.lua"), `robot.text(function(msg) return "renamed" end)`)
	waitFor("a save by rename", "x", "renamed")

	saveVimStyle(t, filepath.Join(dir, "a.lua"), `robot.text(function(msg) return "vim" end)`)
	waitFor("a vim save", "x", "vim")

	saveInPlace(t, filepath.Join(dir, "0-new.lua"), `robot.filter("new", function() return "new file" end)`)
	waitFor("a new file", "new", "new file")

	if err := os.Remove(filepath.Join(dir, "0-new.lua")); err != nil {
		t.Fatal(err)
	}
	waitFor("a deleted file", "new", "vim")

	// A new subfolder of lib, and a module in it.
	if err := os.MkdirAll(filepath.Join(dir, "lib", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	saveInPlace(t, filepath.Join(dir, "lib", "sub", "deep.lua"), `return "deep v1"`)
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function(msg) return require("sub.deep") end)`)
	waitFor("a module in a new folder", "x", "deep v1")
	saveInPlace(t, filepath.Join(dir, "lib", "sub", "deep.lua"), `return "deep v2"`)
	waitFor("an edit in the new folder", "x", "deep v2")

	// A broken save keeps the last good scripts; fixing it goes live.
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function(msg) return "broken" `)
	saveInPlace(t, filepath.Join(dir, "b.lua"), `robot.filter("probe", function() return "probe" end)`)
	// b.lua loads only with a.lua: the set stays the last good one.
	for i := 0; i < 3; i++ {
		time.Sleep(3 * debounce)
		if got := answer(t, rt, "x"); got != "deep v2" {
			t.Fatalf("a broken save went live: %q", got)
		}
	}
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.filter("x", function(msg) return "fixed" end)`)
	waitFor("the fixed save", "x", "fixed")
	waitFor("the file saved while another was broken", "probe", "probe")
}

// The scripts folder itself replaced by rename, the common deploy (mv
// scripts scripts.old; mv scripts.new scripts), then moved away and made
// again, then removed and made again: the watcher follows the path,
// reloads what is there now, says so at warn level, and later saves are
// picked up. While the folder is gone the loaded scripts keep serving.
func TestWatchFolderReplaced(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "scripts")
	write := func(dir, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "lib"), 0o755); err != nil {
			t.Fatal(err)
		}
		saveInPlace(t, filepath.Join(dir, "lib", "m.lua"), `return "`+content+`"`)
		saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return require "m" end)`)
	}
	write(dir, "v1")
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	watch(t, rt, logs)
	waitFor := func(what, want string) {
		t.Helper()
		eventually(t, what, func() bool { return answer(t, rt, "x") == want })
	}
	const (
		lostLine = `level=WARN msg="the scripts folder was moved away or removed; the scripts loaded keep serving, and hot reload resumes when it is back"`
		backLine = `level=WARN msg="the scripts folder is back; watching it again and reloading"`
	)
	waitLost := func(times int) {
		t.Helper()
		eventually(t, "the watcher to see the folder gone", func() bool { return strings.Count(logs.String(), lostLine) >= times })
	}

	next := filepath.Join(parent, "scripts.new")
	write(next, "v2")
	if err := os.Rename(dir, filepath.Join(parent, "scripts.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	waitFor("the replaced folder", "v2")
	saveInPlace(t, filepath.Join(dir, "lib", "m.lua"), `return "v3"`)
	waitFor("a save in the replaced folder", "v3")
	// The old folder is no longer watched: its changes do nothing.
	saveInPlace(t, filepath.Join(parent, "scripts.old", "lib", "m.lua"), `return "old"`)

	// Moved away (one rename: no file of the set changes on the way),
	// then made again a while later.
	if err := os.Rename(dir, filepath.Join(parent, "scripts.gone")); err != nil {
		t.Fatal(err)
	}
	waitLost(2)
	time.Sleep(3 * pollRoot) // a few looks for the folder
	if got := answer(t, rt, "x"); got != "v3" {
		t.Errorf("while the folder is gone: %q (the loaded scripts keep serving)", got)
	}
	write(dir, "v4")
	waitFor("the folder made again", "v4")
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "v5" end)`)
	waitFor("a save in the folder made again", "v5")

	// Removed, then made again. rm -rf takes the files one at a time: a
	// busy machine may spread that over more than the debounce, and a
	// reload half-way loads what is left (a removed file is a change like
	// any other), so what is served meanwhile is not checked here.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitLost(3)
	write(dir, "v6")
	waitFor("the folder made again after its removal", "v6")

	l := logs.String()
	for _, want := range []string{lostLine, backLine} {
		if strings.Count(l, want) != 3 {
			t.Errorf("the log has %d times %s, want 3:\n%s", strings.Count(l, want), want, l)
		}
	}
}

// inotifyWatches counts the inotify watches this process holds (Linux).
func inotifyWatches(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fdinfo")
	if err != nil {
		t.Skipf("cannot count inotify watches: %v", err)
	}
	n := 0
	for _, fd := range fds {
		b, err := os.ReadFile("/proc/self/fdinfo/" + fd.Name())
		if err == nil {
			n += strings.Count(string(b), "inotify wd:")
		}
	}
	return n
}

// A folder moved out of the scripts folder takes its watches with it: the
// folder's own, and its subfolders', which inotify would keep (reporting
// changes outside the scripts folder under their old names) for the life
// of the process.
func TestWatchForgetsFoldersMovedOut(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua":           `robot.text(function() return "v1" end)`,
		"lib/x/y/z/m.lua": `return 1`,
	})
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	watch(t, rt, logs)
	before := inotifyWatches(t)
	if before < 5 {
		t.Skipf("%d inotify watches seen, want at least the 5 folders", before)
	}
	if err := os.Rename(filepath.Join(dir, "lib", "x"), filepath.Join(t.TempDir(), "moved")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the watches of the 3 folders moved out to go", func() bool { return inotifyWatches(t) == before-3 })
	// A folder moved in is watched, all the way down.
	if err := os.MkdirAll(filepath.Join(dir, "lib", "n", "o"), 0o755); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new folders to be watched", func() bool { return inotifyWatches(t) == before-1 })
	saveInPlace(t, filepath.Join(dir, "lib", "n", "o", "p.lua"), `return "deep"`)
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return require "n.o.p" end)`)
	eventually(t, "a module in the new folder", func() bool { return answer(t, rt, "x") == "deep" })
}

// Saves while requests run: none fails, every answer comes from one of the
// versions, and the last version ends up serving. Saves alternate between
// writing in place and writing a temp file then renaming it.
func TestReloadUnderLoad(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua":           `local v = require "version" robot.text(function(msg, session) session.n = (session.n or 0) + 1 return v .. "/a0" end)`,
		"lib/version.lua": `return "v0"`,
	})
	rt, logs := startRuntime(t, nil, Options{Dir: dir, PoolSize: 4})
	watch(t, rt, logs)

	var total, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var session []byte
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, s, err := rt.Dispatch(context.Background(), textMsg("x"), session)
				total.Add(1)
				got := textOf(r)
				if err != nil || !strings.HasPrefix(got, "v") || !strings.Contains(got, "/a") {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%q %v", got, err))
					mu.Unlock()
				}
				if s != nil {
					session = s
				}
			}
		}()
	}
	const saves = 12
	for i := 1; i <= saves; i++ {
		save := saveInPlace
		if i%2 == 0 {
			save = saveByRename
		}
		if i%3 == 0 {
			save(t, filepath.Join(dir, "lib", "version.lua"), fmt.Sprintf(`return "v%d"`, i))
		} else {
			save(t, filepath.Join(dir, "a.lua"), fmt.Sprintf(
				`local v = require "version" robot.text(function(msg, session) session.n = (session.n or 0) + 1 return v .. "/a%d" end)`, i))
		}
		time.Sleep(2 * debounce) // let some of the saves go live, not all
	}
	eventually(t, "the last save to serve", func() bool { return answer(t, rt, "x") == "v12/a11" })
	close(stop)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed during reloads, e.g. %v", failed.Load(), total.Load(), failures[:min(len(failures), 5)])
	}
	if n := strings.Count(logs.String(), "scripts loaded"); n < 2 {
		t.Errorf("only %d loads during the test", n)
	}
	t.Logf("%d requests, %d reloads", total.Load(), strings.Count(logs.String(), "scripts loaded")-1)
}

// robot.on_load runs once per successful load, not once per state.
func TestOnLoadRunsOnce(t *testing.T) {
	values := newMemValues()
	dir := writeScripts(t, map[string]string{"a.lua": `
robot.on_load(function() robot.store.incr("loads") end)
robot.text(function() return tostring(robot.store.get("loads")) end)`})
	rt, _ := startRuntime(t, nil, Options{Dir: dir, PoolSize: 4, Values: values})
	// Make the pool create several states.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); answer(t, rt, "x") }()
	}
	wg.Wait()
	if got := answer(t, rt, "x"); got != "1" {
		t.Errorf("after New: loads = %s", got)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "2" {
		t.Errorf("after Reload: loads = %s", got)
	}
}

// A reload triggered by a change that changes nothing is skipped.
func TestReloadSkipsUnchanged(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "x" end)`})
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	seq := rt.cur.Load().seq
	if err := rt.reload(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if rt.cur.Load().seq != seq || strings.Count(logs.String(), "scripts loaded") != 1 {
		t.Error("an unchanged folder was reloaded")
	}
}

// A save by truncate-then-write can be read between the two: a reload that
// finds a file empty which had content waits for the write instead of
// serving a bot without that file's handlers; a file really emptied still
// loads, a moment later.
func TestReloadWaitsOutAHalfWrittenSave(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "v1" end)`})
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	file := filepath.Join(dir, "a.lua")

	if err := os.WriteFile(file, nil, 0o644); err != nil { // truncated...
		t.Fatal(err)
	}
	go func() {
		time.Sleep(2 * debounce) // ...and written a little later
		os.WriteFile(file, []byte(`robot.text(function() return "v2" end)`), 0o644)
	}()
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "v2" {
		t.Errorf("after a half-written save: %q, want v2 (the empty file must never serve)", got)
	}

	// Emptied for good: loaded once the rereads are over.
	if err := os.WriteFile(file, []byte("  \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "<nil>" {
		t.Errorf("after emptying the file: %q, want no answer", got)
	}
}
