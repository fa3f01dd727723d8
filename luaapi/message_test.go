package luaapi

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

func TestMessageTable(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"m.lua": `
robot.location(function(msg)
  assert(msg.type == "location", "type")
  assert(msg.source == "o-user" and msg.target == "gh_123", "source/target")
  assert(msg.time == 1348831860, "time")
  assert(msg.raw == "<xml>raw</xml>", "raw")
  -- 64-bit ids are strings, digit for digit.
  assert(msg.message_id == "9223372036854775807", "message_id " .. tostring(msg.message_id))
  assert(msg.location_x == 23.134521 and msg.location_y == 113.358803, "floats")
  assert(msg.scale == 20 and msg.label == "广州", "fields")
  local n = 0
  for k, v in pairs(msg) do n = n + 1 end
  assert(n == 10, "pairs sees " .. n .. " fields")
  return "ok"
end)
robot.pic_sysphoto(function(msg)
  assert(msg.count == 2)
  assert(#msg.pic_list == 2 and msg.pic_list[2].pic_md5_sum == "b")
  assert(msg.message_id == nil)
  return "ok"
end)
robot.text(function(msg)
  if msg.content == "write" then msg.content = "changed" end
  if msg.content == "new" then msg.extra = 1 end
  if msg.content == "rawset" then rawset(msg, "content", "x") end
  if msg.content == "setmt" then setmetatable(msg, nil) end
  if msg.content == "getmt" then return tostring(getmetatable(msg)) end
  return "no"
end)
`}, Options{})
	loc := &message.Message{
		Type: "location", Source: "o-user", Target: "gh_123", Time: 1348831860,
		MessageID: "9223372036854775807", Raw: []byte("<xml>raw</xml>"),
		Fields: []message.Field{
			{Name: "location_x", Value: 23.134521}, {Name: "location_y", Value: 113.358803},
			{Name: "scale", Value: int64(20)}, {Name: "label", Value: "广州"},
		},
	}
	if r, _ := dispatch(t, rt, loc, nil); textOf(r) != "ok" {
		t.Errorf("location: %q", textOf(r))
	}
	pics := &message.Message{Type: "pic_sysphoto_event", Source: "u", Event: "pic_sysphoto", Fields: []message.Field{
		{Name: "count", Value: int64(2)},
		{Name: "pic_list", Value: []map[string]string{{"pic_md5_sum": "a"}, {"pic_md5_sum": "b"}}},
	}}
	if r, _ := dispatch(t, rt, pics, nil); textOf(r) != "ok" {
		t.Errorf("pic_list: %q", textOf(r))
	}
	for _, in := range []string{"write", "new", "rawset", "setmt"} {
		_, _, err := rt.Dispatch(context.Background(), textMsg(in), nil)
		if err == nil || !strings.Contains(err.Error(), "m.lua:") || !strings.Contains(err.Error(), "read-only") && !strings.Contains(err.Error(), "protected metatable") {
			t.Errorf("%s: err = %v, want a read-only error with the line", in, err)
		}
	}
	if r, _ := dispatch(t, rt, textMsg("getmt"), nil); textOf(r) != "false" {
		t.Errorf("getmetatable(message) = %q, want false", textOf(r))
	}
}

func TestMessageReadOnlyHint(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"m.lua": `robot.text(function(msg) msg.seen = true end)`}, Options{})
	_, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil)
	want := "m.lua:1: message is read-only (cannot set seen): to remember something about this user, use session"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

