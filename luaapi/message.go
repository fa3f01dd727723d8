package luaapi

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// messageFields are the fields every message table has, as messageTable
// sets them; unknownEventFields the ones it adds to an unknown_event. The
// type-specific fields come from host/message's tables (Describe).
var (
	messageFields = []luadef.Field{
		{Name: "type", Type: "robot.MessageType", Doc: "the type: \"text\", \"subscribe_event\", ..."},
		{Name: "source", Type: "string", Doc: "the user's OpenID (FromUserName)"},
		{Name: "target", Type: "string", Doc: "the Official Account's original ID (ToUserName)"},
		{Name: "time", Type: "integer", Doc: "CreateTime, Unix seconds"},
		{Name: "raw", Type: "string", Doc: "the XML WeChat sent, after decryption (absent in the messages a dialog records: its message and d:wait's)"},
		{Name: "message_id", Type: "string", Optional: true, Doc: "MsgId, a 64-bit id kept as a string; absent on most events"},
	}
	unknownEventFields = []luadef.Field{
		{Name: "event", Type: "string", Doc: "WeChat's Event"},
		{Name: "key", Type: "string", Optional: true, Doc: "its EventKey, when set"},
	}
)

// messageTable builds the read-only `message` a handler receives: type,
// source, target, time, raw, message_id (when WeChat sent one), then every
// type-specific field. It is built from the Field slice with a type switch,
// once per request: no reflection.
func (st *state) messageTable(msg *message.Message) *lua.LTable {
	L := st.L
	t := L.CreateTable(0, 6+len(msg.Fields))
	t.RawSetString("type", lua.LString(msg.Type))
	t.RawSetString("source", lua.LString(msg.Source))
	t.RawSetString("target", lua.LString(msg.Target))
	t.RawSetString("time", lua.LNumber(msg.Time))
	t.RawSetString("raw", lua.LString(msg.Raw))
	if msg.MessageID != "" {
		// A 64-bit id: a string, as Lua numbers would round it.
		t.RawSetString("message_id", lua.LString(msg.MessageID))
	}
	for _, f := range msg.Fields {
		t.RawSetString(f.Name, fieldValue(L, f.Value))
	}
	if msg.Type == "unknown_event" {
		// An event this host does not know yet: its name and key at least,
		// so that scripts need not dig them out of raw.
		t.RawSetString("event", lua.LString(msg.Event))
		if msg.EventKey != "" {
			t.RawSetString("key", lua.LString(msg.EventKey))
		}
	}
	return st.readOnlyMessage(t)
}

// fieldValue converts one Field value (see message.Field for the types).
func fieldValue(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	case []map[string]string:
		// pic_list: an array of tables, copies that the handler may keep.
		arr := L.CreateTable(len(v), 0)
		for _, m := range v {
			e := L.CreateTable(0, len(m))
			for k, s := range m {
				e.RawSetString(k, lua.LString(s))
			}
			arr.Append(e)
		}
		return arr
	case []map[string]any:
		// subscribes, around_beacons, ...: an array of tables.
		arr := L.CreateTable(len(v), 0)
		for _, m := range v {
			arr.Append(fieldValue(L, m))
		}
		return arr
	case map[string]any:
		// chosen_beacon, copyright_check_result: a table, whose members
		// are field values again.
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, fieldValue(L, e))
		}
		return t
	default:
		return FromGo(L, v)
	}
}
