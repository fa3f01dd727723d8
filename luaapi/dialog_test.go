package luaapi

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/internal/fakeclock"
)

// The whole-host tests of robot.dialog are in the repository's root
// (dialog_test.go); these look at the rules one at a time.

// talk is one user's conversation with a runtime: it keeps the stored
// session between messages, as the host does.
type talk struct {
	t       *testing.T
	rt      *Runtime
	session []byte
}

func (c *talk) send(msg *message.Message) string {
	c.t.Helper()
	r, s := dispatch(c.t, c.rt, msg, c.session)
	if s != nil {
		c.session = s
	}
	if r == nil {
		return ""
	}
	return textOf(r)
}

// say sends texts and checks the replies: text, want, text, want, ...
func (c *talk) say(exchange ...string) {
	c.t.Helper()
	for i := 0; i+1 < len(exchange); i += 2 {
		if got := c.send(textMsg(exchange[i])); got != exchange[i+1] {
			c.t.Fatalf("%q answered %q, want %q", exchange[i], got, exchange[i+1])
		}
	}
}

// user returns the user's session as scripts see it (JSON) and the dialog
// record.
func (c *talk) user() (string, string) {
	s, d := SplitSession(c.session)
	return string(s), string(d)
}

const askTwice = `
robot.filter("go", robot.dialog("two", function(d, message, session)
  local a = d:ask("first?")
  local b = d:ask("second?")
  return a .. "+" .. b
end))
robot.text(function(m) return "echo " .. m.content end)
`

// A script cannot see, write or forge the record through session.
func TestDialogRecordOutOfReach(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("two", function(d, message, session)
  local a = d:ask("first?")
  local b = d:ask("second?")
  return a .. "+" .. b
end))
robot.filter("keys", function(m, session)
  local keys = {}
  for k in pairs(session) do keys[#keys + 1] = k end
  table.sort(keys)
  return "keys:" .. table.concat(keys, ",")
end)
robot.filter("forge", function(m, session)
  session["\0dialog"] = {name = "two", steps = "garbage"}
  session.x = 1
  return "forged"
end)
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("forge", "forged", "go", "first?")
	// "keys" is taken by the dialog as its answer; events still reach
	// handlers, which see only the script's own keys.
	c.say("keys", "second?")
	sess, rec := c.user()
	if !strings.Contains(rec, `"name":"two"`) || !strings.Contains(rec, `"value":"keys"`) {
		t.Fatalf("record %s", rec)
	}
	if strings.Contains(sess, `"\u0000dialog"`) || !strings.Contains(sess, `"x":1`) {
		t.Fatalf("the forged key must be stored as the script's own key: %s", sess)
	}
	c.say("b", "keys+b", "keys", "keys:\x00dialog,x")
}

