package luaapi

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// What a script can reach, checked from inside: run the chunk as a
// handler, and it answers "ok" or fails with its message.
func TestSandboxSurface(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"probe.lua": `
local checks = {
  -- gone
  function() assert(io == nil, "io") end,
  function() assert(debug == nil, "debug") end,
  function() assert(package == nil, "package") end,
  function() assert(channel == nil and coroutine == nil, "channel/coroutine") end,
  function() assert(dofile == nil and loadfile == nil, "dofile/loadfile") end,
  function() assert(load == nil and loadstring == nil, "load/loadstring") end,
  function() assert(module == nil and collectgarbage == nil, "module/collectgarbage") end,
  function() assert(getfenv == nil and setfenv == nil and newproxy == nil, "fenv") end,
  function() assert(os.execute == nil and os.remove == nil and os.exit == nil, "os.execute/remove/exit") end,
  function() assert(os.getenv == nil and os.rename == nil and os.tmpname == nil and os.setenv == nil, "os env") end,
  function() assert(string.dump == nil, "string.dump") end,
  -- kept
  function() assert(type(os.time()) == "number" and os.time{year=2024, month=1, day=1, hour=0} > 0, "os.time") end,
  function() assert(os.date("%Y", 0) == "1970" or os.date("%Y", 0) == "1969", "os.date") end,
  function() assert(type(os.clock()) == "number", "os.clock") end,
  function() assert(("abc"):upper() == "ABC" and string.format("%03d", 7) == "007", "string") end,
  function() assert(math.floor(2.5) == 2 and table.concat({1, 2}, ",") == "1,2", "math/table") end,
  function() assert(select("#", pcall(error, "x")) == 2 and tostring(nil) == "nil", "base") end,
  function() local t = {3, 1, 2}; table.sort(t); assert(t[1] == 1, "table.sort") end,
}
robot.text(function()
  local failed = {}
  for i, check in ipairs(checks) do
    local ok, err = pcall(check)
    if not ok then failed[#failed + 1] = i .. ": " .. tostring(err) end
  end
  if #failed == 0 then return "ok" end
  return table.concat(failed, "; ")
end)
`}, Options{})
	if r, _ := dispatch(t, rt, textMsg("probe"), nil); textOf(r) != "ok" {
		t.Errorf("sandbox checks failed: %s", textOf(r))
	}
}

// Globals are frozen once the scripts have run: top-level code defines
// them, handlers read them, and a handler that assigns one gets an error
// that points to session and robot.store.
func TestGlobalsFrozen(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"g.lua": `
greeting = "hello"            -- a top-level global: fine
function helper() return greeting .. "!" end
local tries = {
  assign   = function() counter = 1 end,
  existing = function() greeting = "changed" end,
  rawset   = function() rawset(_G, "x", 1) end,
  setmt    = function() setmetatable(_G, nil) end,
  getmt    = function() return tostring(getmetatable(_G)) end,
  lib      = function() string.upper = nil end,
  libinsert = function() table.insert(string, "x") end,
  robot    = function() robot.text = nil end,
  backing  = function() local _, t = pairs(_G); t.sneaky = 1 end,
  robotpairs = function() local _, t = pairs(robot); t.text = nil end,
  read     = function() return helper() end,
  pairs    = function() local n = 0 for k in pairs(_G) do n = n + 1 end return n > 10 and "many" or "few" end,
  undefined = function() return tostring(not_defined) end,
}
robot.text(function(msg) return tries[msg.content]() end)
`}, Options{})
	fails := map[string]string{
		"assign":     `g.lua:5: cannot set global "counter": globals are shared by every request this Lua state serves; use a local for this request, session.counter for this user, or robot.store for the whole bot`,
		"existing":   `g.lua:6: cannot set global "greeting"`,
		"rawset":     "g.lua:7: rawset: _G is read-only",
		"setmt":      "g.lua:8: cannot change a protected metatable",
		"lib":        "g.lua:10: string is read-only (cannot set upper)",
		"libinsert":  "g.lua:11: table.insert: string is read-only",
		"robot":      "g.lua:12: robot is read-only (cannot set text): the robot API cannot be changed by scripts",
		"backing":    `g.lua:13: cannot set global "sneaky"`,
		"robotpairs": "g.lua:14: robot is read-only (cannot set text)",
	}
	for in, want := range fails {
		_, _, err := rt.Dispatch(context.Background(), textMsg(in), nil)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant prefix %s", in, err, want)
		}
	}
	works := map[string]string{"getmt": "false", "read": "hello!", "pairs": "many", "undefined": "nil"}
	for in, want := range works {
		if r, _ := dispatch(t, rt, textMsg(in), nil); textOf(r) != want {
			t.Errorf("%s: got %q, want %q", in, textOf(r), want)
		}
	}
	// The failed assignment changed nothing.
	if r, _ := dispatch(t, rt, textMsg("read"), nil); textOf(r) != "hello!" {
		t.Errorf("after the failed writes: %q", textOf(r))
	}
}

