package luaapi

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// A table that contains itself, given where Go walks a list (filter rules,
// robot.client.call query values), is a Lua error that says so; so is a
// list that holds one sublist so many times that the walk would take
// millions of steps. Without a depth bound the walk overflows the
// goroutine stack, a fatal error that no recover catches and that ends the
// process (here: the test binary), so the cases run in a child process,
// with a stack limit small enough that a regression fails fast.
func TestSelfContainingTablesAreErrors(t *testing.T) {
	if os.Getenv("LUAAPI_CYCLE_CHILD") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSelfContainingTablesAreErrors$", "-test.count=1")
		cmd.Env = append(os.Environ(), "LUAAPI_CYCLE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			s := string(out)
			if i := strings.Index(s, "fatal error"); i >= 0 {
				s = s[i:min(len(s), i+300)]
			} else if len(s) > 3000 {
				s = s[:3000]
			}
			t.Fatalf("the child process failed (%v):\n%s", err, s)
		}
		return
	}
	debug.SetMaxStack(64 << 20)
	rt, _ := startRuntime(t, map[string]string{"cycle.lua": `
local self = {} self[1] = self
local wide = {"a"} for i = 1, 8 do wide = {wide, wide, wide, wide} end -- 4^8 rules
local empty = {} for i = 1, 10 do empty = {empty, empty, empty, empty} end -- no value, 4^10 lists
local errs = {}
local function try(name, f, ...)
  local ok, err = pcall(f, ...)
  errs[name] = ok and "no error" or tostring(err)
end
try("filter", robot.filter, self, function() end)
try("add_filter", robot.add_filter, function() end, {"x", self})
try("filter_wide", robot.filter, wide, function() end)
try("query", robot.client.call, "GET", "/cgi-bin/x", {q = self})
try("query_wide", robot.client.call, "GET", "/cgi-bin/x", {q = empty})
robot.text(function(msg) return errs[msg.content] end)
`}, Options{})
	for name, want := range map[string]string{
		"filter":      "cycle.lua:7: robot.filter: rules nested deeper than 16 (does the table contain itself?)",
		"add_filter":  "cycle.lua:7: robot.add_filter: rules nested deeper than 16 (does the table contain itself?)",
		"filter_wide": "cycle.lua:7: robot.filter: more than 65536 rules",
		"query":       "query.q: lists nested deeper than 16 (does the table contain itself?)",
		"query_wide":  "query.q: more than 1024 values",
	} {
		if got := answer(t, rt, name); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want it to contain %q", name, got, want)
		}
	}
}