func TestSession(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"s.lua": `
robot.text(function(msg, session)
  local c = msg.content
  if c == "count" then
    session.count = (session.count or 0) + 1
    return tostring(session.count)
  elseif c == "read" then
    return tostring(session.count)
  elseif c == "forget" then
    session.count = nil
    return "forgot"
  elseif c == "nested" then
    session.profile = {name = "张三", tags = {"a", "b"}, bin = "\0\255"}
    return "ok"
  elseif c == "fail" then
    session.count = 1000
    error("boom")
  elseif c == "func" then
    session.f = print
    return "stored a function"
  end
end)
-- WeRoBot's session demo
robot.text(function(message, session)
  if session.last then return end
  session.last = message.content
  return message.content
end)
`}, Options{})

	// No session yet, nothing changed: nil session.
	if r, s := dispatch(t, rt, textMsg("read"), nil); textOf(r) != "nil" || s != nil {
		t.Errorf("read: %q %q", textOf(r), s)
	}
	r, s := dispatch(t, rt, textMsg("count"), nil)
	if textOf(r) != "1" || string(s) != `{"count":1}` {
		t.Fatalf("count: %q %s", textOf(r), s)
	}
	r, s2 := dispatch(t, rt, textMsg("count"), s)
	if textOf(r) != "2" || string(s2) != `{"count":2}` {
		t.Errorf("count again: %q %s", textOf(r), s2)
	}
	// Unchanged: nil, so the host does not write.
	if r, s3 := dispatch(t, rt, textMsg("read"), s2); textOf(r) != "2" || s3 != nil {
		t.Errorf("read: %q %q, want 2 and no write", textOf(r), s3)
	}
	// Emptied: an empty slice, which makes the store delete it.
	if _, s4 := dispatch(t, rt, textMsg("forget"), s2); s4 == nil || len(s4) != 0 {
		t.Errorf("forget: session %q, want empty non-nil", s4)
	}
	// Nested values and any bytes survive.
	_, s5 := dispatch(t, rt, textMsg("nested"), nil)
	if !strings.Contains(string(s5), `"name":"张三"`) {
		t.Errorf("nested: %s", s5)
	}
	rt2, _ := startRuntime(t, map[string]string{"r.lua": `
robot.text(function(msg, session)
  local p = session.profile
  assert(p.name == "张三" and p.tags[2] == "b" and p.bin == "\0\255")
  return "ok"
end)`}, Options{})
	if r, _ := dispatch(t, rt2, textMsg("x"), s5); textOf(r) != "ok" {
		t.Errorf("nested read back: %q", textOf(r))
	}
	// A handler error: the error, and the session is not saved.
	if _, sf, err := rt.Dispatch(context.Background(), textMsg("fail"), s2); err == nil || sf != nil {
		t.Errorf("fail: session %q err %v", sf, err)
	}
	// A session value JSON cannot hold is an error.
	if _, _, err := rt.Dispatch(context.Background(), textMsg("func"), nil); err == nil || !strings.Contains(err.Error(), "the session cannot be saved: session.f: a function") ||
		!strings.Contains(err.Error(), ".lua:") {
		t.Errorf("func: err %v, want the handler's file:line and what is wrong", err)
	}
	// WeRoBot's demo: the first message is echoed, later ones are not.
	r, s6 := dispatch(t, rt, textMsg("first"), nil)
	if textOf(r) != "first" || string(s6) != `{"last":"first"}` {
		t.Errorf("demo: %q %s", textOf(r), s6)
	}
	if r, _ := dispatch(t, rt, textMsg("second"), s6); r != nil {
		t.Errorf("demo again: %q", textOf(r))
	}

	// A corrupt session: an empty table and a log line.
	for _, bad := range []string{`{"count":`, `[1,2]`, `"str"`} {
		r, s := dispatch(t, rt, textMsg("count"), []byte(bad))
		if textOf(r) != "1" || string(s) != `{"count":1}` {
			t.Errorf("corrupt %s: %q %s", bad, textOf(r), s)
		}
	}
	if !strings.Contains(logs.String(), "session is corrupt") {
		t.Errorf("no log line for a corrupt session:\n%s", logs)
	}
}

// An event the host does not know still tells its name and key.
func TestUnknownEventNameAndKey(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"t.lua": `
		robot.unknown_event(function(m) return m.type .. " " .. m.event .. " " .. tostring(m.key) end)`}, Options{})
	msg := &message.Message{Type: "unknown_event", Source: "u", Target: "gh", Time: 1, Event: "brand_new", EventKey: "k1", Raw: []byte("<xml/>")}
	r, _ := dispatch(t, rt, msg, nil)
	if got := textOf(r); got != "unknown_event brand_new k1" {
		t.Errorf("unknown_event reads %q", got)
	}
}

// The lists and blocks of the newer events reach Lua as arrays of tables
// and tables, numbers as numbers and 64-bit ids as strings; read from the
// parser's golden samples.
func TestMessageListsAndTables(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"m.lua": `
robot.subscribe_msg_popup(function(msg)
  assert(#msg.subscribes == 2, "subscribes")
  local s = msg.subscribes[2]
  assert(s.template_id == "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI" and s.subscribe_status_string == "reject")
  assert(s.popup_scene == 2, "popup_scene is a number")
  return "popup ok"
end)
robot.subscribe_msg_sent(function(msg)
  assert(msg.subscribes[1].msg_id == "1700827132819554304", "64-bit id as a string")
  assert(msg.subscribes[1].error_code == 0)
  return "sent ok"
end)
robot.shakearoundusershake(function(msg)
  assert(msg.chosen_beacon.distance == 0.057 and msg.chosen_beacon.uuid == "uuid")
  assert(#msg.around_beacons == 2 and msg.around_beacons[2].distance == 15.013)
  return "shake ok"
end)
robot.masssendjobfinish(function(msg)
  local cc = msg.copyright_check_result
  assert(cc.count == 2 and cc.check_state == 2 and #cc.result_list == 2)
  assert(cc.result_list[1].original_article_url == "Url_1")
  assert(msg.article_url_result.result_list[1].article_url == "Url")
  assert(msg.message_id == "1000001625" and msg.status == "err(30003)" and msg.total_count == 0)
  return "mass ok"
end)
robot.device_event(function(msg)
  assert(msg.event == "bind" and msg.content == "123" and msg.device_id == "123")
  return "device ok"
end)
robot.subscribe(function(msg)
  assert(msg.scene == "scanbarcode" and msg.key_standard == "keystandard" and msg.key_str == "keystr")
  return "product ok"
end)
`}, Options{})
	for sample, want := range map[string]string{
		"subscribe_msg_popup_event":    "popup ok",
		"subscribe_msg_sent_event":     "sent ok",
		"shakearoundusershake_event":   "shake ok",
		"masssendjobfinish_event":      "mass ok",
		"device_event":                 "device ok",
		"subscribe_event_scan_product": "product ok",
	} {
		raw, err := os.ReadFile("../host/message/testdata/messages/" + sample + ".xml")
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := dispatch(t, rt, m, nil); textOf(r) != want {
			t.Errorf("%s: %q, want %q", sample, textOf(r), want)
		}
	}
}