func TestRequire(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret.lua")
	if err := os.WriteFile(outside, []byte(`return "secret"`), 0o644); err != nil {
		t.Fatal(err)
	}
	rt, _ := startRuntime(t, map[string]string{
		"main.lua": `
local menu = require "menu"
local text = require "util.text"
assert(require("menu") == menu, "cached")
robot.text(function(msg)
  local c = msg.content
  if c == "menu" then return menu.greet() .. " " .. menu.loads() end
  if c == "text" then return text.shout("hi") end
  if c == "again" then return tostring(require("menu") == menu) end
  if c == "lazy" then return require("lazy").value end
  if c == "broken" then return require("broken") end
  if c == "loop" then return require("loop_a") end
  local ok, err = pcall(require, c)
  return tostring(err)
end)`,
		"lib/menu.lua": `
local M = {}
local loads = (loads_seen or 0) + 1
function M.greet() return "menu" end
function M.loads() return tostring(loads) end
return M`,
		"lib/util/text.lua": `return { shout = function(s) return s:upper() .. "!" end }`,
		"lib/lazy.lua":      `return { value = "lazy" }`,
		"lib/broken.lua":    "local x = nil\nreturn x.field",
		"lib/loop_a.lua":    `return require "loop_b"`,
		"lib/loop_b.lua":    `return require "loop_a"`,
		"lib/global.lua":    `leaked = 1 return {}`,
		"notlib.lua":        `-- a top-level script, not a module`,
	}, Options{})
	works := map[string]string{"menu": "menu 1", "text": "HI!", "again": "true", "lazy": "lazy"}
	for in, want := range works {
		if r, _ := dispatch(t, rt, textMsg(in), nil); textOf(r) != want {
			t.Errorf("%s: got %q, want %q", in, textOf(r), want)
		}
	}
	refused := map[string]string{
		"../secret":              `require "../secret": a module is named after its file in lib/`,
		outside:                  `: a module is named after its file in lib/`,
		"/etc/passwd":            `require "/etc/passwd": a module is named after its file in lib/`,
		"util/text":              `require "util/text": a module is named after its file in lib/`,
		"..":                     `require "..": a module`,
		"missing":                `require "missing": there is no lib/missing.lua in the scripts folder`,
		"notlib":                 `require "notlib": there is no lib/notlib.lua`,
		"global":                 `lib/global.lua:1: cannot set global "leaked"`,
		"secret":                 `require "secret": there is no lib/secret.lua`,
		"util..text":             `a module is named after its file`,
		"menu.lua":               `require "menu.lua": there is no lib/menu/lua.lua`,
		strings.Repeat("a", 300): `there is no lib/`,
	}
	for in, want := range refused {
		r, _ := dispatch(t, rt, textMsg(in), nil)
		if !strings.Contains(textOf(r), want) {
			t.Errorf("require %q:\n got %q\nwant %q", in, textOf(r), want)
		}
	}
	_, _, err := rt.Dispatch(context.Background(), textMsg("broken"), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "lib/broken.lua:2: attempt to index") || !strings.Contains(err.Error(), "called from main.lua:") {
		t.Errorf("broken module: %v", err)
	}
	_, _, err = rt.Dispatch(context.Background(), textMsg("loop"), nil)
	if err == nil || !strings.Contains(err.Error(), `require "loop_a": the module requires itself`) {
		t.Errorf("loop: %v", err)
	}
}

func TestModuleSyntaxErrorFailsTheLoad(t *testing.T) {
	dir := writeScripts(t, map[string]string{
		"main.lua":     `robot.text(function() return "x" end)`,
		"lib/menu.lua": "local M = {\nreturn M",
	})
	_, err := New(Options{Dir: dir, Logger: discardLogger()})
	if err == nil || !strings.HasPrefix(err.Error(), "lib/menu.lua:2: ") {
		t.Errorf("err = %v, want lib/menu.lua:2: ...", err)
	}
}

