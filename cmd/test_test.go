package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/config"
)

// luarobot test: flags before or after the folder, exit status 1 on a
// failure, 2 on a bad command line.
func TestTestCommand(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"bot.lua":      `robot.text(function(m) return "echo " .. m.content end)`,
		"bot_test.lua": "test('echo', function(t) t:user():send('x'):expect('echo x') end)\ntest('broken', function(t) t:user():send('x'):expect('y') end)\n",
	})
	for _, args := range [][]string{
		{dir, "--run", "echo", "-v"},
		{"-v", dir, "--run", "echo"},
		{"--run=echo", "-v", dir},
	} {
		var out bytes.Buffer
		if err := testRun(context.Background(), args, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		if want := "ok echo\n    oTestUser1: text \"x\" → text \"echo x\"\n1 passed, 0 failed\n"; out.String() != want {
			t.Errorf("%v:\n%s\nwant\n%s", args, out.String(), want)
		}
	}
	var out bytes.Buffer
	err := testRun(context.Background(), []string{dir}, &out)
	var exit exitError
	if !errors.As(err, &exit) || exit != 1 || !strings.Contains(out.String(), "FAIL broken: bot_test.lua:2: ") {
		t.Errorf("a failing test: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{dir, dir}, {"--bogus"}} {
		var usage usageError
		if err := testRun(context.Background(), args, &out); !errors.As(err, &usage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

// luarobot init makes a project that passes luarobot test and loads its
// configuration; run again, it keeps every file.
func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bot")
	var out bytes.Buffer
	if err := initRun([]string{dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"scripts/hello.lua", "scripts/hello_test.lua", ".luarc.json", "luarobot.toml"} {
		if !strings.Contains(out.String(), "created "+filepath.Join(dir, name)+"\n") {
			t.Errorf("output lacks %s:\n%s", name, out.String())
		}
	}
	// types writes luarobot.d.lua, and serve reads luarobot.toml, in the
	// working folder: run from where init was, they would miss the project.
	if want := "\nNext: cd " + dir + ", then luarobot test, luarobot types (editor definitions), luarobot serve.\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("output does not end with %q:\n%s", want, out.String())
	}
	if got := nextSteps("./"); got != "Next: luarobot test, luarobot types (editor definitions), luarobot serve." {
		t.Errorf("init in the working folder: %q", got)
	}

	var report bytes.Buffer
	if err := testRun(context.Background(), []string{filepath.Join(dir, "scripts")}, &report); err != nil {
		t.Fatalf("the new project's tests: %v\n%s", err, report.String())
	}
	if !strings.HasSuffix(report.String(), "4 passed, 0 failed\n") {
		t.Errorf("report:\n%s", report.String())
	}

	cfg, err := config.Loader{File: filepath.Join(dir, "luarobot.toml"), FileExplicit: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := config.CheckToken(cfg.Token); err != nil || len(cfg.Token) != 32 {
		t.Errorf("token %q: %v", cfg.Token, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "luarobot.toml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("luarobot.toml mode: %v, %v", fi.Mode(), err)
	}
	var luarc map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, ".luarc.json"))
	if err := json.Unmarshal(data, &luarc); err != nil {
		t.Fatalf(".luarc.json: %v", err)
	}
	if lib, _ := luarc["workspace.library"].([]any); len(lib) != 1 || lib[0] != "luarobot.d.lua" {
		t.Errorf(".luarc.json does not point at luarobot.d.lua: %v", luarc["workspace.library"])
	}

	// Again: nothing is overwritten, not even a changed file.
	hello := filepath.Join(dir, "scripts", "hello.lua")
	if err := os.WriteFile(hello, []byte("-- mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := initRun([]string{dir}, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "created") || strings.Count(out.String(), "kept ") != 4 {
		t.Errorf("second init:\n%s", out.String())
	}
	if data, _ := os.ReadFile(hello); string(data) != "-- mine\n" {
		t.Errorf("hello.lua overwritten: %q", data)
	}
	cfg2, _ := config.Loader{File: filepath.Join(dir, "luarobot.toml"), FileExplicit: true}.Load()
	if cfg2.Token != cfg.Token {
		t.Error("the token changed")
	}
}

// luarobot init in a project that has scripts adds no script to them: a
// hello.lua there would join the served bot (answering every text its
// handlers leave, hot-reloaded into a running one) and its tests would
// fail against the project's own handlers. The rest is created; the
// output says why the scripts were left alone, and the project still
// passes luarobot test.
func TestInitIntoAProject(t *testing.T) {
	dir := t.TempDir()
	bot := `robot.text(function(m) return "mine: " .. m.content end)` + "\n"
	scripts := filepath.Join(dir, "scripts")
	if err := os.MkdirAll(scripts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scripts, "bot.lua"), []byte(bot), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := initRun([]string{dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hello.lua", "hello_test.lua"} {
		if _, err := os.Stat(filepath.Join(scripts, name)); err == nil {
			t.Errorf("scripts/%s added to a bot that has scripts:\n%s", name, out.String())
		}
	}
	for _, s := range []string{
		"created " + filepath.Join(dir, ".luarc.json") + "\n",
		"created " + filepath.Join(dir, "luarobot.toml") + "\n",
		"kept " + scripts + " as it is: it has scripts of its own",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	var report bytes.Buffer
	if err := testRun(context.Background(), []string{scripts}, &report); err != nil {
		t.Errorf("luarobot test: %v\n%s", err, report.String())
	}
}
