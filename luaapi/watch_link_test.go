package luaapi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRelease makes a release folder of the deploy layout: a script that
// answers what lib/version.lua returns.
func writeRelease(t testing.TB, dir, version string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "lib", "version.lua"), `return "`+version+`"`)
	writeFile(t, filepath.Join(dir, "a.lua"), `local v = require "version" robot.text(function() return v end)`)
}

// repoint points link to target the way `ln -sfn target link` does: a new
// link renamed over the old one, so the link is never missing.
func repoint(t testing.TB, target, link string) {
	t.Helper()
	tmp := link + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// The deploy layout scripts -> releases/N: served through the link,
// hot-reloaded when a file is edited through it, and when the link is
// re-pointed; the log names the folder watched.
func TestWatchLinkedFolder(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1", "2", "3"} {
		writeRelease(t, filepath.Join(base, "releases", v), "v"+v)
	}
	link := filepath.Join(base, "scripts")
	symlink(t, "releases/1", link)
	rt, logs := startRuntime(t, nil, Options{Dir: link})
	watch(t, rt, logs)
	waitFor := func(what, want string) {
		t.Helper()
		eventually(t, what, func() bool { return answer(t, rt, "x") == want })
	}
	if got := answer(t, rt, "x"); got != "v1" {
		t.Fatalf("served: %q", got)
	}
	if want := `msg="watching the scripts" dir=` + link + " path=" + filepath.Join(base, "releases", "1") + " folders=2 links=" + link; !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say what is watched: want %s in\n%s", want, logs)
	}

	// An edit through the link.
	saveInPlace(t, filepath.Join(link, "lib", "version.lua"), `return "v1 edited"`)
	waitFor("an edit through the link", "v1 edited")
	saveByRename(t, filepath.Join(link, "a.lua"), `robot.text(function() return "v1 renamed" end)`)
	waitFor("a save by rename through the link", "v1 renamed")

	// The link re-pointed.
	repoint(t, "releases/2", link)
	waitFor("the re-pointed link", "v2")
	if want := `msg="the scripts folder now leads to another folder; watching it and reloading" dir=` + link + " path=" + filepath.Join(base, "releases", "2"); !strings.Contains(logs.String(), want) {
		t.Errorf("the log does not say the link moved: want %s in\n%s", want, logs)
	}
	if want := `msg="scripts loaded" dir=` + link; !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "path="+filepath.Join(base, "releases", "2")) {
		t.Errorf("the load is not logged with its folder:\n%s", logs)
	}
	saveInPlace(t, filepath.Join(link, "lib", "version.lua"), `return "v2 edited"`)
	waitFor("an edit in the new target", "v2 edited")
	// The old target is no longer watched: an edit there does nothing,
	// which a later edit in the new target shows.
	saveInPlace(t, filepath.Join(base, "releases", "1", "a.lua"), `robot.text(function() return "old release" end)`)
	saveInPlace(t, filepath.Join(base, "releases", "2", "lib", "version.lua"), `return "v2 again"`)
	waitFor("an edit after one in the old target", "v2 again")
	for i := 0; i < 3; i++ {
		time.Sleep(3 * debounce)
		if got := answer(t, rt, "x"); got != "v2 again" {
			t.Fatalf("the old target is still watched: %q", got)
		}
	}

	// With ln itself, when the system has it.
	if _, err := exec.LookPath("ln"); err == nil {
		cmd := exec.Command("ln", "-sfn", "releases/3", "scripts")
		cmd.Dir = base
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ln -sfn: %v: %s", err, out)
		}
		waitFor("ln -sfn releases/3 scripts", "v3")
	}

	// The link removed, then made again.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the warning", func() bool {
		return strings.Contains(logs.String(), "the scripts folder was moved away or removed")
	})
	symlink(t, "releases/1", link)
	waitFor("the link made again", "old release")
	if !strings.Contains(logs.String(), `msg="the scripts folder is back; watching it again and reloading" dir=`+link) {
		t.Errorf("no log of the link being back:\n%s", logs)
	}
}

// A link further up the path (current -> releases/N, scripts in it) is
// followed the same way, and so is a chain of links.
func TestWatchFolderUnderLink(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeRelease(t, filepath.Join(base, "releases", "1", "scripts"), "v1")
	writeRelease(t, filepath.Join(base, "releases", "2", "scripts"), "v2")
	symlink(t, "releases/1", filepath.Join(base, "current"))
	symlink(t, "current", filepath.Join(base, "live")) // live -> current -> releases/1
	dir := filepath.Join(base, "live", "scripts")
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	watch(t, rt, logs)
	if want := `links="` + filepath.Join(base, "current") + ", " + filepath.Join(base, "live") + `"`; !strings.Contains(logs.String(), want) {
		t.Errorf("want %s in\n%s", want, logs)
	}
	repoint(t, "releases/2", filepath.Join(base, "current"))
	eventually(t, "the re-pointed link up the path", func() bool { return answer(t, rt, "x") == "v2" })
	saveInPlace(t, filepath.Join(dir, "lib", "version.lua"), `return "v2 edited"`)
	eventually(t, "an edit through both links", func() bool { return answer(t, rt, "x") == "v2 edited" })
}
