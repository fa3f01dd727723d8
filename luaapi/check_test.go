package luaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"hello.lua": `
robot.text(function(msg) return msg.content end)
robot.filter("help", robot.re("^(\\d+)$"), function() return "x" end)
robot.key_click("music", function() end)
robot.handler(function() end)`,
		"menu.lua": `
local menu = require "menu"
menu.register()
robot.on_load(function() end)
robot.error_page(function(url) return url end)
robot.add_handler(function() end, "subscribe")`,
		"lib/menu.lua": `
return { register = function()
  robot.click(function() end)
end }`,
		"empty.lua": `-- nothing yet`,
	})
	rep := mustCheck(t, dir)
	want := `empty.lua
  (registers nothing)
hello.lua
  hello.lua:2  robot.text
  hello.lua:3  robot.filter [text] "help", robot.re("^(\\d+)$")
  hello.lua:4  robot.key_click [click_event] key "music"
  hello.lua:5  robot.handler [all]
menu.lua
  lib/menu.lua:3  robot.click [click_event]
  menu.lua:4      robot.on_load
  menu.lua:5      robot.error_page
  menu.lua:6      robot.add_handler [subscribe_event]
modules: menu
`
	if got := rep.String(); got != want {
		t.Errorf("report:\n%s\nwant:\n%s", got, want)
	}
	if len(rep.Files) != 3 || rep.Files[1].Handlers[1].Rule != `"help", robot.re("^(\\d+)$")` {
		t.Errorf("files: %+v", rep.Files)
	}
}

// Every file that does not load is reported, not only the first: syntax
// errors, top-level errors, a broken module and the scripts requiring it.
func TestCheckReportsEveryBrokenFile(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua":        `robot.text(function() return "a" end)`,
		"b.lua":        "robot.text(function()\n  return 1 +\nend)",
		"c.lua":        "local x = nil\nx.field = 1",
		"d.lua":        `robot.handler(function() end)`,
		"e.lua":        "local menu = require \"menu\"",
		"lib/menu.lua": "return {\n",
	})
	rep := mustCheck(t, dir)
	expectLines(t, "errors", rep.Errors, []string{
		"b.lua:3: syntax error near 'end'",
		"c.lua:2: attempt to index a non-table object(nil) with key 'field'",
		"lib/menu.lua:1: syntax error at the end of the file",
		"lib/menu.lua:1: syntax error at the end of the file (called from e.lua:1)",
	})
	broken := map[string]bool{}
	for _, f := range rep.Files {
		broken[f.File] = f.Err != nil
	}
	if !broken["b.lua"] || !broken["c.lua"] || !broken["e.lua"] || broken["a.lua"] || broken["d.lua"] {
		t.Errorf("broken files: %v", broken)
	}
	if rep.OK() || rep.Summary() != "4 of 6 files do not load" {
		t.Errorf("OK = %v, summary %q", rep.OK(), rep.Summary())
	}
	// The files that load are still listed with their handlers.
	if !strings.Contains(rep.String(), "a.lua\n  a.lua:1  robot.text\n") || !strings.Contains(rep.String(), "b.lua\n  (does not load)\n") {
		t.Errorf("report:\n%s", rep)
	}
	var e *Error
	if !errors.As(error(rep.Errors[0]), &e) || e.File != "b.lua" || e.Line != 3 {
		t.Errorf("first error: %#v", rep.Errors[0])
	}
}

func TestCheckEmptyFolderWarns(t *testing.T) {
	dir := writeScripts(t, map[string]string{"notes.txt": "not a script"})
	rep := mustCheck(t, dir)
	if !rep.OK() || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0].String(), "no scripts (*.lua) in the folder") {
		t.Errorf("warnings %v, errors %v", rep.Warnings, rep.Errors)
	}
	if _, err := Check(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing folder is no error")
	}
}

func TestCheckWarnsDuplicateRules(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua": `
robot.filter("help", robot.re("^(\\d+)$"), function() return "a" end)
robot.key_click("music", function() end)`,
		"b.lua": `
robot.filter("other", "help", function() return "b" end)
robot.add_filter(function() return "c" end, {robot.re("^(\\d+)$")})
robot.key_click("music", function() end)
robot.key_click("news", function() end)`,
	})
	rep := mustCheck(t, dir)
	expectLines(t, "warnings", rep.Warnings, []string{
		`b.lua:2: filter rule "help" is also registered at a.lua:2, which is tried first: this handler gets it only when that one returns nil`,
		`b.lua:3: filter rule robot.re("^(\\d+)$") is also registered at a.lua:2, which is tried first: this handler gets it only when that one returns nil`,
		`b.lua:4: key_click key "music" is also registered at a.lua:3, which is tried first: this handler gets it only when that one returns nil`,
	})
}

// gopher-lua accepts "\d" in a quoted string and drops the backslash, so
// robot.re("\d+") compiles the pattern "d+": a warning, with the fix.
func TestCheckWarnsDroppedBackslashes(t *testing.T) {
	for _, c := range []struct {
		src  string
		warn string // "" for none
	}{
		{`robot.filter(robot.re("^\d+$"), function() end)`, `a.lua:1: robot.re("^\d+$"): Lua drops the backslash of \d in a quoted string, so the pattern is "^d+$"; write robot.re([[^\d+$]])`},
		{`robot.filter(robot.re '\w+\.txt', function() end)`, `a.lua:1: robot.re('\w+\.txt'): Lua drops the backslash of \w in a quoted string, so the pattern is "w+.txt"`},
		{`robot.filter(robot.re("\bword"), function() end)`, `a.lua:1: robot.re("\bword"): in a quoted string \b is a backspace for Lua, not RE2's word boundary`},
		{"\r\n  robot.filter(robot.re(\"a\\sb\"), function() end)", `a.lua:2: robot.re("a\sb")`},
		{`robot.filter(robot.re("^\\d+$"), function() end)`, ""},
		{`robot.filter(robot.re([[^\d+$]]), function() end)`, ""},
		{`robot.filter(robot.re("^a\tb\n$"), function() end)`, ""},
		{`local re = "x\d" robot.filter(re, function() end)`, ""},
	} {
		dir := writeScripts(t, map[string]string{"a.lua": c.src})
		rep := mustCheck(t, dir)
		if !rep.OK() {
			t.Errorf("%s: errors %v", c.src, rep.Errors)
		}
		switch {
		case c.warn == "" && len(rep.Warnings) > 0:
			t.Errorf("%s: unexpected warnings %v", c.src, rep.Warnings)
		case c.warn != "" && (len(rep.Warnings) != 1 || !strings.HasPrefix(rep.Warnings[0].String(), c.warn)):
			t.Errorf("%s: warnings %v, want one starting %q", c.src, rep.Warnings, c.warn)
		}
	}
}

