package luaapi

import (
	"errors"
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
	rep, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
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

func TestCheckError(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"a.lua": `robot.text(function() end)`,
		"b.lua": "robot.text(function()\n  return 1 +\nend)",
	})
	rep, err := Check(dir)
	var e *Error
	if !errors.As(err, &e) || e.File != "b.lua" || e.Line != 3 || rep != nil {
		t.Errorf("Check = %v, %v", rep, err)
	}
	if !strings.HasPrefix(err.Error(), "b.lua:3: ") {
		t.Errorf("err = %v", err)
	}
}
