package message_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

// TestWechatpyAssertions repeats, on the golden samples taken from
// wechatpy's tests, what those tests assert, under LuaRoBot's field names.
func TestWechatpyAssertions(t *testing.T) {
	for _, c := range []struct {
		sample string
		typ    string
		want   map[string]any
	}{
		{"miniprogrampage", "miniprogrampage", map[string]any{"app_id": "appid", "title": "title",
			"page_path": "path", "thumb_url": "thumburl", "thumb_media_id": "thumbmediaid"}},
		{"device_text", "device_text", map[string]any{"content": "123", "device_type": "123", "device_id": "123"}},
		{"device_event", "device_event", map[string]any{"event": "bind", "content": "123", "device_type": "123"}},
		{"device_event_subscribe_status", "device_event", map[string]any{"event": "subscribe_status", "op_type": int64(0)}},
		{"subscribe_event_scan_product", "subscribe_event", map[string]any{"scene": "scanbarcode",
			"key_standard": "keystandard", "key_str": "keystr", "key": "scanbarcode|keystandard|keystr"}},
		{"subscribe_event_scan_image", "subscribe_event", map[string]any{"scene": "scanimage", "key_standard": "keystandard", "key_str": "keystr"}},
		{"masssendjobfinish_event", "masssendjobfinish_event", map[string]any{"status": "err(30003)",
			"total_count": int64(0), "filter_count": int64(0), "sent_count": int64(0), "error_count": int64(0)}},
		{"merchant_order_event", "merchant_order_event", map[string]any{"order_id": "test_order_id",
			"order_status": int64(2), "product_id": "test_product_id", "sku_info": "10001:1000012;10002:100021"}},
		{"kf_create_session_event", "kf_create_session_event", map[string]any{"kf_account": "test1@test"}},
		{"kf_close_session_event", "kf_close_session_event", map[string]any{"kf_account": "test1@test"}},
		{"kf_switch_session_event", "kf_switch_session_event", map[string]any{"from_kf_account": "test1@test", "to_kf_account": "test2@test"}},
		{"wificonnected_event", "wificonnected_event", map[string]any{"connect_time": int64(0), "place_id": "1234", "device_no": "00:1f:7a:ad:5c:a8"}},
		{"qualification_verify_success_event", "qualification_verify_success_event", map[string]any{"expired_time": int64(1442401156)}},
		{"qualification_verify_fail_event", "qualification_verify_fail_event", map[string]any{"fail_time": int64(1442401122), "fail_reason": "by time"}},
		{"naming_verify_success_event", "naming_verify_success_event", map[string]any{"expired_time": int64(1442401093)}},
		{"naming_verify_fail_event", "naming_verify_fail_event", map[string]any{"fail_time": int64(1442401061), "fail_reason": "by time"}},
		{"annual_renew_event", "annual_renew_event", map[string]any{"expired_time": int64(1442401004)}},
		{"verify_expired_event", "verify_expired_event", map[string]any{"expired_time": int64(1442400900)}},
		{"user_authorize_invoice_event", "user_authorize_invoice_event", map[string]any{"succ_order_id": "1202933957956",
			"fail_order_id": nil, "app_id": "wx1234567887654321", "auth_source": "web"}},
		{"update_invoice_status_event", "update_invoice_status_event", map[string]any{"status": "INVOICE_REIMBURSE_INIT",
			"card_id": "pjZ8Yt7Um2jYxzneP8GomnxoVFWo", "code": "186921658591"}},
		{"submit_invoice_title_event", "submit_invoice_title_event", map[string]any{"title": "样例公司抬头", "tax_no": "1486715661",
			"addr": "abc", "phone": "13313331333", "bank_type": "bt", "bank_no": "bn", "attach": "at", "title_type": "InvoiceUserTitleBusinessType"}},
		{"poi_check_notify_event", "poi_check_notify_event", map[string]any{"poi_id": "123123", "uniq_id": "123adb", "result": "fail", "msg": "xxxxxx"}},
		{"view_miniprogram_event", "view_miniprogram_event", map[string]any{"key": "pages/index/index", "menu_id": "MENUID"}},
		{"user_enter_tempsession_event", "user_enter_tempsession_event", map[string]any{"session_from": "sessionFrom"}},
		{"wxa_media_check_event", "wxa_media_check_event", map[string]any{"isrisky": int64(0), "status_code": int64(0),
			"trace_id": "967e945cd8a3e458f3c74dcb886068e9", "extra_info_json": nil}},
		{"unknown", "unknown", map[string]any{}},
		{"unknown_event", "unknown_event", map[string]any{}},
	} {
		t.Run(c.sample, func(t *testing.T) {
			m := parseSample(t, c.sample)
			if m.Type != c.typ {
				t.Errorf("type %q, want %q", m.Type, c.typ)
			}
			for name, want := range c.want {
				got, ok := m.Get(name)
				if want == nil {
					if ok {
						t.Errorf("%s = %#v, want it absent (sent empty)", name, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %#v, want %#v", name, got, want)
				}
			}
		})
	}
}

func parseSample(t *testing.T, name string) *message.Message {
	t.Helper()
	raw, err := os.ReadFile("testdata/messages/" + name + ".xml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := message.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestListsAndTables: the repeated elements and blocks, as wechatpy's tests
// read them.
func TestListsAndTables(t *testing.T) {
	popup := parseSample(t, "subscribe_msg_popup_event")
	subs, _ := popup.Get("subscribes")
	want := []map[string]any{
		{"template_id": "VRR0UEO9VJOLs0MHlU0OilqX6MVFDwH3_3gz3Oc0NIc", "subscribe_status_string": "accept", "popup_scene": int64(2)},
		{"template_id": "9nLIlbOQZC5Y89AZteFEux3WCXRRRG5Wfzkpssu4bLI", "subscribe_status_string": "reject", "popup_scene": int64(2)},
	}
	if !reflect.DeepEqual(subs, want) {
		t.Errorf("popup subscribes = %#v", subs)
	}
	sent := parseSample(t, "subscribe_msg_sent_event")
	subs, _ = sent.Get("subscribes")
	// A 64-bit message id stays a string; it is not the push's own id.
	if l := subs.([]map[string]any); len(l) != 1 || l[0]["msg_id"] != "1700827132819554304" || l[0]["error_code"] != int64(0) || l[0]["error_status"] != "success" {
		t.Errorf("sent subscribes = %#v", subs)
	}
	if sent.MessageID != "" {
		t.Errorf("message_id = %q: the item's MsgID is not the push's", sent.MessageID)
	}

	shake := parseSample(t, "shakearoundusershake_event")
	chosen, _ := shake.Get("chosen_beacon")
	if !reflect.DeepEqual(chosen, map[string]any{"uuid": "uuid", "major": "major", "minor": "minor", "distance": 0.057}) {
		t.Errorf("chosen_beacon = %#v", chosen)
	}
	around, _ := shake.Get("around_beacons")
	if l := around.([]map[string]any); len(l) != 2 || l[1]["distance"] != 15.013 {
		t.Errorf("around_beacons = %#v", around)
	}
	numbers := parseSample(t, "shakearoundusershake_event_numbers")
	chosen, _ = numbers.Get("chosen_beacon")
	if c := chosen.(map[string]any); c["major"] != int64(10001) || c["minor"] != int64(10002) {
		t.Errorf("numeric chosen_beacon = %#v", chosen)
	}
	if around, ok := numbers.Get("around_beacons"); !ok || len(around.([]map[string]any)) != 0 {
		t.Errorf("an empty <AroundBeacons> is %#v, %v; want an empty list", around, ok)
	}

	mass := parseSample(t, "masssendjobfinish_event")
	if mass.MessageID != "1000001625" {
		t.Errorf("masssendjobfinish message_id = %q", mass.MessageID)
	}
	cc, _ := mass.Get("copyright_check_result")
	ccm := cc.(map[string]any)
	list := ccm["result_list"].([]map[string]any)
	if ccm["count"] != int64(2) || ccm["check_state"] != int64(2) || len(list) != 2 ||
		list[1]["original_article_url"] != "Url_2" || list[1]["article_idx"] != int64(2) {
		t.Errorf("copyright_check_result = %#v", cc)
	}
	urls, _ := mass.Get("article_url_result")
	if l := urls.(map[string]any)["result_list"].([]map[string]any); len(l) != 1 || l[0]["article_url"] != "Url" {
		t.Errorf("article_url_result = %#v", urls)
	}
}

// TestListCorners: how Parse reads lists that WeChat's samples do not show.
func TestListCorners(t *testing.T) {
	const popup = header + "<MsgType>event</MsgType><Event>subscribe_msg_popup_event</Event>"
	for _, c := range []struct {
		name, body string
		want       any // the subscribes field; nil when absent
	}{
		{"no container", "", nil},
		{"empty container", "<SubscribeMsgPopupEvent/>", []map[string]any{}},
		{"empty item", "<SubscribeMsgPopupEvent><List/></SubscribeMsgPopupEvent>", []map[string]any{{}}},
		{"first text wins", "<SubscribeMsgPopupEvent><List><TemplateId>a</TemplateId><TemplateId>b</TemplateId></List></SubscribeMsgPopupEvent>",
			[]map[string]any{{"template_id": "a"}}},
		{"blank number is absent", "<SubscribeMsgPopupEvent><List><PopupScene><![CDATA[ ]]></PopupScene></List></SubscribeMsgPopupEvent>",
			[]map[string]any{{}}},
		{"odd number keeps its text", "<SubscribeMsgPopupEvent><List><PopupScene>two</PopupScene></List></SubscribeMsgPopupEvent>",
			[]map[string]any{{"popup_scene": "two"}}},
		{"leaf holding elements is ignored", "<SubscribeMsgPopupEvent><List><TemplateId><x/>y</TemplateId></List></SubscribeMsgPopupEvent>",
			[]map[string]any{{}}},
		{"two containers add up", "<SubscribeMsgPopupEvent><List><TemplateId>a</TemplateId></List></SubscribeMsgPopupEvent>" +
			"<SubscribeMsgPopupEvent><List><TemplateId>b</TemplateId></List></SubscribeMsgPopupEvent>",
			[]map[string]any{{"template_id": "a"}, {"template_id": "b"}}},
		{"another event's list is not read", "<SubscribeMsgSentEvent><List><TemplateId>a</TemplateId></List></SubscribeMsgSentEvent>", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := message.Parse([]byte(popup + c.body + "</xml>"))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := m.Get("subscribes")
			if c.want == nil {
				if ok {
					t.Errorf("subscribes = %#v, want absent", got)
				}
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("subscribes = %#v, want %#v", got, c.want)
			}
		})
	}

	// A table is absent when none of its fields is there, and a field of
	// it that appears twice is an error, as at the top level.
	const shake = header + "<MsgType>event</MsgType><Event>ShakearoundUserShake</Event>"
	m, err := message.Parse([]byte(shake + "<ChosenBeacon><Other>x</Other></ChosenBeacon></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Get("chosen_beacon"); ok {
		t.Errorf("chosen_beacon = %#v, want absent", v)
	}
	_, err = message.Parse([]byte(shake + "<ChosenBeacon><Uuid>a</Uuid><Uuid>b</Uuid></ChosenBeacon></xml>"))
	if err == nil || !strings.Contains(err.Error(), "duplicate <Uuid>") {
		t.Errorf("duplicate Uuid: %v", err)
	}
}

// TestDeviceContent: Content is base64 of the device's bytes; what is not
// base64 reaches the handler as sent.
func TestDeviceContent(t *testing.T) {
	const dev = header + "<MsgType>device_text</MsgType><Content>"
	for _, c := range []struct{ in, want string }{
		{"MTIz", "123"},
		{"AP8BgA==", "\x00\xff\x01\x80"},
		{"5L2g5aW9\n", "你好"},
		{"not base64!", "not base64!"},
		{"MTI", "MTI"},
	} {
		m, err := message.Parse([]byte(dev + c.in + "</Content></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		if got := m.String("content"); got != c.want {
			t.Errorf("%q: content = %q, want %q", c.in, got, c.want)
		}
		out, err := message.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := message.Parse(out)
		if err != nil || back.String("content") != c.want {
			t.Errorf("%q: round trip gave %q, %v\n%s", c.in, back.String("content"), err, out)
		}
	}
}

// TestProductScanKeys: only scanbarcode| and scanimage| keys are split.
func TestProductScanKeys(t *testing.T) {
	const sub = header + "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>"
	for _, c := range []struct {
		key  string
		want map[string]any
	}{
		{"qrscene_123", map[string]any{"key": "qrscene_123"}},
		{"last_trade_no_4008072001201701105817415015", map[string]any{"key": "last_trade_no_4008072001201701105817415015"}},
		{"scanbarcode|ean13|6901234567892", map[string]any{"key": "scanbarcode|ean13|6901234567892",
			"scene": "scanbarcode", "key_standard": "ean13", "key_str": "6901234567892"}},
		{"scanimage|std", map[string]any{"key": "scanimage|std", "scene": "scanimage", "key_standard": "std"}},
		{"scanbarcode|a|b|c", map[string]any{"key": "scanbarcode|a|b|c", "scene": "scanbarcode", "key_standard": "a", "key_str": "b|c"}},
	} {
		m, err := message.Parse([]byte(sub + c.key + "</EventKey></xml>"))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]any{}
		for _, f := range m.Fields {
			got[f.Name] = f.Value
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: fields %#v, want %#v", c.key, got, c.want)
		}
	}
}

// TestMarshalNewKinds covers what Marshal accepts and refuses for lists,
// tables, device events and product-scan follows.
func TestMarshalNewKinds(t *testing.T) {
	ok := []*message.Message{
		{Type: "subscribe_event", Source: "s", Target: "t", Time: 1, Fields: []message.Field{
			{Name: "scene", Value: "scanbarcode"}, {Name: "key_standard", Value: "ean13"}, {Name: "key_str", Value: "690"}}},
		{Type: "device_event", Source: "s", Target: "t", Time: 1, Event: "unbind"},
		{Type: "shakearoundusershake_event", Source: "s", Target: "t", Time: 1, Fields: []message.Field{
			{Name: "around_beacons", Value: []map[string]any{{"uuid": "u", "major": int64(1), "distance": 1.5}}}}},
	}
	for _, m := range ok {
		out, err := message.Marshal(m)
		if err != nil {
			t.Errorf("%s: %v", m.Type, err)
			continue
		}
		back, err := message.Parse(out)
		if err != nil {
			t.Errorf("%s: %v\n%s", m.Type, err, out)
			continue
		}
		if m.Type == "subscribe_event" && back.EventKey != "scanbarcode|ean13|690" {
			t.Errorf("product key = %q", back.EventKey)
		}
		if m.Type == "device_event" && (back.Event != "unbind" || back.String("event") != "unbind") {
			t.Errorf("device event = %q / %q", back.Event, back.String("event"))
		}
	}

	base := message.Message{Source: "s", Target: "t", Time: 1}
	for _, c := range []struct {
		name string
		edit func(m *message.Message)
		want string
	}{
		{"list of strings", func(m *message.Message) {
			m.Type, m.Fields = "subscribe_msg_popup_event", []message.Field{{Name: "subscribes", Value: []string{"x"}}}
		}, "want []map[string]any"},
		{"unknown item key", func(m *message.Message) {
			m.Type, m.Fields = "subscribe_msg_popup_event", []message.Field{{Name: "subscribes", Value: []map[string]any{{"nope": "x"}}}}
		}, `subscribes[1] has key "nope"`},
		{"table not a map", func(m *message.Message) {
			m.Type, m.Fields = "shakearoundusershake_event", []message.Field{{Name: "chosen_beacon", Value: "x"}}
		}, "want map[string]any"},
		{"device event twice", func(m *message.Message) {
			m.Type, m.Event, m.Fields = "device_event", "bind", []message.Field{{Name: "event", Value: "unbind"}}
		}, "differ"},
		{"device event key", func(m *message.Message) { m.Type, m.EventKey = "device_event", "k" }, "has no EventKey"},
		{"product part against key", func(m *message.Message) {
			m.Type, m.EventKey, m.Fields = "subscribe_event", "scanbarcode|a|b", []message.Field{{Name: "key_str", Value: "c"}}
		}, "is not what EventKey"},
		{"product part without key", func(m *message.Message) {
			m.Type, m.EventKey, m.Fields = "subscribe_event", "qrscene_1", []message.Field{{Name: "scene", Value: "scanbarcode"}}
		}, "is not what EventKey"},
		{"incomplete product parts", func(m *message.Message) {
			m.Type, m.Fields = "subscribe_event", []message.Field{{Name: "scene", Value: "scanbarcode"}}
		}, "needs scene, key_standard and key_str"},
		{"bad product scene", func(m *message.Message) {
			m.Type, m.Fields = "subscribe_event", []message.Field{{Name: "scene", Value: "x"}, {Name: "key_standard", Value: "a"}, {Name: "key_str", Value: "b"}}
		}, "scanbarcode or scanimage"},
		{"binary content not a string", func(m *message.Message) {
			m.Type, m.Fields = "device_text", []message.Field{{Name: "content", Value: int64(1)}}
		}, "want a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := base
			c.edit(&m)
			_, err := message.Marshal(&m)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Marshal error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestNoFieldHidesTheCommonOnes: a type-specific field named like a common
// field (source, time, ...) would replace it in the Lua message table.
func TestNoFieldHidesTheCommonOnes(t *testing.T) {
	common := map[string]bool{"type": true, "source": true, "target": true, "time": true, "raw": true, "message_id": true}
	for _, typ := range message.Types() {
		names, _ := message.FieldNames(typ)
		for _, n := range names {
			if common[n] {
				t.Errorf("type %s has a field %q, which hides message.%s", typ, n, n)
			}
		}
	}
}