// A module's file name is letters, digits, '_' and '-', as docs/lua.md
// says: a dot in it would make a second file for one require name
// (lib/a.b.lua and lib/a/b.lua are both "a.b", and the one read last won,
// silently), and require's errors would name the other file. Such a name
// fails the load, naming the file, as a space does.
func TestModuleFileNamesWithoutDots(t *testing.T) {
	for name, content := range map[string]string{
		"lib/a.b.lua":      `return "the dotted file"`,
		"lib/my menu.lua":  `return {}`,
		"lib/x/jq.min.lua": `return {}`,
		"lib/v1.2/x.lua":   `return {}`,
	} {
		dir := writeScripts(t, map[string]string{
			"main.lua":    `local m = require "a.b" robot.text(function() return m end)`,
			"lib/a/b.lua": `return "lib/a/b.lua"`,
			name:          content,
		})
		_, err := New(Options{Dir: dir, Logger: discardLogger()})
		want := name + ": cannot be required: module file names use letters, digits, '_' and '-' only"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", name, err, want)
		}
	}
}

func TestStringLimits(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"s.lua": `
local tries = {
  rep    = function() return #string.rep("ab", 1000) end,
  bigrep = function() return string.rep("x", 2^30) end,
  method = function() return ("x"):rep(2^21) end,
  find   = function() local s = string.rep("a", 300 * 1024) return string.find(s, "b+") end,
  plain  = function() local s = string.rep("a", 300 * 1024) .. "b" return string.find(s, "b", 1, true) end,
  simple = function() local s = string.rep("a", 300 * 1024) .. "b" return string.find(s, "b") end,
  gsub   = function() local s = string.rep("a", 200 * 1024) return s:gsub("a", string.rep("b", 100)) end,
}
robot.text(function(msg) return tostring(tries[msg.content]()) end)
`}, Options{})
	works := map[string]string{"rep": "2000", "plain": "307201", "simple": "307201"}
	for in, want := range works {
		if r, _ := dispatch(t, rt, textMsg(in), nil); textOf(r) != want {
			t.Errorf("%s: got %q, want %q", in, textOf(r), want)
		}
	}
	fails := map[string]string{
		"bigrep": "s.lua:4: string.rep: the result would be 1073741824 bytes; the limit is 1048576",
		"method": "s.lua:5: string.rep: the result would be",
		"find":   "s.lua:6: string.find: the string is 307200 bytes; pattern matching is limited to 262144",
		"gsub":   "s.lua:9: string.gsub: the result would exceed 16777216 bytes",
	}
	for in, want := range fails {
		_, _, err := rt.Dispatch(context.Background(), textMsg(in), nil)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant prefix %s", in, err, want)
		}
	}
}

// The pattern functions pass Lua 5.1's own pattern-matching test suite
// (pm.lua, as shipped with gopher-lua), run in a full state where only
// find, match, gmatch and gsub are ours.
func TestPatternFunctionsLua51Suite(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(gopherLuaDir(t), "_lua5.1-tests", "pm.lua"))
	if err != nil {
		t.Skipf("Lua 5.1 test suite not found: %v", err)
	}
	L := lua.NewState()
	defer L.Close()
	st := &state{L: L}
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("find", L.NewFunction(st.strFind))
	str.RawSetString("match", L.NewFunction(st.strMatch))
	gmatch := L.NewFunction(st.strGmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)
	str.RawSetString("gsub", L.NewFunction(st.strGsub))
	L.SetGlobal("print", L.NewFunction(func(*lua.LState) int { return 0 }))
	// The suite's "big strings" are bigger than the sandbox lets patterns
	// see; a tenth of them tests the same thing.
	chunk := strings.Replace(string(src), "string.rep('a', 300000)", "string.rep('a', 30000)", 1)
	if err := L.DoString(chunk); err != nil {
		t.Fatal(err)
	}
}

// gopherLuaDir finds gopher-lua's module folder (its test suite is not a
// package file, but it ships in the module).
func gopherLuaDir(t *testing.T) string {
	out, err := goListDir("github.com/yuin/gopher-lua")
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	return out
}

func TestPrintGoesToTheLog(t *testing.T) {
	_, logs := startRuntime(t, map[string]string{"p.lua": "\nprint('hello', 42, nil)"}, Options{})
	if !strings.Contains(logs.String(), `msg="hello\t42\tnil" script=p.lua:2`) {
		t.Errorf("print did not reach the log:\n%s", logs)
	}
}

