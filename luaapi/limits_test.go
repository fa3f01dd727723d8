package luaapi

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client"
)

// allocated returns how many bytes f allocated. The tests of this file run
// one Lua call at a time, so the count is that call's, give or take a few
// MiB of the runtime's own.
func allocated(f func()) uint64 {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

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

// string.format has Lua 5.1's bounds (two digits of width and precision)
// and a bound on its result, checked before it formats anything; what
// scripts use it for works as before.
func TestStringFormatLimits(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"f.lua": `
local big = string.rep("x", 1048576)
local tries = {
  width     = function() return string.format("%999999d", 1) end,
  three     = function() return string.format("%100d", 1) end,
  prec      = function() return string.format("%.100f", 1) end,
  flags     = function() return string.format("%------5d", 1) end,
  star      = function() return string.format("%*d", 5, 1) end,
  index     = function() return string.format("%[1]d", 1) end,
  many      = function() return #string.format(string.rep("%99d", 200000)) end,
  strings   = function() local t = {} for i = 1, 17 do t[i] = big end return #string.format(string.rep("%s", 17), unpack(t)) end,
  hex       = function() local t = {} for i = 1, 5 do t[i] = big end return #string.format(string.rep("%q", 5), unpack(t)) end,
  ok        = function()
    return table.concat({string.format("%03d|%-4s|%5.2f|%x|%q|%s|%s|%99d", 7, "ab", 3.14159, 255, 'a"b', nil, true, 1):sub(1, 40),
      tostring(string.format("%s", {}):find("^table: ") ~= nil), string.format("%d%%", 50), #string.format("%99.99f", 1e308)}, ";")
  end,
}
robot.text(function(msg) return tostring(tries[msg.content]()) end)
`}, Options{})
	if got, want := answer(t, rt, "ok"), `007|ab  | 3.14|ff|"a\"b"|nil|true|      ;true;50%;409`; got != want {
		t.Errorf("ok:\n got %q\nwant %q", got, want)
	}
	for in, want := range map[string]string{
		"width":   `f.lua:4: string.format: invalid format "%999999d" (width or precision too long: at most 99)`,
		"three":   `f.lua:5: string.format: invalid format "%100d" (width or precision too long`,
		"prec":    `f.lua:6: string.format: invalid format "%.100f" (width or precision too long`,
		"flags":   `f.lua:7: string.format: invalid format "%------5d" (repeated flags)`,
		"star":    `f.lua:8: string.format: invalid format "%*" (Lua formats have no '*' or '[n]')`,
		"index":   `f.lua:9: string.format: invalid format "%[" (Lua formats have no '*' or '[n]')`,
		"many":    `f.lua:10: string.format: the result would be over`,
		"strings": `f.lua:11: string.format: the result would be over`,
		"hex":     `f.lua:12: string.format: the result would be over`,
	} {
		if got := answer(t, rt, in); !strings.HasPrefix(got, "error: "+want) {
			t.Errorf("%s:\n got %s\nwant error: %s", in, got, want)
		}
	}
}

// table.concat refuses a result over 16 MiB before it builds it, and keeps
// gopher-lua's rules for its arguments.
func TestTableConcatLimit(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"c.lua": `
local big = string.rep("x", 1048576)
local tries = {
  big = function() local t = {} for i = 1, 17 do t[i] = big end return #table.concat(t) end,
  sep = function() local t = {} for i = 1, 100 do t[i] = "" end return #table.concat(t, big) end,
  bad = function() return table.concat({1, {}, 3}) end,
  ok  = function()
    local list = {"a", 2, 3.5, "d"}
    return table.concat({table.concat(list), table.concat(list, ","), table.concat(list, ",", 2), table.concat(list, ",", 2, 3),
      table.concat(list, ",", 3, 10), table.concat(list, ",", 5), table.concat({}, ","), table.concat(list, ",", 3, 2)}, "|")
  end,
}
robot.text(function(msg) return tostring(tries[msg.content]()) end)
`}, Options{})
	if got, want := answer(t, rt, "ok"), "a23.5d|a,2,3.5,d|2,3.5,d|2,3.5|3.5,d|||"; got != want {
		t.Errorf("ok: %q, want %q", got, want)
	}
	for in, want := range map[string]string{
		"big": "c.lua:4: table.concat: the result would be over 16777216 bytes",
		"sep": "c.lua:5: table.concat: the result would be over 16777216 bytes",
		"bad": "c.lua:6: invalid value (table) at index 2 in table for concat",
	} {
		if got := answer(t, rt, in); !strings.HasPrefix(got, "error: "+want) {
			t.Errorf("%s:\n got %s\nwant error: %s", in, got, want)
		}
	}
}

