package luaapi

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// escapeScript tries every path to a writable library or robot table that
// we know of. "before" and "after" fingerprint everything a script can
// reach (its identity and contents, through pairs, string methods and
// metatables) and check that the libraries still behave; "attack" runs the
// attempts, each in pcall, and lists how each one ended. The state counts
// the requests it served in a top-level local (a per-state cache, which
// stays allowed) so the test can tell that one state served them all.
const escapeScript = `
local served = 0
local function evil() return "pwned" end

local function fingerprint()
  local seen, out = {}, {}
  local function walk(v, path, depth)
    local tv = type(v)
    if tv == "table" or tv == "function" or tv == "userdata" then
      out[#out + 1] = path .. "=" .. tostring(v)
    else
      out[#out + 1] = path .. "=" .. tv .. ":" .. tostring(v)
    end
    if tv ~= "table" or seen[v] or depth > 8 then return end
    seen[v] = true
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      walk(v[k], path .. "." .. tostring(k), depth + 1)
      walk(rawget(v, k), path .. ".raw(" .. tostring(k) .. ")", depth + 1)
    end
    walk(getmetatable(v), path .. ".<mt>", depth + 1)
    walk(next(v), path .. ".<next>", depth + 1)
  end
  walk(_G, "_G", 0)
  walk(getmetatable(""), "<string mt>", 0)
  for _, k in ipairs({"__index", "__newindex", "__metatable", "upper", "lower", "rep", "format",
                      "len", "sub", "gsub", "find", "match", "gmatch", "gfind", "byte", "char",
                      "reverse", "dump"}) do
    walk(("")[k], '("").' .. k, 0)
  end
  -- What the libraries do, not only what they are.
  out[#out + 1] = ("abc"):upper() .. string.upper("d") .. string.format("%03d", 7) ..
    table.concat({1, 2}, ",") .. math.floor(2.5) .. tostring(math.pi) ..
    os.date("!%Y", 0) .. tostring(select("#", 1, 2)) .. type(pairs) .. type(robot.text) ..
    robot.json.encode({a = 1}) .. tostring(robot.config.name) .. tostring(robot.config.list[1]) ..
    tostring(robot.config.nested.list[1]) .. tostring(robot.reply.text("x").kind)
  return table.concat(out, "\n")
end

-- tamper writes into t: through t[k] = v, which a read-only table refuses.
local function tamper(t, k)
  if type(t) ~= "table" then error("no table here (" .. type(t) .. ")", 2) end
  t[k] = evil
end
local function tamperRaw(t, k)
  rawset(t, k, evil)
end

local attacks = {
  {"global library",            function() string.upper = evil end},
  {"_G.string",                 function() tamper(_G.string, "upper") end},
  {"_G._G._G.string",           function() tamper(_G._G._G.string, "upper") end},
  {"replace string global",     function() string = {upper = evil} end},
  {"_G.string = ",              function() tamper(_G, "string") end},
  {"string method field",       function() ("").upper = evil end},
  {"('').__index",              function() tamper(("").__index, "upper") end},
  {"('x').__index",             function() tamper(("x").__index, "upper") end},
  {"rawset ('').__index",       function() tamperRaw(("").__index, "upper") end},
  {"rawget ('').__index",       function() tamper(rawget(("").__index or {}, "upper") and {} or nil, "x") end},
  {"getmetatable('')",          function() tamper(getmetatable(""), "__index") end},
  {"getmetatable('').__index",  function() tamper(getmetatable("").__index, "upper") end},
  {"string.__index",            function() tamper(string.__index, "upper") end},
  {"rawset string",             function() tamperRaw(string, "upper") end},
  {"rawget string",             function() tamper(rawget(string, "upper"), "x") end},
  {"pairs(string) state",       function() tamper(select(2, pairs(string)), "upper") end},
  {"pairs(string) state raw",   function() tamperRaw(select(2, pairs(string)), "upper") end},
  {"ipairs(string) state",      function() tamperRaw(select(2, ipairs(string)), 1) end},
  {"next(string)",              function() tamper(next(string), "x") end},
  {"values of pairs(string)",   function() for k, v in pairs(string) do tamper(v, "x") end end},
  {"rawequal probe",            function() if rawequal(string, ("").__index) then tamper(("").__index, "upper") end error("not the same table") end},
  {"select",                    function() tamper(select(1, string), "upper") end},
  {"string.gmatch closure",     function() tamper(string.gmatch("a b", "%a"), "x") end},
  {"gmatch closure metatable",  function() tamper(getmetatable(string.gmatch("a", "a")), "__index") end},
  {"('').gmatch",               function() tamper(("a b"):gmatch("%a"), "x") end},
  {"table.insert(string)",      function() table.insert(string, evil) end},
  {"table.insert(table)",       function() table.insert(table, 1, evil) end},
  {"table.remove(math)",        function() table.remove(math) end},
  {"table.sort(os)",            function() table.sort(os) end},
  {"setmetatable(string)",      function() setmetatable(string, {__index = {upper = evil}}) end},
  {"setmetatable('')",          function() setmetatable("", {__index = {upper = evil}}) end},
  {"setmetatable(_G)",          function() setmetatable(_G, nil) end},
  {"math.pi",                   function() math.pi = 3 end},
  {"math.floor",                function() tamper(math, "floor") end},
  {"os.time",                   function() os.time = evil end},
  {"table.concat",              function() table.concat = evil end},
  {"base function",             function() tostring = evil end},
  {"base function via _G",      function() _G.print = evil end},
  {"rawset _G",                 function() tamperRaw(_G, "pairs") end},
  {"pairs(_G) state",           function() tamper(select(2, pairs(_G)), "pairs") end},
  {"getmetatable(_G)",          function() tamper(getmetatable(_G), "__index") end},
  {"robot",                     function() robot.text = evil end},
  {"robot.reply",               function() robot.reply.text = evil end},
  {"robot.client",              function() tamper(robot.client, "call") end},
  {"robot.log",                 function() robot.log.info = evil end},
  {"robot.json",                function() robot.json.encode = evil end},
  {"robot.store",               function() robot.store.get = evil end},
  {"robot.config",              function() robot.config.name = "evil" end},
  {"robot.config list",         function() tamper(robot.config.list, 1) end},
  {"robot.config nested list",  function() tamper(robot.config.nested.list, 1) end},
  {"insert robot.config list",  function() table.insert(robot.config.list, "evil") end},
  {"pairs(robot.config) values", function() for k, v in pairs(robot.config) do if type(v) == "table" then tamperRaw(v, 1) end end error("none writable") end},
  {"pairs(robot) state",        function() tamper(select(2, pairs(robot)), "text") end},
  {"rawset robot.reply",        function() tamperRaw(robot.reply, "text") end},
  {"robot.reply value",         function() robot.reply.text("x").content = "evil" end},
  {"robot.reply metatable",     function() tamper(getmetatable(robot.reply.text("x")), "__index") end},
  {"robot.re metatable",        function() tamper(getmetatable(robot.re("x")), "__index") end},
  {"robot.re value",            function() robot.re("x").match = evil end},
  {"debug",                     function() tamper(debug, "getregistry") end},
  {"package.loaded",            function() tamper(package and package.loaded, "string") end},
  {"getfenv",                   function() tamper(getfenv(0), "string") end},
  {"require a library",         function() tamper(require("string"), "upper") end},
  {"register a handler",        function() robot.text(evil) end},
  {"register a filter",         function() robot.filter("x", evil) end},
  {"register an error page",    function() robot.error_page(evil) end},
  {"math.randomseed",           function()
      math.randomseed(1) local a = math.random(1, 2^30)
      math.randomseed(1) local b = math.random(1, 2^30)
      if a == b then tamper({}, "seeded") end
      error("randomseed has no effect")
    end},
}

robot.text(function(msg)
  served = served + 1
  if msg.content == "attack" then
    local out = {}
    for _, a in ipairs(attacks) do
      local ok, err = pcall(a[2])
      out[#out + 1] = a[1] .. " => " .. (ok and "WROTE" or tostring(err))
    end
    return table.concat(out, "\n")
  end
  return "served=" .. served .. "\n" .. fingerprint()
end)
`

