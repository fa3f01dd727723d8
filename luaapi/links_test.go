package luaapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The secrets a link out of the scripts folder would hand to a script: a
// luarobot.toml whose first line is a comment is valid Lua.
const secretTOML = "# luarobot.toml\ntoken = \"TOKEN-SECRET\"\nreturn token\n"

// symlink makes the link at link (made relative to base) pointing to
// target, as given.
func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	saveInPlace(t, path, content)
}

// A deploy folder: base/luarobot.toml next to base/scripts.
func deployFolder(t testing.TB) (base, scripts string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "luarobot.toml"), secretTOML)
	return base, filepath.Join(base, "scripts")
}

// require never reads a file whose real path is outside the scripts
// folder: a link to outside is a missing module, and require's error says
// why. Links that stay inside keep working, relative or absolute, to files
// and to folders.
func TestRequireRefusesLinksOutside(t *testing.T) {
	base, dir := deployFolder(t)
	outside := filepath.Join(base, "elsewhere")
	writeFile(t, filepath.Join(outside, "m.lua"), `return "outside"`)
	writeFile(t, filepath.Join(dir, "lib", "menu.lua"), `return "menu"`)
	writeFile(t, filepath.Join(dir, "vendor", "shared", "util.lua"), `return "util"`)
	writeFile(t, filepath.Join(dir, "sub", "real.lua"), `robot.filter("linked", function() return "linked script" end)`)
	// Out of the folder.
	symlink(t, "../../luarobot.toml", filepath.Join(dir, "lib", "cfg.lua"))
	symlink(t, filepath.Join(base, "luarobot.toml"), filepath.Join(dir, "lib", "abscfg.lua"))
	symlink(t, "../../elsewhere", filepath.Join(dir, "lib", "ext"))
	symlink(t, "../../scripts/../luarobot.toml", filepath.Join(dir, "lib", "dotdot.lua"))
	symlink(t, "inner.lua", filepath.Join(dir, "lib", "chain.lua")) // a link to a link to outside
	symlink(t, "../../luarobot.toml", filepath.Join(dir, "lib", "inner.lua"))
	// Inside the folder.
	symlink(t, "menu.lua", filepath.Join(dir, "lib", "alias.lua"))
	symlink(t, filepath.Join(dir, "lib", "menu.lua"), filepath.Join(dir, "lib", "absalias.lua"))
	symlink(t, "../vendor/shared", filepath.Join(dir, "lib", "shared"))
	symlink(t, ".", filepath.Join(dir, "lib", "self")) // a loop: not followed
	symlink(t, "sub/real.lua", filepath.Join(dir, "linked.lua"))
	symlink(t, "nowhere.lua", filepath.Join(dir, "lib", "dangling.lua"))
	writeFile(t, filepath.Join(dir, "main.lua"), `
robot.text(function(msg)
  local ok, v = pcall(require, msg.content)
  return tostring(v)
end)`)

	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	works := map[string]string{
		"menu":        "menu",
		"alias":       "menu",
		"absalias":    "menu",
		"shared.util": "util",
		"linked":      "linked script",
	}
	for in, want := range works {
		if got := answer(t, rt, in); got != want {
			t.Errorf("require %q: %q, want %q", in, got, want)
		}
	}
	refused := map[string]string{
		"cfg":       `require "cfg": lib/cfg.lua is a link to outside the scripts folder, and is not loaded`,
		"abscfg":    `require "abscfg": lib/abscfg.lua is a link to outside the scripts folder, and is not loaded`,
		"dotdot":    `require "dotdot": lib/dotdot.lua is a link to outside the scripts folder`,
		"chain":     `require "chain": lib/chain.lua is a link to outside the scripts folder`,
		"inner":     `require "inner": lib/inner.lua is a link to outside the scripts folder`,
		"ext.m":     `require "ext.m": lib/ext/ is a link to outside the scripts folder, and nothing in it is loaded`,
		"dangling":  `require "dangling": there is no lib/dangling.lua in the scripts folder`,
		"self.menu": `require "self.menu": there is no lib/self/menu.lua`, // a loop, not followed
	}
	for in, want := range refused {
		if got := answer(t, rt, in); !strings.Contains(got, want) {
			t.Errorf("require %q:\n got %q\nwant %q", in, got, want)
		}
	}
	l := logs.String()
	if strings.Contains(l, "TOKEN-SECRET") {
		t.Errorf("the secret reached the log:\n%s", l)
	}
	for _, name := range []string{"lib/cfg.lua", "lib/abscfg.lua", "lib/ext", "lib/dotdot.lua", "lib/chain.lua"} {
		want := `level=WARN msg="not loaded: a link to outside the scripts folder; require of it fails" file=` + name + " target="
		if !strings.Contains(l, want) {
			t.Errorf("no warning for %s:\n%s", name, l)
		}
	}
}