// gsub checks the size of its result as it expands a replacement, not
// after: a template of "%0" repeated 5000 times on a 100 KB match is 500
// MB for one match.
func TestGsubReplacementBoundedWhileExpanding(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"g.lua": `
robot.text(function()
  return (string.gsub(string.rep("x", 100000), ".+", string.rep("%0", 5000)))
end)`}, Options{})
	var got string
	n := allocated(func() { got = answer(t, rt, "x") })
	if !strings.HasPrefix(got, "error: g.lua:3: string.gsub: the result would exceed 16777216 bytes") {
		t.Errorf("got %.200s", got)
	}
	if n > 256<<20 {
		t.Errorf("the call allocated %d MiB before it failed", n>>20)
	}
}

// An integer key far beyond a table's array costs no more than any other
// key (gopher-lua's default MaxArrayIndex put t[20240101] in a 320 MB
// array, in one instruction), and long lists keep working.
func TestSparseIntegerKeysAreCheap(t *testing.T) {
	if lua.MaxArrayIndex != maxArrayIndex {
		t.Fatalf("lua.MaxArrayIndex = %d, want %d", lua.MaxArrayIndex, maxArrayIndex)
	}
	rt, _ := startRuntime(t, map[string]string{"k.lua": `
robot.text(function(msg, session)
  if msg.content == "plain" then
    local t = {}
    t[20240101] = 1
    t[67108863] = true
    local n = 0
    for k in pairs(t) do n = n + 1 end
    return #t .. " " .. n .. " " .. t[20240101]
  end
  if msg.content == "session" then
    session.daily = {}
    session.daily[20240101] = 5
    return "ok"
  end
  if msg.content == "read" then
    return tostring(session.daily[20240101])
  end
end)`}, Options{})
	var got string
	if n := allocated(func() { got = answer(t, rt, "plain") }); got != "0 2 1" || n > 64<<20 {
		t.Errorf("plain: %q, allocated %d MiB", got, n>>20)
	}
	var s []byte
	n := allocated(func() {
		var err error
		_, s, err = rt.Dispatch(context.Background(), textMsg("session"), nil)
		if err != nil {
			t.Fatal(err)
		}
	})
	if n > 64<<20 {
		t.Errorf("session: allocated %d MiB", n>>20)
	}
	if r, _ := dispatch(t, rt, textMsg("read"), s); textOf(r) != "5" {
		t.Errorf("session after a round trip: %q", textOf(r))
	}
}

// A JSON array longer than gopher-lua's lists can be (see maxArrayIndex)
// is an error, not a list cut short; one of the longest length is fine.
func TestDecodeJSONLongArray(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	array := func(n int) []byte {
		return []byte("[" + strings.Repeat("0,", n-1) + "null]")
	}
	v, err := DecodeJSON(L, array(maxArrayIndex-1), true)
	if tb, ok := v.(*lua.LTable); !ok || err != nil || tb.Len() != maxArrayIndex-2 || tb.RawGet(lua.LNumber(maxArrayIndex-2)) != lua.LNumber(0) {
		t.Errorf("the longest list: %v", err)
	}
	if _, err := DecodeJSON(L, array(maxArrayIndex), true); err == nil || !strings.Contains(err.Error(), "an array of more than 1048575 elements") {
		t.Errorf("a longer one: %v", err)
	}
}