// setmetatable takes tables only, as in Lua 5.1: gopher-lua's own sets the
// metatable of a whole type (every number of the state), which the next
// request the state serves — another user's — would see. getmetatable of
// a value that is not a table hands out nothing that can be changed.
func TestTypeMetatablesCannotBeSet(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"mt.lua": `
robot.text(function(msg)
  if msg.content == "set" then
    local out = {}
    for _, v in ipairs({0, true, print, "", robot.re("x"), robot.reply.success()}) do
      local ok, err = pcall(setmetatable, v, {__index = {leaked = "user A's secret"}})
      out[#out + 1] = tostring(ok) .. ":" .. tostring(err)
    end
    return table.concat(out, "\n")
  end
  if msg.content == "get" then
    local out = {}
    for _, v in ipairs({0, true, print, "", robot.re("x"), robot.reply.success(), _G, robot, msg}) do
      out[#out + 1] = type(getmetatable(v))
    end
    return table.concat(out, ",")
  end
  if msg.content == "tables" then
    local mt = {__index = function(t, k) return k .. "!" end}
    local t = setmetatable({}, mt)
    assert(getmetatable(t) == mt and t.x == "x!")
    assert(setmetatable(t, nil) == t and getmetatable(t) == nil)
    local p = setmetatable({}, {__metatable = "mine"})
    local ok, err = pcall(setmetatable, p, {})
    assert(not ok and err:find("cannot change a protected metatable"), err)
    ok, err = pcall(setmetatable, {}, 42)
    assert(not ok and err:find("nil or table expected"), err)
    return "ok"
  end
  local ok, v = pcall(function() return (42).leaked end)
  return tostring(ok) .. ":" .. tostring(v)
end)`}, Options{PoolSize: 1})
	got := answer(t, rt, "set")
	for i, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "false:") || !strings.Contains(line, "table expected") {
			t.Errorf("setmetatable on value %d: %s", i+1, line)
		}
	}
	if got := answer(t, rt, "read"); !strings.HasPrefix(got, "false:") {
		t.Errorf("a later request reads %q", got)
	}
	if got, want := answer(t, rt, "get"), "nil,nil,nil,boolean,boolean,boolean,boolean,boolean,boolean"; got != want {
		t.Errorf("getmetatable: %s, want %s", got, want)
	}
	if got := answer(t, rt, "tables"); got != "ok" {
		t.Errorf("tables: %s", got)
	}
}

// The read-only tables (robot.settings, robot.config, the message) are
// views, empty themselves: whatever turns a table into JSON or a Go value
// must see what they show. robot.json.encode(robot.settings.stop) gave
// "{}", so did a session or a robot.store value holding one, and
// robot.http sent {"stop": {}} for json = {stop = robot.settings.stop}.
// A script's own table with a metatable is written as it is, not as its
// __index.
func TestReadOnlyTablesAreWrittenAsWhatTheyShow(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	values := newMemValues()
	opts := httpOptions()
	opts.Values = values
	opts.Settings = map[string]any{"stop": []any{"\n\n", "END"}, "model": map[string]any{"name": "m1", "temperature": 0.5},
		"keywords": []any{"help", "帮助"}, "articles": []any{map[string]any{"title": "T", "url": "https://x/"}}}
	opts.Config = map[string]any{"tags": []string{"a", "b"}}
	rt, _ := startRuntime(t, map[string]string{"a.lua": withBase(up, `
local Class = {kind = "class default"}
robot.filter(robot.settings.keywords, function() return "the help" end)
robot.filter("news", function() return robot.settings.articles end)
robot.text(function(msg, session)
  local obj = setmetatable({own = 1}, {__index = Class})
  session.stop = robot.settings.stop
  robot.store.set("model", robot.settings.model)
  assert(robot.http.post("BASE/chat", {json = {stop = robot.settings.stop, model = robot.settings.model}}))
  return table.concat({
    robot.json.encode(robot.settings.stop), robot.json.encode(robot.settings.model),
    robot.json.encode(robot.config.tags), robot.json.encode({robot.settings.stop}),
    robot.json.encode(msg):match('"content":"[^"]*"') or "no content in " .. robot.json.encode(msg),
    robot.json.encode(obj),
    robot.json.encode(robot.store.get("model")),
  }, " ")
end)`)}, opts)
	r, session := dispatch(t, rt, textMsg("hi"), nil)
	want := `["\n\n","END"] {"name":"m1","temperature":0.5} ["a","b"] [["\n\n","END"]] "content":"hi" {"own":1} {"name":"m1","temperature":0.5}`
	if got := textOf(r); got != want {
		t.Errorf("encoded:\n got %s\nwant %s", got, want)
	}
	if got := answer(t, rt, "帮助"); got != "the help" {
		t.Errorf("a filter on robot.settings.keywords: %s", got)
	}
	if r, _ := dispatch(t, rt, textMsg("news"), nil); r == nil || r.Kind() != "news" {
		t.Errorf("articles from robot.settings: %v", r)
	}
	if !strings.Contains(string(session), `"stop":["\n\n","END"]`) {
		t.Errorf("session saved as %s", session)
	}
	if reqs := up.requests(); len(reqs) != 1 || reqs[0].body != `{"model":{"name":"m1","temperature":0.5},"stop":["\n\n","END"]}` {
		t.Errorf("robot.http sent %+v", reqs)
	}
}