// A script (a *.lua directly in the folder) that is a link to outside
// fails the load with an error naming it.
func TestScriptLinkOutsideFailsTheLoad(t *testing.T) {
	base, dir := deployFolder(t)
	writeFile(t, filepath.Join(dir, "main.lua"), `robot.text(function() return "x" end)`)
	symlink(t, "../luarobot.toml", filepath.Join(dir, "config.lua"))
	_, err := New(Options{Dir: dir, Logger: discardLogger()})
	want := "config.lua: not loaded: it is a link to " + filepath.Join(base, "luarobot.toml") + ", outside the scripts folder (" + dir + ")"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}

	// On a reload, the last good scripts keep serving.
	if err := os.Remove(filepath.Join(dir, "config.lua")); err != nil {
		t.Fatal(err)
	}
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	symlink(t, "../luarobot.toml", filepath.Join(dir, "config.lua"))
	if err := rt.Reload(); err == nil || !strings.HasPrefix(err.Error(), "config.lua: not loaded: it is a link to ") {
		t.Errorf("reload: %v", err)
	}
	if got := answer(t, rt, "x"); got != "x" {
		t.Errorf("after the refused reload: %q", got)
	}
	if !strings.Contains(logs.String(), `msg="scripts not reloaded; the last good ones keep serving" err="config.lua: not loaded: it is a link to `) {
		t.Errorf("the log does not name the link:\n%s", logs)
	}
}

// A lib/ folder that is a link to outside: no module is read from it.
func TestLibFolderLinkOutside(t *testing.T) {
	base, dir := deployFolder(t)
	writeFile(t, filepath.Join(base, "shared-lib", "m.lua"), `return "outside"`)
	writeFile(t, filepath.Join(dir, "main.lua"), `robot.text(function() local ok, err = pcall(require, "m") return tostring(err) end)`)
	symlink(t, "../shared-lib", filepath.Join(dir, "lib"))
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	if got, want := answer(t, rt, "x"), `require "m": lib/ is a link to outside the scripts folder, and nothing in it is loaded`; !strings.Contains(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// The same folder inside the scripts folder is fine.
	if err := os.Remove(filepath.Join(dir, "lib")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(base, "shared-lib"), filepath.Join(dir, "shared-lib")); err != nil {
		t.Fatal(err)
	}
	symlink(t, "shared-lib", filepath.Join(dir, "lib"))
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, rt, "x"); got != "outside" {
		t.Errorf("a lib/ link inside the folder: %q", got)
	}
}

// A file replaced by a link to outside between the check of its real path
// and its opening is refused, not read: the open itself refuses links out
// of the folder (os.Root).
func TestLinkSwappedInAfterTheCheck(t *testing.T) {
	base, dir := deployFolder(t)
	writeFile(t, filepath.Join(dir, "main.lua"), `robot.text(function() return "x" end)`)
	writeFile(t, filepath.Join(dir, "lib", "m.lua"), `return "module"`)
	writeFile(t, filepath.Join(dir, "lib", "sub", "n.lua"), `return "module"`)
	for _, c := range []struct{ file, swap, target string }{
		{"lib/m.lua", "lib/m.lua", "../../luarobot.toml"},                     // the file becomes a link
		{"lib/sub/n.lua", "lib/sub", "../../"},                                // a folder on its way does
		{"main.lua", "main.lua", filepath.Join(base, "luarobot.toml")},        // a script, absolute
		{"lib/m.lua", "lib/m.lua", filepath.Join(dir, "..", "luarobot.toml")}, // absolute, through ..
	} {
		t.Run(c.swap, func(t *testing.T) {
			swapped := false
			r := &folderReader{beforeOpen: func(rel string) {
				if rel != c.file || swapped {
					return
				}
				swapped = true
				p := filepath.Join(dir, filepath.FromSlash(c.swap))
				if err := os.Rename(p, p+".old"); err != nil {
					t.Fatal(err)
				}
				symlink(t, c.target, p)
			}}
			src, err := r.readSources(dir)
			if !swapped {
				t.Fatal("the file was not swapped")
			}
			if err == nil {
				t.Errorf("no error; read %v", src.libs)
			} else if strings.Contains(err.Error(), "TOKEN-SECRET") || !strings.Contains(err.Error(), "escapes") {
				t.Errorf("err = %v", err)
			}
			if src != nil {
				for _, s := range append(src.scripts, src.libs...) {
					if strings.Contains(string(s.data), "TOKEN-SECRET") {
						t.Errorf("%s was read from outside", s.name)
					}
				}
			}
			p := filepath.Join(dir, filepath.FromSlash(c.swap))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p+".old", p); err != nil {
				t.Fatal(err)
			}
		})
	}
	// Untouched, the folder reads fine.
	if _, err := readSources(dir); err != nil {
		t.Fatal(err)
	}
}