// One request's attempts on the libraries never change what the next
// request on the same state sees: every attempt fails with an error that
// says why, and everything a script can reach is the same afterwards.
func TestSandboxClosedFromEveryPath(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"escape.lua": escapeScript}, Options{
		PoolSize: 1,
		Config: map[string]any{
			"name":   "bot",
			"list":   []string{"a", "b"},
			"nested": map[string]any{"list": []any{"x"}},
		},
	})
	before := answer(t, rt, "before")
	if !strings.HasPrefix(before, "served=1\n") {
		t.Fatalf("first request: %.200s", before)
	}
	report := answer(t, rt, "attack")
	want := map[string]string{
		"global library":             "string is read-only (cannot set upper): the standard library is shared by every request",
		"_G.string":                  "string is read-only (cannot set upper)",
		"_G._G._G.string":            "string is read-only (cannot set upper)",
		"replace string global":      `cannot set global "string"`,
		"_G.string = ":               `cannot set global "string"`,
		"string method field":        "cannot set upper on a string: strings have no fields, and the string library is read-only",
		"('').__index":               "no table here (nil)",
		"('x').__index":              "no table here (nil)",
		"rawset ('').__index":        "bad argument #1 to rawset (table expected, got nil)",
		"rawget ('').__index":        "no table here (nil)",
		"getmetatable('')":           "no table here (boolean)",
		"getmetatable('').__index":   "attempt to index a non-table object(boolean)",
		"string.__index":             "no table here (nil)",
		"rawset string":              "rawset: string is read-only",
		"rawget string":              "no table here (nil)",
		"pairs(string) state":        "string is read-only (cannot set upper)",
		"pairs(string) state raw":    "rawset: string is read-only",
		"ipairs(string) state":       "rawset: string is read-only",
		"next(string)":               "no table here (nil)",
		"values of pairs(string)":    "no table here (function)",
		"rawequal probe":             "not the same table",
		"select":                     "string is read-only (cannot set upper)",
		"string.gmatch closure":      "no table here (function)",
		"gmatch closure metatable":   "no table here (nil)",
		"('').gmatch":                "no table here (function)",
		"table.insert(string)":       "table.insert: string is read-only",
		"table.insert(table)":        "table.insert: table is read-only",
		"table.remove(math)":         "table.remove: math is read-only",
		"table.sort(os)":             "table.sort: os is read-only",
		"setmetatable(string)":       "cannot change a protected metatable",
		"setmetatable('')":           "bad argument #1 to setmetatable (table expected, got string)",
		"setmetatable(_G)":           "cannot change a protected metatable",
		"math.pi":                    "math is read-only (cannot set pi)",
		"math.floor":                 "math is read-only (cannot set floor)",
		"os.time":                    "os is read-only (cannot set time)",
		"table.concat":               "table is read-only (cannot set concat)",
		"base function":              `cannot set global "tostring"`,
		"base function via _G":       `cannot set global "print"`,
		"rawset _G":                  "rawset: _G is read-only",
		"pairs(_G) state":            `cannot set global "pairs"`,
		"getmetatable(_G)":           "no table here (boolean)",
		"robot":                      "robot is read-only (cannot set text): the robot API cannot be changed by scripts",
		"robot.reply":                "robot.reply is read-only (cannot set text)",
		"robot.client":               "robot.client is read-only (cannot set call)",
		"robot.log":                  "robot.log is read-only (cannot set info)",
		"robot.json":                 "robot.json is read-only (cannot set encode)",
		"robot.store":                "robot.store is read-only (cannot set get)",
		"robot.config":               "robot.config is read-only (cannot set name)",
		"robot.config list":          "robot.config.list is read-only (cannot set 1)",
		"robot.config nested list":   "robot.config.nested.list is read-only (cannot set 1)",
		"insert robot.config list":   "table.insert: robot.config.list is read-only",
		"pairs(robot.config) values": "rawset: robot.config.",
		"pairs(robot) state":         "robot is read-only (cannot set text)",
		"rawset robot.reply":         "rawset: robot.reply is read-only",
		"robot.reply value":          "attempt to index a non-table object(userdata)",
		"robot.reply metatable":      "no table here (boolean)",
		"robot.re metatable":         "no table here (boolean)",
		"robot.re value":             "attempt to index a non-table object(userdata)",
		"debug":                      "no table here (nil)",
		"package.loaded":             "no table here (nil)",
		"getfenv":                    "attempt to call a non-function object",
		"require a library":          `require "string": there is no lib/string.lua`,
		"math.randomseed":            "randomseed has no effect",
		"register a handler":         "robot.text: handlers are registered while the scripts load",
		"register a filter":          "robot.filter: handlers are registered while the scripts load",
		"register an error page":     "robot.error_page: register it while the scripts load",
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(report, "\n") {
		name, got, ok := strings.Cut(line, " => ")
		if !ok {
			t.Errorf("unexpected report line %q", line)
			continue
		}
		seen[name] = true
		w, known := want[name]
		switch {
		case !known:
			t.Errorf("attack %q has no expectation: %s", name, got)
		case got == "WROTE":
			t.Errorf("attack %q wrote into the sandbox", name)
		case !strings.Contains(got, w):
			t.Errorf("attack %q:\n got %s\nwant %s", name, got, w)
		case !strings.HasPrefix(got, "escape.lua:"):
			t.Errorf("attack %q: the error does not say where: %s", name, got)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("attack %q did not run", name)
		}
	}

	after := answer(t, rt, "after")
	if !strings.HasPrefix(after, "served=3\n") {
		t.Fatalf("the third request was not served by the same state: %.200s", after)
	}
	b := strings.Split(strings.TrimPrefix(before, "served=1\n"), "\n")
	a := strings.Split(strings.TrimPrefix(after, "served=3\n"), "\n")
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("what scripts can reach changed after the attempts:\n%s", lineDiff(b, a))
	}
	if !strings.HasSuffix(after, `ABCD0071,22`+fmt.Sprint(3.141592653589793)+`19702functionfunction{"a":1}botaxtext`) {
		t.Errorf("the libraries misbehave after the attempts: %q", after[strings.LastIndex(after, "\n")+1:])
	}
	if n := len(b); n < 300 {
		t.Errorf("the fingerprint has %d entries; it does not walk the libraries", n)
	}
}

