package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
		"---@field late_replies integer",                                       // robot.Stats, from the host's Stats
		"---@overload fun(name: string, fn: fun(t: luarobot.Test))\ntest = {}", // the test API
		"function test.config(settings) end",
		"function luarobot_Reply:expect_contains(text) end", // its reply checks
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

// TestTypesWithLuaLanguageServer checks the definitions with
// lua-language-server itself: the definition file has no diagnostic, the
// examples and the test API's usage have none, and each mistake of
// testdata/luals/probes.lua gets the diagnostic its "want:" names. The
// language server is packaged neither for Debian nor npm: the test runs
// when LUAROBOT_TEST_LUALS names its binary or it is on the PATH.
func TestTypesWithLuaLanguageServer(t *testing.T) {
	bin := os.Getenv("LUAROBOT_TEST_LUALS")
	if bin == "" {
		bin, _ = exec.LookPath("lua-language-server")
	}
	if bin == "" {
		t.Skip("lua-language-server not found; set LUAROBOT_TEST_LUALS to its binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(binary, "types")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("luarobot types: %v\n%s", err, out)
	}
	files := map[string]string{".luarc.json": `{"runtime.version": "Lua 5.1"}`}
	for _, pattern := range []string{"testdata/luals/*.lua", "examples/*/*.lua", "examples/*/*/*.lua", "examples/*/*/*/*.lua"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			data, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			files[filepath.ToSlash(m)] = string(data)
		}
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report := filepath.Join(t.TempDir(), "check.json")
	check := exec.Command(bin, "--check="+dir, "--checklevel=Information", "--check_format=json",
		"--check_out_path="+report, "--logpath="+t.TempDir())
	if out, err := check.CombinedOutput(); err != nil && !strings.Contains(string(out), "problems found") {
		t.Fatalf("lua-language-server --check: %v\n%s", err, out)
	}
	got := map[string][]string{} // "file:line" → diagnostic codes (lines from 1)
	if data, err := os.ReadFile(report); err == nil {
		var diags map[string][]struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Range   struct {
				Start struct{ Line int } `json:"start"`
			} `json:"range"`
		}
		if err := json.Unmarshal(data, &diags); err != nil {
			t.Fatalf("%s: %v", report, err)
		}
		for uri, list := range diags {
			name := strings.TrimPrefix(strings.TrimPrefix(uri, "file://"+dir), "/")
			for _, d := range list {
				at := fmt.Sprintf("%s:%d", name, d.Range.Start.Line+1)
				got[at] = append(got[at], d.Code)
				t.Logf("%s: %s (%s)", at, d.Message, d.Code)
			}
		}
	}
	want := map[string]string{}
	probes := files["testdata/luals/probes.lua"]
	for i, line := range strings.Split(probes, "\n") {
		if _, code, ok := strings.Cut(line, "-- want: "); ok {
			want[fmt.Sprintf("testdata/luals/probes.lua:%d", i+1)] = strings.TrimSpace(code)
		}
	}
	if len(want) < 8 {
		t.Fatalf("probes.lua has only %d wanted diagnostics", len(want))
	}
	for at, code := range want {
		if !slices.Contains(got[at], code) {
			t.Errorf("%s: want %s, got %v", at, code, got[at])
		}
	}
	for at, codes := range got {
		if _, ok := want[at]; !ok {
			t.Errorf("%s: unexpected %v", at, codes)
		}
	}
}
