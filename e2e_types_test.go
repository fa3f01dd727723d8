package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// TestTypesCommand runs `luarobot types` as an author does: the default
// file in the current folder, a named file, the standard output, and the
// errors.
func TestTypesCommand(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (stdout, stderr string, err error) {
		cmd := exec.Command(binary, append([]string{"types"}, args...)...)
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err = cmd.Run()
		return out.String(), errb.String(), err
	}

	// The default: luarobot.d.lua in the current folder, where the
	// .luarc.json of luarobot init points.
	_, stderr, err := run()
	if err != nil {
		t.Fatalf("luarobot types: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "wrote luarobot.d.lua") {
		t.Errorf("stderr: %q", stderr)
	}
	file := filepath.Join(dir, "luarobot.d.lua")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.HasPrefix(text, "---@meta _\n") {
		t.Errorf("the file starts with %q", text[:min(40, len(text))])
	}
	for _, want := range []string{
		"function robot.text(fn) end",                         // a registration
		"---@class robot.Message.click_event : robot.Message", // a message class
		"function robot.reply.music(title, description, url, hq_url, thumb_media_id) end",
		"function robot.client.send_text_message(user_id, content, kf_account) end",
		"function robot_Dialog:ask(prompt, opts) end",
		"---@field late_replies integer",                 // robot.Stats, from the host's Stats
		"function test(name, fn) end",                    // the test API
		"function luarobot_Reply:expect_contains(s) end", // its reply checks
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the file lacks %q", want)
		}
	}
	if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v %v", info.Mode(), err)
	}
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(text); err != nil {
		t.Errorf("the file is not Lua: %v", err)
	}

	// "-" writes the same to the standard output; a path writes there,
	// replacing what was there. The output does not vary from run to run.
	stdout, _, err := run("-")
	if err != nil || stdout != text {
		t.Errorf("types - (err %v) differs from the file", err)
	}
	other := filepath.Join(dir, "types", "robot.d.lua")
	if err := os.MkdirAll(filepath.Dir(other), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := run("types/robot.d.lua"); err != nil {
		t.Fatalf("types types/robot.d.lua: %v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(other); string(got) != text {
		t.Error("types FILE did not write the same definitions")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "types", ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// Errors name what is wrong.
	if _, stderr, err := run("a.lua", "b.lua"); err == nil || !strings.Contains(stderr, "one file expected, got 2") {
		t.Errorf("two files: %v %q", err, stderr)
	}
	if _, stderr, err := run("missing/dir/x.lua"); err == nil || !strings.Contains(stderr, "missing/dir") {
		t.Errorf("a missing folder: %v %q", err, stderr)
	}
	out, _ := exec.Command(binary, "help").CombinedOutput()
	if !strings.Contains(string(out), "luarobot types [FILE]") {
		t.Errorf("help does not list types:\n%s", out)
	}
}