// One table used many times ({t, t} nested 24 levels is 2^24 tables to
// write out) stays within maxDepth, so the depth bound does not stop it:
// the size bounds do, with an error, fast, wherever Go walks a Lua value.
func TestSharedSubtablesAreBounded(t *testing.T) {
	values := newMemValues()
	// Arguments are converted before any request: the server is never reached.
	cl, err := client.New(client.Options{AppID: "wx1", AppSecret: "s", APIBase: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	rt, logs := startRuntime(t, map[string]string{"dag.lua": `
local function dag() local t = {} for i = 1, 24 do t = {t, t} end return t end
robot.text(function(msg, session)
  local c = msg.content
  if c == "json" then return robot.json.encode(dag()) end
  if c == "session" then session.x = dag() return "saved" end
  if c == "store" then robot.store.set("k", dag()) return "stored" end
  if c == "client" then return select(2, robot.client.create_menu(dag())) end
  if c == "log" then robot.log.info("dag", {x = dag(), s = string.rep("y", 100000)}) return "logged" end
  if c == "error" then error(dag()) end
  if c == "decode" then local s = string.rep("0,", 500000) return select(2, robot.json.decode("[" .. s .. s .. s .. s .. s .. "0]")) end
end)`}, Options{Values: values, Client: cl, HandlerTimeout: 20 * time.Second})
	for in, want := range map[string]string{
		"json":    "error: dag.lua:5: robot.json.encode: value: the JSON text would be over 4194304 bytes",
		"session": "error: dag.lua:3: the session cannot be saved: session: the JSON text would be over 4194304 bytes",
		"store":   `error: dag.lua:7: robot.store.set("k"): value: the JSON text would be over 4194304 bytes`,
		"client":  "value: more than 65536 values (does it hold a table many times?)",
		"log":     "logged",
		"error":   "error: dag.lua:10: error [[[[[[",
		"decode":  "json: the text is 5000003 bytes; the limit is 4194304",
	} {
		start := time.Now()
		got := answer(t, rt, in)
		if !strings.Contains(got, want) {
			t.Errorf("%s:\n got %.300s\nwant %s", in, got, want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %s", in, d)
		}
		if in == "error" && (len(got) > 5000 || !strings.HasSuffix(got, "...")) {
			t.Errorf("error: the message is %d bytes and ends %q", len(got), got[max(0, len(got)-40):])
		}
	}
	l := logs.String()
	if !strings.Contains(l, `msg=dag script=dag.lua:9 s="yyyy`) || !strings.Contains(l, `x="table: 0x`) {
		t.Errorf("the log line of a huge attribute: %.500s", l[strings.Index(l, "msg=dag"):])
	}
}

// A long walk over a Lua value stops when the call's context ends, with
// the context's error (which reads as the timeout).
func TestEncodeJSONStopsWithTheContext(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	v := evalLua(t, L, `(function() local t = {} for i = 1, 24 do t = {t, t} end return t end)()`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := encodeJSON(ctx, v, false); !errors.Is(err, context.Canceled) {
		t.Errorf("encodeJSON: %v", err)
	}
	w := goWalk{ctx: ctx}
	if _, err := w.value(v, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("goWalk: %v", err)
	}
}

// A log call copies at most 64 KiB of message, and at most 64 attributes.
func TestLogLinesAreBounded(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"log.lua": `
robot.text(function()
  local s = string.rep("z", 1048576)
  print(s, s, s)
  local attrs = {}
  for i = 1, 1000 do attrs["k" .. i] = i end
  robot.log.info("many", attrs)
  return "ok"
end)`}, Options{})
	if got := answer(t, rt, "x"); got != "ok" {
		t.Fatal(got)
	}
	l := logs.String()
	if !strings.Contains(l, `zzz... (3145730 bytes in all)" script=log.lua:4`) || len(l) > 200<<10 {
		t.Errorf("the print line is not cut (%d bytes of log)", len(l))
	}
	if !strings.Contains(l, `attributes_dropped="more than 64"`) || strings.Count(l, "=") > 200 {
		t.Errorf("the attributes are not bounded:\n%.2000s", l[strings.Index(l, "msg=many"):])
	}
}