// A robot.* name that does not exist fails at load, with a suggestion,
// wherever it is: at the top level through the robot table, in a
// function body through check's reading of the source.
func TestCheckUnknownRobotName(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua": "robot.text(function() end)\nrobot.subscibe(function() end)",
		"b.lua": "robot.text(function(m)\n  return robot.sendd(m.source, 'x')\nend)",
		"c.lua": "local robot = {frobnicate = 1}\nreturn robot.frobnicate",
		"d.lua": "local t = {robot = {}}\nlocal x = t.robot.anything",
	})
	rep := mustCheck(t, dir)
	expectLines(t, "errors", rep.Errors, []string{
		"a.lua:2: robot.subscibe does not exist (did you mean robot.subscribe?)",
		"b.lua:2: robot.sendd does not exist (did you mean robot.send?)",
	})
}

// At serve too: a typo at a script's top level stops the load through the
// robot table, which raises on a name it does not have; one in a handler's
// body stops it through the reading of the source; one the source does
// not show (a computed name) fails that call with the same message instead
// of "attempt to call a nil value".
func TestUnknownRobotNameAtServe(t *testing.T) {
	for src, want := range map[string]string{
		"robot.text(function() end)\nrobot.subscibe(function() end)":           "a.lua:2: robot.subscibe does not exist (did you mean robot.subscribe?)",
		"robot.text(function(m)\n  return robot.replly.text('x')\nend)":        "a.lua:2: robot.replly does not exist (did you mean robot.reply?)",
		"local t = {}\nrobot.text(function(m)\n  return robot : sendd()\nend)": "a.lua:3: robot.sendd does not exist (did you mean robot.send?)",
	} {
		dir := writeScripts(t, map[string]string{"a.lua": src})
		_, err := New(Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || err.Error() != want {
			t.Errorf("%s:\nNew = %v\nwant %s", src, err, want)
		}
	}

	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("typo", function(m) return robot["rep" .. "lly"].text("x") end)
robot.text(function(m)
  local n = 0
  for k in pairs(robot) do n = n + 1 end
  return tostring(robot[1]) .. " " .. tostring(n > 40) .. " " .. type(robot.text)
end)`}, Options{})
	_, _, err := rt.Dispatch(context.Background(), textMsg("typo"), nil)
	if err == nil || !strings.Contains(err.Error(), "a.lua:2: robot.replly does not exist (did you mean robot.reply?)") {
		t.Errorf("computed typo: %v", err)
	}
	r, _ := dispatch(t, rt, textMsg("hi"), nil)
	if got := textOf(r); got != "nil true function" {
		t.Errorf("known names, pairs and non-string keys: %q", got)
	}
}

func mustCheck(t *testing.T, dir string) *Report {
	t.Helper()
	rep, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// expectLines compares the texts of errors or warnings with want.
func expectLines[T any](t *testing.T, what string, got []T, want []string) {
	t.Helper()
	var lines []string
	for _, g := range got {
		lines = append(lines, fmt.Sprint(g))
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n%s\nwant:\n%s", what, strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// A parameter named robot is the script's own value, not the global: its
// fields are not robot.* names, and a script using one loads (at serve as
// at check). Only the scan of the source could get this wrong, and a
// false "does not exist" refuses a working script.
func TestRobotParameterIsNotTheGlobal(t *testing.T) {
	scripts := map[string]string{
		"a.lua": `
local function greet(robot) return robot.greeting end
robot.text(function(m) return greet({greeting = "hi"}) end)`,
		"b.lua": `
local M = {}
function M.handle(robot, m) return robot.answer end
local f = function(x, robot) return robot.other end
robot.subscribe(function() return M.handle({answer = "welcome"}) end)`,
		"lib/plugin.lua": `
return function(robot) return robot.anything end`,
	}
	rep := mustCheck(t, writeScripts(t, scripts))
	if !rep.OK() {
		t.Errorf("check refused legitimate scripts:\n%v", rep.Errors)
	}
	rt, err := New(Options{Dir: writeScripts(t, scripts), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Errorf("serve refused legitimate scripts: %v", err)
	} else {
		rt.Close()
	}
	// After the function, robot is the global again.
	rep = mustCheck(t, writeScripts(t, map[string]string{"c.lua": `
local function f(robot) return robot.x end
robot.subscibe(function() end)`}))
	expectLines(t, "errors", rep.Errors, []string{"c.lua:3: robot.subscibe does not exist (did you mean robot.subscribe?)"})
}
