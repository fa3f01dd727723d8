package luaapi

import (
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
