package luaapi

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A Lua error in a handler: Dispatch returns it with file:line (the host
// answers success and logs it), and the next request works.
func TestHandlerErrorThenNextRequestWorks(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"hello.lua": `
robot.text(function(msg)
  if msg.content == "boom" then
    local t = nil
    return t.field
  end
  if msg.content == "error" then error("custom failure") end
  if msg.content == "table" then error({code = 7}) end
  if msg.content == "level0" then error("no position", 0) end
  return "fine"
end)`}, Options{PoolSize: 1})
	tests := []struct {
		in   string
		file string
		line int
		msg  string
	}{
		{"boom", "hello.lua", 5, "attempt to index a non-table object(nil) with key 'field'"},
		{"error", "hello.lua", 7, "custom failure"},
		// No position of their own: the line that raised them.
		{"table", "hello.lua", 8, `error {"code":7}`},
		{"level0", "hello.lua", 9, "no position"},
	}
	for _, tt := range tests {
		_, s, err := rt.Dispatch(context.Background(), textMsg(tt.in), nil)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: err = %v (%T), want *Error", tt.in, err, err)
		}
		if e.File != tt.file || e.Line != tt.line || e.Message != tt.msg {
			t.Errorf("%s: got %s:%d: %s, want %s:%d: %s", tt.in, e.File, e.Line, e.Message, tt.file, tt.line, tt.msg)
		}
		if s != nil {
			t.Errorf("%s: session returned with an error", tt.in)
		}
		// One state only: the same state must serve the next request.
		if r, _ := dispatch(t, rt, textMsg("ok"), nil); textOf(r) != "fine" {
			t.Errorf("after %s: %q", tt.in, textOf(r))
		}
	}
	// Nothing is "called from" the line the error names.
	_, _, err := rt.Dispatch(context.Background(), textMsg("table"), nil)
	if got := err.Error(); got != `hello.lua:8: error {"code":7}` {
		t.Errorf("error(table) reads %q", got)
	}
	if got := (&Error{File: "hello.lua", Line: 5, Message: "x"}).Error(); got != "hello.lua:5: x" {
		t.Errorf("Error() = %q", got)
	}
}

// An error in a helper names where it happened and where it was called from.
func TestErrorCalledFrom(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{
		"a.lua": `
local util = require "util"
robot.text(function(msg)
  local r = util.check(msg.content) -- not a tail call: those leave no frame
  return r
end)`,
		"lib/util.lua": `
local M = {}
function M.check(s)
  if s == "bad" then error("bad input: " .. s) end
  return s
end
return M`,
	}, Options{})
	_, _, err := rt.Dispatch(context.Background(), textMsg("bad"), nil)
	want := "lib/util.lua:4: bad input: bad (called from a.lua:4)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

// A script that fails to load is reported the same way: file:line.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		files map[string]string
		want  string
	}{
		{map[string]string{"a.lua": "robot.text(function() end)", "b.lua": "local x = \nrobot.text(function() end"},
			"b.lua:2: "},
		{map[string]string{"a.lua": "x = = 1"}, "a.lua:1: "},
		{map[string]string{"a.lua": "local t = nil\n\nprint(t.x)"}, "a.lua:3: attempt to index a non-table object(nil) with key 'x'"},
		{map[string]string{"a.lua": "error('top level failure')"}, "a.lua:1: top level failure"},
		{map[string]string{"a.lua": "require 'nope'"}, `a.lua:1: require "nope": there is no lib/nope.lua`},
		{map[string]string{"a.lua": "local function f() f() end f()"}, "a.lua:1: stack overflow"},
		{map[string]string{"a.lua": "if true then\n\n"}, "a.lua:1: syntax error at the end of the file"},
	}
	for _, tt := range tests {
		dir := writeScripts(t, tt.files)
		_, err := New(Options{Dir: dir, Logger: discardLogger()})
		var e *Error
		if !errors.As(err, &e) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v:\n got %v\nwant prefix %q", tt.files, err, tt.want)
		}
	}
}

// Scripts load in file-name order, and a shebang line or a BOM is fine.
func TestLoadOrder(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{
		"10-b.lua":     `order = order .. "b"`,
		"02-a.lua":     "#!/usr/bin/env lua\norder = order .. \"a\"",
		"01-first.lua": "\xef\xbb\xbforder = \"\"",
		"99-z.lua":     `robot.text(function() return order end)`,
		".hidden.lua":  `error("hidden files are not scripts")`,
		"notes.txt":    `error("not a script")`,
	}, Options{})
	if r, _ := dispatch(t, rt, textMsg("x"), nil); textOf(r) != "ab" {
		t.Errorf("order = %q, want ab", textOf(r))
	}
}

func TestEmptyFolder(t *testing.T) {
	rt, _ := startRuntime(t, nil, Options{})
	if r, _ := dispatch(t, rt, textMsg("x"), nil); r != nil {
		t.Errorf("an empty folder answered %q", textOf(r))
	}
	if _, err := New(Options{Dir: "/does/not/exist", Logger: discardLogger()}); err == nil {
		t.Error("a missing folder loaded")
	}
}