// lineDiff lists the lines only in a or only in b.
func lineDiff(a, b []string) string {
	in := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, l := range s {
			m[l] = true
		}
		return m
	}
	ia, ib := in(a), in(b)
	var out []string
	for _, l := range a {
		if !ib[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range b {
		if !ia[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// The same promise, checked from Go over the whole state: every table a
// script can reach without calling a function — through the globals, the
// values and keys inside them, the string metatable's lookups, and any
// metatable getmetatable hands out — is read-only. Lua code has no way
// to reach a function's upvalues or environment (no debug library, no
// getfenv), so values only a Go function holds are out of reach.
func TestNoWritableTableReachable(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `
local cache = {}                       -- a top-level local: a per-state cache, allowed
function helper() return cache end     -- a global function
robot.text(function() return "x" end)`})
	rt := newRuntime(Options{Dir: dir, Logger: discardLogger(), Config: map[string]any{
		"list": []string{"a"}, "nested": map[string]any{"deeper": map[string]any{"k": []any{1.0}}},
	}})
	src, err := readSources(dir)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := compileSources(src)
	if err != nil {
		t.Fatal(err)
	}
	st, err := rt.newState(context.Background(), ver)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()

	var writable []string
	seen := map[lua.LValue]bool{}
	var walk func(v lua.LValue, path string)
	// metatable walks what getmetatable(v) gives a script: gopher-lua's
	// GetMetatable honours __metatable, as the sandbox's getmetatable does.
	metatable := func(v lua.LValue, path string) {
		walk(st.L.GetMetatable(v), path+".<getmetatable>")
	}
	walk = func(v lua.LValue, path string) {
		if seen[v] {
			return
		}
		seen[v] = true
		switch v := v.(type) {
		case *lua.LTable:
			metatable(v, path)
			contents := v
			if v == st.globals || st.isReadOnly(v) {
				contents, _ = backingOf(v)
				if v.Len() != 0 || v.MaxN() != 0 {
					writable = append(writable, path+" (a read-only view with contents of its own)")
				}
				v.ForEach(func(k, _ lua.LValue) { writable = append(writable, path+" has its own key "+k.String()) })
			} else {
				writable = append(writable, path)
			}
			contents.ForEach(func(k, e lua.LValue) {
				name := path + "." + lua.LVAsString(k)
				if _, ok := k.(*lua.LTable); ok {
					walk(k, path+".(key)")
				}
				walk(e, name)
			})
		case *lua.LUserData:
			metatable(v, path)
		}
	}
	walk(st.globals, "_G")
	// ("").k looks k up in the string metatable's __index.
	walk(st.L.GetMetaField(lua.LString(""), "__index"), `("")`)
	metatable(lua.LString(""), `""`)
	// Values a script makes with the robot API that carry a metatable.
	for _, src := range []string{`return robot.reply.text("x")`, `return robot.re("x")`} {
		if err := st.L.DoString(src); err != nil {
			t.Fatal(err)
		}
		walk(st.L.Get(-1), src)
		st.L.Pop(1)
	}
	sort.Strings(writable)
	if len(writable) > 0 {
		t.Errorf("writable tables a script can reach:\n%s", strings.Join(writable, "\n"))
	}
	if len(seen) < 200 {
		t.Errorf("only %d values walked", len(seen))
	}
}
