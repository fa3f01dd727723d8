package cmd

import (
	"bytes"
	"strings"
	"testing"
)

// runOut runs a command line and returns what it wrote to stderr.
func runOut(args ...string) (string, int) {
	_, stderr, code := runOutErr(args...)
	return stderr, code
}

func runOutErr(args ...string) (stdout, stderr string, code int) {
	var out, errs bytes.Buffer
	code = run(args, &out, &errs)
	return out.String(), errs.String(), code
}

// Help that was asked for goes to stdout, so that it can be paged or
// searched; nothing goes to stderr.
func TestHelpListsTheCommands(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		out, errs, code := runOutErr(args...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "luarobot "+c.name+" ") {
				t.Errorf("%v does not list %s:\n%s", args, c.name, out)
			}
		}
		if strings.Contains(out, "max_reply_parts") {
			t.Errorf("%v lists configuration keys instead of commands:\n%s", args, out)
		}
	}
}

// A typo in a flag gets one line naming the flag and the likely one, not
// the usage of every configuration key.
func TestUnknownFlagIsOneLine(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--prot", "9000"}, `luarobot serve: unknown flag --prot (did you mean --port?); run "luarobot serve -h" for the flags`},
		{[]string{"--log-level", "debug"}, `luarobot serve: unknown flag --log-level (did you mean --log_level?)`},
		{[]string{"simulate", "--tpye", "click"}, `luarobot simulate: unknown flag --tpye (did you mean --type?)`},
		{[]string{"doctor", "--public-url", "x"}, `luarobot doctor: unknown flag --public-url (did you mean --public_url?)`},
		{[]string{"check", "--verbose"}, `luarobot check: unknown flag --verbose; run "luarobot check -h" for the flags`},
		{[]string{"types", "--out", "x.lua"}, `luarobot types: unknown flag --out; run "luarobot types -h" for the flags`},
		{[]string{"types", "a.lua", "b.lua"}, `luarobot types: one file expected, got 2 arguments`},
		{[]string{"simulate", "--retry", "many"}, `luarobot simulate: invalid value "many" for flag --retry: parse error`},
		{[]string{"token", "--length", "33"}, `luarobot token: --length 33 is outside WeChat's 3-32`},
	} {
		out, code := runOut(c.args...)
		if code != 2 || len(lines(out)) != 1 || !strings.HasPrefix(out, c.want) {
			t.Errorf("%v: exit %d:\n%s\nwant one line starting %q", c.args, code, out, c.want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	out, code := runOut("chekc", "scripts")
	if code != 2 || out != "luarobot: unknown command \"chekc\" (did you mean \"check\"?); run \"luarobot -h\" for the list\n" {
		t.Errorf("exit %d: %q", code, out)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	out, code := runOut("serve", "--token", "a b")
	if code != 1 || !strings.HasPrefix(out, "luarobot serve: token: must be letters and digits only") {
		t.Errorf("exit %d: %s", code, out)
	}
}

func TestCheckCommand(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua": `robot.filter(robot.re("\d+"), function() return "n" end)`,
		"b.lua": "robot.text(function()\n  return 1 +\nend)",
		"c.lua": `robot.subscibe(function() end)`,
	})
	var stdout, stderr bytes.Buffer
	err := checkRun([]string{dir}, &stdout, &stderr)
	if exit, ok := err.(exitError); !ok || exit != 1 {
		t.Errorf("err = %v", err)
	}
	want := `warning: a.lua:1: robot.re("\d+"): Lua drops the backslash of \d in a quoted string, so the pattern is "d+"; write robot.re([[\d+]]) (a long string keeps backslashes) or double each backslash
b.lua:3: syntax error near 'end'
c.lua:1: robot.subscibe does not exist (did you mean robot.subscribe?)
2 of 3 files do not load
`
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if !strings.Contains(stdout.String(), "a.lua\n  a.lua:1  robot.filter") {
		t.Errorf("stdout:\n%s", stdout.String())
	}

	empty := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	if err := checkRun([]string{empty}, &stdout, &stderr); err != nil {
		t.Errorf("an empty folder is only a warning: %v", err)
	}
	if !strings.Contains(stderr.String(), "warning: "+empty+": no scripts (*.lua) in the folder") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