// Sessions stored before dialogs existed read as before, byte for byte
// when nothing changes; a record that does not parse is dropped with a
// log line and the session kept.
func TestDialogOldSessions(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.filter("count", function(m, s) return "count=" .. tostring(s.count) end)
` + askTwice}, Options{})
	old := []byte(`{"count":3,"nested":{"a":[1,2]}}`)
	r, s := dispatch(t, rt, textMsg("count"), old)
	if textOf(r) != "count=3" || s != nil {
		t.Fatalf("an old session: %q, changed to %s", textOf(r), s)
	}
	bad := []byte(`{"\u0000dialog":{"name":""},"count":3}`)
	r, s = dispatch(t, rt, textMsg("count"), bad)
	if textOf(r) != "count=3" || string(s) != `{"count":3}` {
		t.Fatalf("a bad record: %q, session %s", textOf(r), s)
	}
	if !strings.Contains(logs.String(), "dialog record is corrupt") {
		t.Errorf("no log line for the bad record:\n%s", logs)
	}
}

func TestDialogRegistrationErrors(t *testing.T) {
	cases := []struct{ script, want string }{
		{`robot.dialog("a", function() end); robot.dialog("a", function() end)`, `a dialog named "a" is already registered (a.lua:1)`},
		{`robot.dialog(function() end)`, "robot.dialog expects (name, fn, opts?)"},
		{`robot.dialog("a")`, "robot.dialog expects (name, fn, opts?)"},
		{`robot.dialog("a", function() end, {timeout = "soon"})`, `robot.dialog "a": timeout is a duration`},
		{`robot.dialog("a", function() end, {timeout = 0})`, `timeout is a duration`},
		{`robot.dialog("a", function() end, {timeout = 1e300})`, `got a number (1e+300) (1e+300 seconds is beyond what a duration holds)`},
		{`robot.dialog("a", function() end, {timeout = 0/0})`, `is beyond what a duration holds`},
		{`robot.dialog("a", function() end, {tries = 3})`, `unknown option "tries" (want timeout, cancel, cancel_reply, fail)`},
		{`robot.dialog("a", function() end, {cancel = {1}})`, `cancel is a text or a list of texts that end the dialog: entry 1 is a number (1)`},
		{`robot.dialog("a", function() end, {fail = {}})`, `fail is the reply to send`},
		{`robot.text(function() robot.dialog("a", function() end) end)`, ``},
	}
	for _, c := range cases {
		dir := writeScripts(t, map[string]string{"a.lua": c.script})
		rt, err := New(Options{Dir: dir, Logger: discardLogger()})
		if err == nil {
			rt.Close()
		}
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.script, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "a.lua:1: ") {
			t.Errorf("%s:\n got %v\nwant a.lua:1: ...%s", c.script, err, c.want)
		}
	}
	// Registering from a handler is an error of that handler.
	rt, _ := startRuntime(t, map[string]string{"a.lua": `robot.text(function() robot.dialog("late", function() end) end)`}, Options{})
	if _, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil); err == nil || !strings.Contains(err.Error(), "dialogs are registered while the scripts load") {
		t.Errorf("robot.dialog from a handler: %v", err)
	}
	rep, err := Check(writeScripts(t, map[string]string{"a.lua": askTwice}))
	if err != nil || !strings.Contains(rep.String(), `robot.dialog "two"`) {
		t.Errorf("luarobot check does not list the dialog: %v\n%s", err, rep)
	}
}

// Mistakes in a dialog's function are errors that name the line: when
// the dialog starts they fail the handler; later, they end the dialog.
func TestDialogStepErrors(t *testing.T) {
	cases := []struct{ body, want string }{
		{`d:ask("x", {tires = 3})`, `d:ask: unknown option "tires" (want check, retry, tries)`},
		{`d:choose("x", {"a"}, {check = {"a"}})`, `d:choose: unknown option "check" (want retry, tries)`},
		{`d:ask("x", {tries = 0})`, `tries is the number of attempts in all (1 or more)`},
		{`d:ask("x", {check = 3})`, `check is a list of accepted texts, a robot.re value or a function, not a number (3)`},
		{`d:ask({})`, `d:ask: the prompt is a table that is not a list`},
		{`d:wait("x", "click_event")`, `"click_event" is not a message type a dialog receives`},
		{`d:choose(robot.reply.text("x"), {"a"})`, `d:choose: the prompt is a text`},
		{`d:choose("x", "a")`, ``}, // one option is a list of one
		{`d:ask("x", {[1] = "y"})`, `d:ask: unknown option a number (1) (want check, retry, tries)`},
		{`d.ask("x")`, `a dialog method is called with a colon`},
		{`d.x = 1`, `the dialog value d is read-only`},
		{`local _ = d.nope`, `a dialog has no member "nope"`},
		{`d:once(function() d:ask("x") end)`, `d:ask cannot be called inside d:once`},
		{`d:once(function() return function() end end)`, `d:once: the result cannot be recorded`},
		{`d:once(function() error("boom") end)`, `a.lua:3: boom`},
	}
	for _, c := range cases {
		src := "robot.filter(\"go\", robot.dialog(\"e\", function(d, message, session)\n  local line2\n  " + c.body + "\n  return \"done\"\nend))"
		rt, _ := startRuntime(t, map[string]string{"a.lua": src}, Options{})
		_, _, err := rt.Dispatch(context.Background(), textMsg("go"), nil)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "a.lua:") {
			t.Errorf("%s:\n got %v\nwant a.lua:...: %s", c.body, err, c.want)
		}
	}

	// After the start, an error ends the dialog: a dialog that fails on
	// one replay fails on all of them.
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("e", function(d)
  local n = d:ask("number?")
  return "half: " .. tonumber(n) / 2
end))
robot.text(function(m) return "echo " .. m.content end)
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("go", "number?", "x", "已结束", "x", "echo x")
	if !strings.Contains(logs.String(), `msg="dialog ended: its function failed" dialog=e err="a.lua:4: `) {
		t.Errorf("no log line for the failing dialog:\n%s", logs)
	}
}

