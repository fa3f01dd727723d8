package luaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/message"
)

// storedSessionBot has a dialog with every kind of step, and handlers that
// read and write the session, so that a stored value reaches the record's
// replay (answers, d:once results, waited messages, session patches) and
// the session codec.
const storedSessionBot = `
local form = robot.dialog("form", function(d, message, session)
  local id = d:once(function() return {n = 7, s = "x"} end)
  local name = d:ask("name?", {check = function(t) return #t < 40 or "shorter" end, tries = 3})
  local c = d:choose("ok?", {"yes", "no"})
  local loc = d:wait("where?", "location")
  session.done = (session.done or 0) + 1
  return "form:" .. name .. ":" .. c .. ":" .. tostring(loc.label) .. ":" .. id.s
end, {cancel = {"cancel"}, timeout = "10m"})
robot.filter("form", form)
robot.filter("count", function(m, session)
  session.n = (session.n or 0) + 1
  return "n=" .. session.n
end)
robot.text(function(m, session)
  session.last = m.content
  return "echo:" .. m.content
end)
robot.location(function(m) return "at " .. tostring(m.label) end)
`

// FuzzStoredSession: a session comes back from the store (Redis, bbolt)
// as bytes anyone with access to the store could have written, or a
// crash cut short. Whatever they are, a delivery gets the handlers' reply
// (a corrupt session is an empty one, a corrupt dialog record a dropped
// dialog), never a panic or an error, and what the runtime stores back
// is a JSON object whose dialog record, if any, names a dialog.
func FuzzStoredSession(f *testing.F) {
	rt, _ := startRuntime(f, map[string]string{"bot.lua": storedSessionBot}, Options{Logger: discardLogger()})
	// Seeds: the stored values of a real conversation, step by step.
	var stored []byte
	for _, text := range []string{"count", "form", "Ada", "yes", "count", "2"} {
		_, s, err := rt.Dispatch(context.Background(), textMsg(text), stored)
		if err != nil {
			f.Fatal(err)
		}
		if s != nil {
			stored = s
		}
		f.Add(stored, text, false)
	}
	f.Add(stored, "", true)
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"\u0000dialog":{"name":"form"}}`, `{"\u0000dialog":{"name":"nope","last":"2999-01-01T00:00:00Z"}}`,
		`{"\u0000dialog":{"name":"form","last":"2999-01-01T00:00:00Z","steps":[{"kind":"once","value":{}},{"kind":"ask","value":1e999}],"changes":[{"at":-1,"set":{"a":1}},{"at":99999999999,"del":["\u0000x"]}]}}`,
		`{"\u0000dialog":{"name":"form","last":"2999-01-01T00:00:00Z","session":[1],"message":"x","tries":9223372036854775807,"steps":[{"kind":"choose","value":"yes","n":-5}]},"n":1}`,
		`{"\u0000dialog":1,"n":2}`, `{"\u0000dialog":{"name":"form"} ,}`, `{"\u0000n:1":"x","\u0000b64:/w==":true}`} {
		f.Add([]byte(s), "yes", false)
	}
	f.Fuzz(func(t *testing.T, stored []byte, text string, location bool) {
		msg := textMsg(text)
		if location {
			msg = &message.Message{Type: "location", Source: "user-openid", Target: "gh_robot", Time: 1700000000,
				MessageID: "1", Raw: []byte("<xml/>"), Fields: []message.Field{{Name: "label", Value: text}}}
		}
		r, out, err := rt.Dispatch(context.Background(), msg, stored)
		if err != nil {
			t.Fatalf("stored %q: Dispatch: %v", stored, err)
		}
		if r == nil {
			t.Fatalf("stored %q: no reply; every message has a handler", stored)
		}
		if got := textOf(r); strings.Contains(got, "runtime error") || strings.Contains(got, "goroutine") {
			t.Fatalf("stored %q: reply %q", stored, got)
		}
		if out == nil {
			return // unchanged
		}
		session, record := SplitSession(out)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(session, &obj); err != nil {
			t.Fatalf("stored %q gave back a session that is not a JSON object: %q (%v)", stored, session, err)
		}
		if record != nil {
			var rec dialogRecord
			if err := json.Unmarshal(record, &rec); err != nil || rec.Name != "form" {
				t.Fatalf("stored %q gave back a dialog record %q (%v)", stored, record, err)
			}
		}
		if bytes.Contains(session, []byte(`"\u0000dialog"`)) {
			t.Fatalf("stored %q gave back a session that holds a record key: %q", stored, session)
		}
		// What was stored back reads as a table again.
		L := lua.NewState()
		defer L.Close()
		if v, err := DecodeJSON(L, session, true); err != nil || v.Type() != lua.LTTable {
			t.Fatalf("stored back %q does not decode: %v", session, err)
		}
		if !utf8.Valid(record) {
			t.Fatalf("record is not UTF-8: %q", record)
		}
	})
}
