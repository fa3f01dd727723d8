package simulate

import (
	"encoding/json"
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
	// are read as numbers, pic_list as comma-separated md5 sums, the other
	// lists and blocks (subscribes, chosen_beacon, ...) as JSON.
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
	"miniprogrampage":             {"title": "a mini program card", "app_id": "wx_simulated", "page_path": "pages/index/index", "thumb_url": "https://mmbiz.qpic.cn/simulated.jpg", "thumb_media_id": "simulated_thumb_id"},
	"device_text":                 {"device_type": "gh_simulated", "device_id": "simulated_device", "session_id": "1", "content": "hello from the device", "open_id": "simulated-user"},
	"device_event":                {"event": "bind", "device_type": "gh_simulated", "device_id": "simulated_device", "session_id": "1", "content": "bound", "open_id": "simulated-user"},
	"masssendjobfinish_event":     {"status": "send success", "total_count": int64(100), "filter_count": int64(80), "sent_count": int64(75), "error_count": int64(5)},
	"subscribe_msg_popup_event":   {"subscribes": []map[string]any{{"template_id": "simulated_template", "subscribe_status_string": "accept", "popup_scene": int64(2)}}},
	"subscribe_msg_change_event":  {"subscribes": []map[string]any{{"template_id": "simulated_template", "subscribe_status_string": "reject"}}},
	"subscribe_msg_sent_event":    {"subscribes": []map[string]any{{"template_id": "simulated_template", "msg_id": "1700827132819554304", "error_code": int64(0), "error_status": "success"}}},
	"merchant_order_event":        {"order_id": "simulated_order", "order_status": int64(2), "product_id": "simulated_product", "sku_info": "10001:1000012"},
	"kf_create_session_event":     {"kf_account": "test1@test"},
	"kf_close_session_event":      {"kf_account": "test1@test"},
	"kf_switch_session_event":     {"from_kf_account": "test1@test", "to_kf_account": "test2@test"},
	"shakearoundusershake_event": {
		"chosen_beacon":  map[string]any{"uuid": "FDA50693-A4E2-4FB1-AFCF-C6EB07647825", "major": int64(10001), "minor": int64(10002), "distance": 0.057},
		"around_beacons": []map[string]any{{"uuid": "FDA50693-A4E2-4FB1-AFCF-C6EB07647825", "major": int64(10001), "minor": int64(10003), "distance": 15.013}},
	},
	"poi_check_notify_event":             {"uniq_id": "simulated", "poi_id": "123123", "result": "succ"},
	"wificonnected_event":                {"connect_time": int64(0), "expire_time": int64(0), "vendor_id": "3001224419", "place_id": "1234", "device_no": "00:1f:7a:ad:5c:a8"},
	"qualification_verify_success_event": {"expired_time": int64(1442401156)},
	"qualification_verify_fail_event":    {"fail_time": int64(1442401122), "fail_reason": "simulated"},
	"naming_verify_success_event":        {"expired_time": int64(1442401093)},
	"naming_verify_fail_event":           {"fail_time": int64(1442401061), "fail_reason": "simulated"},
	"annual_renew_event":                 {"expired_time": int64(1442401004)},
	"verify_expired_event":               {"expired_time": int64(1442400900)},
	"user_authorize_invoice_event":       {"succ_order_id": "1202933957956", "app_id": "wx_simulated", "auth_source": "web"},
	"update_invoice_status_event":        {"status": "INVOICE_REIMBURSE_INIT", "card_id": "simulated_card", "code": "186921658591"},
	"submit_invoice_title_event":         {"title": "样例公司抬头", "title_type": "InvoiceUserTitleBusinessType"},
	"user_enter_tempsession_event":       {"session_from": "simulated"},
	"view_miniprogram_event":             {"key": "pages/index/index", "menu_id": "1"},
	"wxa_media_check_event":              {"isrisky": int64(0), "trace_id": "simulated_trace", "status_code": int64(0)},
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
		v, err := fieldValue(name, raw)
		if err != nil {
			return nil, fmt.Errorf("--field %s: %w", name, err)
		}
		values[name] = v
	}
	for _, name := range names {
		if v, ok := values[name]; ok {
			m.Fields = append(m.Fields, message.Field{Name: name, Value: v})
		}
	}
	if v, ok := values["key"].(string); ok && event {
		m.EventKey = v
	}
	// A --field of the wrong shape (an object for a list) is the user's
	// mistake: say so now, not when the message is sent.
	if _, err := message.Marshal(m); err != nil {
		return nil, err
	}
	return m, nil
}

// fieldValue reads a --field value: numbers as numbers (64-bit ids stay
// text), pic_list as comma-separated md5 sums, a JSON array of objects or
// a JSON object as a list or block field.
func fieldValue(name, raw string) (any, error) {
	if name == "pic_list" {
		var list []map[string]string
		for _, md5 := range strings.Split(raw, ",") {
			if md5 = strings.TrimSpace(md5); md5 != "" {
				list = append(list, map[string]string{"pic_md5_sum": md5})
			}
		}
		return list, nil
	}
	if t := strings.TrimSpace(raw); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
		return jsonField(t)
	}
	return scalar(raw), nil
}

// scalar reads a number as a number, anything else as text.
func scalar(raw string) any {
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n > -1<<53 && n < 1<<53 {
		return n
	}
	if f, err := strconv.ParseFloat(raw, 64); err == nil && strings.ContainsAny(raw, ".eE") {
		return f
	}
	return raw
}

// jsonField reads a list ([{...}, ...]) or a block ({...}) whose members
// are strings or numbers, or lists inside a block.
func jsonField(raw string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return jsonValue(v, 0)
}

func jsonValue(v any, depth int) (any, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return scalar(string(v)), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ev, err := jsonValue(e, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		if depth > 1 {
			break
		}
		out := make([]map[string]any, len(v))
		for i, e := range v {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("item %d is not an object", i+1)
			}
			ev, err := jsonValue(m, depth+1)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i+1, err)
			}
			out[i] = ev.(map[string]any)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not a string, a number, a list of objects or an object", describeJSON(v))
}

func describeJSON(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case []any:
		return "a nested list"
	}
	return fmt.Sprintf("%T", v)
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