// A dialog starts from a handler only, one at a time; its d is good for
// one run.
func TestDialogStartRules(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
local inner = robot.dialog("inner", function(d) d:ask("inner?") end)
local kept
robot.filter("nested", robot.dialog("outer", function(d, message, session)
  return inner(message, session)
end))
robot.filter("keep", robot.dialog("keeper", function(d)
  kept = d
  d:ask("kept?")
end))
robot.filter("stale", function() kept:ask("again?") end)
robot.filter("async", function() robot.async(function() inner() end) return "queued" end)
`}, Options{PoolSize: 1, MaxStates: 1}) // one state: "stale" finds the d "keep" kept
	_, _, err := rt.Dispatch(context.Background(), textMsg("nested"), nil)
	if err == nil || !strings.Contains(err.Error(), `dialog "inner" cannot start inside dialog "outer"`) {
		t.Errorf("nested start: %v", err)
	}
	dispatch(t, rt, textMsg("keep"), nil)
	_, _, err = rt.Dispatch(context.Background(), textMsg("stale"), nil)
	if err == nil || !strings.Contains(err.Error(), `this d belongs to an earlier message of dialog "keeper"`) {
		t.Errorf("a kept d: %v", err)
	}
	dispatch(t, rt, textMsg("async"), nil)
	eventually(t, "the robot.async error", func() bool {
		return strings.Contains(logs.String(), `dialog \"inner\" starts from a handler`)
	})
}

// Three ways to start a dialog: registered as a handler, returned by one,
// called by one. Changes the calling handler makes after the start are
// kept by the replays.
func TestDialogStartForms(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
local quiz = robot.dialog("quiz", function(d, message, session)
  session.started = (session.started or 0) + 1
  local a = d:ask("1+1?")
  return a == "2" and ("right, from " .. message.content) or "wrong"
end)
robot.filter("registered", quiz)
robot.filter("returned", function() return quiz end)
robot.filter("called", function(message, session)
  local prompt = quiz(message, session)
  session.after = true
  return prompt
end)
robot.filter("peek", function(m, s) return "started=" .. tostring(s.started) .. " after=" .. tostring(s.after) end)
`}, Options{})
	for _, how := range []string{"registered", "returned", "called"} {
		c := &talk{t: t, rt: rt}
		c.say(how, "1+1?", "2", "right, from "+how)
		c.say("peek", "started=1 after="+map[bool]string{true: "true", false: "nil"}[how == "called"])
	}
}

// Events during a dialog go to the other handlers; a dialog they start
// replaces the one in progress, while one that ends at once leaves it.
func TestDialogStartedByAnEvent(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": askTwice + `
robot.key_click("other", robot.dialog("other", function(d) return "other: " .. d:ask("other?") end))
robot.key_click("quick", robot.dialog("quick", function(d) return "quick, no steps" end))
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("go", "first?")
	if got := c.send(eventMsg("click_event", field("key", "quick"))); got != "quick, no steps" {
		t.Fatalf("quick: %q", got)
	}
	c.say("a", "second?")
	if got := c.send(eventMsg("click_event", field("key", "other"))); got != "other?" {
		t.Fatalf("other: %q", got)
	}
	c.say("x", "other: x", "y", "echo y")
}

