package luaapi

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Handlers that run while a dialog waits may change members the dialog
// changes too. Each change must apply exactly once: the dialog's own
// (replayed on every message) and the other handler's (made once, between
// two steps). An event arriving every few seconds must not grow the record.
func TestDialogOtherHandlersChangesApplyOnce(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("count", function(d, message, session)
  session.count = (session.count or 0) + 1
  session.tag = "dialog"
  local a = d:ask("a?")
  session.count = session.count + 100
  local b = d:ask("b?")
  return "count=" .. session.count .. " tag=" .. tostring(session.tag) .. " seen=" .. tostring(session.seen)
end))
robot.key_click("ten", function(m, session)
  session.count = (session.count or 0) + 10
  session.tag = nil
  return "ten"
end)
robot.location_event(function(m, session) session.seen = (session.seen or 0) + 1 end)
robot.filter("peek", function(m, s) return "count=" .. tostring(s.count) end)
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("go", "a?")
	if got := c.send(eventMsg("click_event", field("key", "ten"))); got != "ten" {
		t.Fatalf("the click answered %q", got)
	}
	c.say("x", "b?")
	for i := 0; i < 20; i++ {
		c.send(eventMsg("location_event", field("latitude", 23.1)))
	}
	_, rec := c.user()
	if n := strings.Count(rec, `"at":`); n > 2 {
		t.Errorf("20 location reports at one step left %d entries in the record: %s", n, rec)
	}
	c.say("y", "count=111 tag=nil seen=20", "peek", "count=111")
}

// A dialog that finishes with a value that is no reply, or leaves a session
// that cannot be saved, fails on every replay: it must end (fail, a log
// line) instead of erroring on each message of the user until it times out.
func TestDialogBadOutcomeEnds(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.filter("fn", robot.dialog("fn", function(d)
  d:ask("a?")
  return function() end
end))
robot.filter("sess", robot.dialog("sess", function(d, message, session)
  d:ask("b?")
  session.f = print
  return "done"
end))
robot.text(function(m) return "echo " .. m.content end)
`}, Options{})
	for _, c := range []struct{ start, prompt, log string }{
		{"fn", "a?", `msg="dialog ended: its outcome cannot be used" dialog=fn err="a.lua:2: the dialog \"fn\" answered with a function`},
		{"sess", "b?", `msg="dialog ended: its outcome cannot be used" dialog=sess err="a.lua:6: the session cannot be saved`},
	} {
		tk := &talk{t: t, rt: rt}
		tk.say(c.start, c.prompt, "x", "已结束", "y", "echo y")
		if !strings.Contains(logs.String(), c.log) {
			t.Errorf("no log line %s:\n%s", c.log, logs)
		}
	}
}

// A session used as a list (session[1] = ...) is a session like any other:
// it comes back on the next message, and a dialog's record is stored beside
// it as valid JSON.
func TestSessionAsList(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.filter("push", function(m, s) s[#s + 1] = "x" return "n=" .. #s end)
robot.filter("go", robot.dialog("d", function(d, message, session)
  session[#session + 1] = "y"
  local a = d:ask("a?")
  return "got " .. a .. " " .. table.concat(session, ",")
end))
`}, Options{})
	c := &talk{t: t, rt: rt}
	c.say("push", "n=1", "push", "n=2", "go", "a?")
	if !json.Valid(c.session) {
		t.Fatalf("stored session is not JSON: %s", c.session)
	}
	c.say("b", "got b x,x,y", "push", "n=4")
	if strings.Contains(logs.String(), "corrupt") {
		t.Errorf("a list session was taken for corrupt:\n%s", logs)
	}
}

// d:wait takes only the types that reach a dialog: device_event is a
// message type by its MsgType, but an event by nature (bind, unbind), and
// goes to the other handlers; a d:wait for it would wait forever.
func TestDialogWaitRefusesWhatNeverComes(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("go", robot.dialog("dev", function(d)
  local m = d:wait("bind your device", "device_event")
  return "bound " .. m.device_id
end))
`}, Options{})
	_, _, err := rt.Dispatch(context.Background(), textMsg("go"), nil)
	if err == nil || !strings.Contains(err.Error(), `d:wait: "device_event" is not a message type a dialog receives`) {
		t.Fatalf("d:wait for device_event: %v", err)
	}
}

// A dialog whose new code returns before the step where other handlers'
// changes were made keeps those changes all the same.
func TestDialogChangesKeptWhenReplayEndsEarly(t *testing.T) {
	src := `
robot.filter("go", robot.dialog("short", function(d, message, session)
  local a = d:ask("a?")
  local b = d:ask("b?")
  local c = d:ask("c?")
  return "done"
end))
robot.key_click("mark", function(m, session) session.marked = true return "marked" end)
robot.filter("peek", function(m, s) return "marked=" .. tostring(s.marked) end)
`
	dir := writeScripts(t, map[string]string{"a.lua": src})
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	c := &talk{t: t, rt: rt}
	c.say("go", "a?", "1", "b?", "2", "c?")
	if got := c.send(eventMsg("click_event", field("key", "mark"))); got != "marked" {
		t.Fatalf("the click answered %q", got)
	}
	short := strings.Replace(src, `  local c = d:ask("c?")`+"\n", "", 1)
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte(short), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	c.say("3", "done", "peek", "marked=true")
}

// A dialog that ends because the scripts changed under it keeps what other
// handlers did to the session while it waited.
func TestDialogChangesKeptWhenDialogBreaksOff(t *testing.T) {
	src := `
robot.filter("go", robot.dialog("shape", function(d, message, session)
  local a = d:ask("a?")
  local b = d:ask("b?")
  local c = d:ask("c?")
  return "done"
end))
robot.key_click("mark", function(m, session) session.marked = true return "marked" end)
robot.filter("peek", function(m, s) return "marked=" .. tostring(s.marked) end)
`
	dir := writeScripts(t, map[string]string{"a.lua": src})
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	c := &talk{t: t, rt: rt}
	c.say("go", "a?", "1", "b?", "2", "c?")
	if got := c.send(eventMsg("click_event", field("key", "mark"))); got != "marked" {
		t.Fatalf("the click answered %q", got)
	}
	changed := strings.Replace(src, `local b = d:ask("b?")`, `local b = d:choose("b?", {"x", "y"})`, 1)
	if err := os.WriteFile(filepath.Join(dir, "a.lua"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	c.say("3", "已结束", "peek", "marked=true")
}
