package simulate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/luarobot/luarobot/host/message"
)

// Spec describes a message to simulate. Zero values get plausible
// defaults, so that `--type image` alone makes a complete image message.
type Spec struct {
	// Type is a WeRoBot type name, with or without "_event" for events:
	// "text", "image", "click", "subscribe", "scancode_push", ...
	Type string
	// From is the user's OpenID, To the account's original ID.
	From, To string
	// Text is the positional argument: the content of a text message, the
	// key of an event that has one (when Key is empty).
	Text string
	// Key is the EventKey of an event.
	Key string
	// MsgID is the message id of a non-event; empty picks a fresh one.
	MsgID string
	// Fields sets type-specific fields by their snake_case name; numbers
	// are read as numbers, pic_list as comma-separated md5 sums.
	Fields map[string]string
	// Time is CreateTime; 0 means now.
	Time int64
}

// defaults fills in what a simulated message of each type carries when the
// command line does not say, in WeChat's documented example values.
var defaults = map[string]map[string]any{
	"image":                       {"img": "https://mmbiz.qpic.cn/simulated.jpg", "media_id": "simulated_media_id"},
	"voice":                       {"media_id": "simulated_media_id", "format": "amr"},
	"video":                       {"media_id": "simulated_media_id", "thumb_media_id": "simulated_thumb_id"},
	"shortvideo":                  {"media_id": "simulated_media_id", "thumb_media_id": "simulated_thumb_id"},
	"location":                    {"location_x": 23.134521, "location_y": 113.358803, "scale": int64(20), "label": "广州市海珠区"},
	"link":                        {"title": "LuaRoBot", "description": "a simulated link", "url": "https://example.com/"},
	"location_event":              {"latitude": 23.137466, "longitude": 113.352425, "precision": 119.385040},
	"scan_event":                  {"key": "123", "ticket": "simulated_ticket"},
	"view_event":                  {"key": "https://example.com/"},
	"click_event":                 {"key": "simulated_key"},
	"scancode_push_event":         {"key": "scan", "scan_type": "qrcode", "scan_result": "simulated result"},
	"scancode_waitmsg_event":      {"key": "scan", "scan_type": "qrcode", "scan_result": "simulated result"},
	"pic_sysphoto_event":          {"key": "photo", "count": int64(1), "pic_list": []map[string]string{{"pic_md5_sum": "1b5f7c23b5bf75682a53e7b6d163e185"}}},
	"pic_photo_or_album_event":    {"key": "photo", "count": int64(1), "pic_list": []map[string]string{{"pic_md5_sum": "1b5f7c23b5bf75682a53e7b6d163e185"}}},
	"pic_weixin_event":            {"key": "photo", "count": int64(1), "pic_list": []map[string]string{{"pic_md5_sum": "1b5f7c23b5bf75682a53e7b6d163e185"}}},
	"location_select_event":       {"key": "place", "location_x": 23.0, "location_y": 113.0, "scale": int64(15), "label": "广州市海珠区", "poi_name": "simulated"},
	"templatesendjobfinish_event": {"status": "success"},
}

// TypeName resolves what a user typed to a message type: "click" and
// "click_event" both name the click event.
func TypeName(typ string) (string, error) {
	typ = strings.ToLower(strings.TrimSpace(typ))
	if typ == "" {
		return "text", nil
	}
	if _, ok := message.FieldNames(typ); ok {
		return typ, nil
	}
	if _, ok := message.FieldNames(typ + "_event"); ok {
		return typ + "_event", nil
	}
	var names []string
	for _, t := range message.Types() {
		names = append(names, strings.TrimSuffix(t, "_event"))
	}
	return "", fmt.Errorf("unknown message type %q (one of: %s)", typ, strings.Join(names, ", "))
}

// Build makes the message a Spec describes.
func Build(s Spec) (*message.Message, error) {
	typ, err := TypeName(s.Type)
	if err != nil {
		return nil, err
	}
	names, _ := message.FieldNames(typ)
	has := func(name string) bool {
		for _, n := range names {
			if n == name {
				return true
			}
		}
		return false
	}
	m := &message.Message{Type: typ, Source: s.From, Target: s.To, Time: s.Time}
	if m.Source == "" {
		m.Source = "simulated-user"
	}
	if m.Target == "" {
		m.Target = "gh_simulated"
	}
	if m.Time == 0 {
		m.Time = time.Now().Unix()
	}
	event := strings.HasSuffix(typ, "_event")
	if !event {
		m.MessageID = s.MsgID
		if m.MessageID == "" {
			m.MessageID = strconv.FormatInt(time.Now().UnixNano()/1000, 10)
		}
	} else if s.MsgID != "" {
		return nil, fmt.Errorf("--msg-id: a %s has no message id (WeChat keys retried events on their time and key)", typ)
	}

	values := map[string]any{}
	for k, v := range defaults[typ] {
		values[k] = v
	}
	switch {
	case typ == "text":
		values["content"] = s.Text
	case s.Text != "" && has("key") && s.Key == "":
		values["key"] = s.Text
	case s.Text != "" && typ == "voice":
		values["recognition"] = s.Text
	case s.Text != "":
		return nil, fmt.Errorf("a %s has no text; set its fields with --field name=value", typ)
	}
	if s.Key != "" {
		if !has("key") {
			return nil, fmt.Errorf("--key: a %s has no key", typ)
		}
		values["key"] = s.Key
	}
	for name, raw := range s.Fields {
		if !has(name) {
			return nil, fmt.Errorf("--field %s: a %s has no such field (it has: %s)", name, typ, strings.Join(names, ", "))
		}
		values[name] = fieldValue(name, raw)
	}
	for _, name := range names {
		if v, ok := values[name]; ok {
			m.Fields = append(m.Fields, message.Field{Name: name, Value: v})
		}
	}
	if v, ok := values["key"].(string); ok && event {
		m.EventKey = v
	}
	return m, nil
}

// fieldValue reads a --field value: numbers as numbers (64-bit ids stay
// text), pic_list as comma-separated md5 sums.
func fieldValue(name, raw string) any {
	if name == "pic_list" {
		var list []map[string]string
		for _, md5 := range strings.Split(raw, ",") {
			if md5 = strings.TrimSpace(md5); md5 != "" {
				list = append(list, map[string]string{"pic_md5_sum": md5})
			}
		}
		return list
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n > -1<<53 && n < 1<<53 {
		return n
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && strings.ContainsAny(raw, ".eE") {
		return f
	}
	return raw
}

// Summary describes a built message in one line, for the simulator's log.
func Summary(m *message.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s from %s", m.Type, m.Source)
	if m.MessageID != "" {
		fmt.Fprintf(&b, " (MsgId %s)", m.MessageID)
	}
	for i, f := range m.Fields {
		sep := " "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s=%v", sep, f.Name, f.Value)
	}
	return b.String()
}