// d:choose replays by the option's text, or by its number when the
// scripts reworded it.
func TestDialogChooseAcrossReload(t *testing.T) {
	src := `
robot.filter("go", robot.dialog("pick", function(d)
  local size = d:choose("size?", {"small", "large"})
  local ok = d:ask("sure?")
  return size .. " " .. ok
end))
`
	dir := writeScripts(t, map[string]string{"a.lua": src})
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	c := &talk{t: t, rt: rt}
	c.say("go", "size?\n1. small\n2. large", "２", "sure?")
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte(strings.Replace(src, `"large"`, `"大杯"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	c.say("yes", "大杯 yes")
}

// d:once results come back as recorded: tables with number keys, nil; at
// most 50 per dialog.
func TestDialogOnce(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("once", function(d)
  local t = d:once(function() return {[3] = "c", list = {1, 2}, ["\0k"] = true} end)
  local n = d:once(function() return nil end)
  local a = d:ask("answer?")
  return t[3] .. #t.list .. tostring(t["\0k"]) .. tostring(n) .. a
end))
robot.filter("many", robot.dialog("many", function(d)
  for i = 1, 51 do d:once(function() return i end) end
  return "all done"
end))
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("go", "answer?", "!", "c2truenil!", "many", "已结束")
	if !strings.Contains(logs.String(), "a dialog records at most 50") {
		t.Errorf("no log line for the d:once limit:\n%s", logs)
	}
}

// With session_storage = "off" the host keeps no session, and dialog
// records live in the runtime's memory, with a warning at load.
func TestDialogMemoryMode(t *testing.T) {
	clock := fakeclock.New(time.Unix(1700000000, 0))
	rt, logs := startRuntime(t, map[string]string{"a.lua": askTwice}, Options{DialogMemory: true, Now: clock.Now})
	if !strings.Contains(logs.String(), `msg="session_storage is off: dialogs in progress are kept in memory and lost on restart" dialog=two`) {
		t.Errorf("no warning at load:\n%s", logs)
	}
	send := func(text string) string {
		r, s := dispatch(t, rt, textMsg(text), nil) // no session: the host stores none
		if s != nil && bytes.Contains(s, []byte(dialogKey)) {
			t.Fatalf("a record in the session the host would (not) store: %s", s)
		}
		return textOf(r)
	}
	for _, ex := range [][2]string{{"go", "first?"}, {"a", "second?"}, {"b", "a+b"}, {"b", "echo b"}, {"go", "first?"}} {
		if got := send(ex[0]); got != ex[1] {
			t.Fatalf("%q answered %q, want %q", ex[0], got, ex[1])
		}
	}
	if len(rt.dialogMem.records) != 1 {
		t.Fatalf("%d records in memory", len(rt.dialogMem.records))
	}
	clock.Advance(31 * time.Minute)
	if got := send("a"); got != "echo a" {
		t.Fatalf("after the timeout: %q", got)
	}
	if len(rt.dialogMem.records) != 0 {
		t.Errorf("a timed-out record stays in memory")
	}
	// Users who never come back are swept once the map has grown.
	for i := 0; i < 1100; i++ {
		m := textMsg("go")
		m.Source = "u" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		if i == 1000 {
			clock.Advance(31 * time.Minute)
		}
		dispatch(t, rt, m, nil)
	}
	if n := len(rt.dialogMem.records); n > 200 {
		t.Errorf("%d records in memory: the expired ones were not swept", n)
	}
}

func TestSplitSession(t *testing.T) {
	for _, c := range []struct{ stored, session, dialog string }{
		{``, `{}`, ``},
		{`{"a":1}`, `{"a":1}`, ``},
		{`{"\u0000dialog":{"name":"x"}}`, `{}`, `{"name":"x"}`},
		{`{"\u0000dialog":{"name":"x"},"a":1}`, `{"a":1}`, `{"name":"x"}`},
		{`{"\u0000dialog":{"name":"x}`, `{"\u0000dialog":{"name":"x}`, ``}, // corrupt: left whole for decodeSession
	} {
		s, d := SplitSession([]byte(c.stored))
		if string(s) != c.session || string(d) != c.dialog {
			t.Errorf("SplitSession(%s) = %s, %s; want %s, %s", c.stored, s, d, c.session, c.dialog)
		}
		if c.dialog == "" {
			continue
		}
		if got := joinSession(s, d); string(got) != c.stored {
			t.Errorf("joinSession gives %s, want %s", got, c.stored)
		}
	}
}

// BenchmarkDialogReplay is the cost of a message to a dialog that has
// recorded nine answers: the function replays them, takes the tenth and
// stops at the eleventh step.
func BenchmarkDialogReplay(b *testing.B) {
	rt, _ := startRuntime(b, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("ten", function(d, message, session)
  local answers = {}
  for i = 1, 11 do answers[i] = d:ask("question " .. i) end
  return table.concat(answers, " ")
end))
`}, Options{Logger: discardLogger()})
	var session []byte
	for _, text := range []string{"go", "1", "2", "3", "4", "5", "6", "7", "8", "9"} {
		_, s := dispatch(b, rt, textMsg(text), session)
		session = s
	}
	msg := textMsg("10")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, _, err := rt.Dispatch(context.Background(), msg, session)
		if err != nil || textOf(r) != "question 11" {
			b.Fatalf("%q %v", textOf(r), err)
		}
	}
}

// However a script catches the stop, the dialog waits at the step that
// raised it: later steps raise it again, an error after it does not
// count, and neither does what the function changed or returned.
func TestDialogPcallVariants(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("error", robot.dialog("error", function(d)
  pcall(d.ask, d, "sure?")
  error("went on after the stop")
end))
robot.filter("second", robot.dialog("second", function(d)
  pcall(d.ask, d, "first?")
  return "second: " .. d:ask("second?")
end))
robot.filter("xpcall", robot.dialog("xpcall", function(d, message, session)
  local answer
  xpcall(function() answer = d:ask("x?") end, function(e) return e end)
  session.touched = true
  return "got " .. tostring(answer)
end))
robot.text(function(m, s) return "echo " .. m.content .. " touched=" .. tostring(s.touched) end)
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("error", "sure?")
	c.say("yes", "已结束") // the answer is taken; the error after it ends the dialog
	c.say("second", "first?", "one", "second?", "two", "second: two")
	c.say("xpcall", "x?", "hi", "got hi", "hi", "echo hi touched=true")
}
