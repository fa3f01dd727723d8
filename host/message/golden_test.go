package message_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

var update = flag.Bool("update", false, "rewrite the golden files (and the checked-in fuzz seeds) from the current output")

// docTypes is every type the reference docs (werobot-docs.txt, "Message"
// and "Event") name, in their order, plus shortvideo from the decorator
// list, then the messages and events of wechatpy's Official Account parser
// that the docs lack (DESIGN.md, "WeChat coverage").
var docTypes = []string{
	"text", "image", "link", "location", "voice", "video", "shortvideo",
	"miniprogrampage", "device_text", "device_event", "unknown",
	"subscribe_event", "unsubscribe_event", "scan_event", "scancode_push_event",
	"scancode_waitmsg_event", "pic_sysphoto_event", "pic_photo_or_album_event",
	"pic_weixin_event", "location_select_event", "click_event", "view_event",
	"location_event", "templatesendjobfinish_event", "user_scan_product_event",
	"user_scan_product_enter_session_event", "user_scan_product_async_event",
	"user_scan_product_verify_action_event", "card_pass_check_event",
	"card_not_pass_check_event", "user_get_card_event", "user_gifting_card_event",
	"user_del_card_event", "user_consume_card_event", "user_pay_from_pay_cell_event",
	"user_view_card_event", "user_enter_session_from_card_event",
	"update_member_card_event", "card_sku_remind_event", "card_pay_order_event",
	"submit_membercard_user_info_event",
	"masssendjobfinish_event", "subscribe_msg_popup_event", "subscribe_msg_change_event",
	"subscribe_msg_sent_event", "merchant_order_event", "kf_create_session_event",
	"kf_close_session_event", "kf_switch_session_event", "shakearoundusershake_event",
	"poi_check_notify_event", "wificonnected_event", "qualification_verify_success_event",
	"qualification_verify_fail_event", "naming_verify_success_event", "naming_verify_fail_event",
	"annual_renew_event", "verify_expired_event", "user_authorize_invoice_event",
	"update_invoice_status_event", "submit_invoice_title_event", "user_enter_tempsession_event",
	"view_miniprogram_event", "wxa_media_check_event",
	"unknown_event",
}

// golden is the JSON form of a parsed message. Each field says its Go
// type, so a golden file tells int64 from float64 from string.
type golden struct {
	Type      string        `json:"type"`
	Source    string        `json:"source"`
	Target    string        `json:"target"`
	Time      int64         `json:"time"`
	MessageID string        `json:"message_id,omitempty"`
	Event     string        `json:"event,omitempty"`
	EventKey  string        `json:"event_key,omitempty"`
	Fields    []goldenField `json:"fields"`
}

type goldenField struct {
	Name   string               `json:"name"`
	String *string              `json:"string,omitempty"`
	Int    *int64               `json:"int,omitempty"`
	Float  *float64             `json:"float,omitempty"`
	List   *[]map[string]string `json:"list,omitempty"`
	// Items and Table hold lists and blocks, each value typed as above
	// ({"int": 2}).
	Items *[]map[string]any `json:"items,omitempty"`
	Table map[string]any    `json:"table,omitempty"`
}

// typed wraps a value in an object naming its Go type.
func typed(t *testing.T, v any) any {
	switch v := v.(type) {
	case string:
		return map[string]any{"string": v}
	case int64:
		return map[string]any{"int": v}
	case float64:
		return map[string]any{"float": v}
	case []map[string]any:
		items := make([]map[string]any, len(v))
		for i, it := range v {
			items[i] = map[string]any{}
			for k, e := range it {
				items[i][k] = typed(t, e)
			}
		}
		return map[string]any{"items": items}
	}
	t.Fatalf("a table or list holds a %T", v)
	return nil
}

func toGolden(t *testing.T, m *message.Message) golden {
	g := golden{Type: m.Type, Source: m.Source, Target: m.Target, Time: m.Time,
		MessageID: m.MessageID, Event: m.Event, EventKey: m.EventKey, Fields: []goldenField{}}
	for _, f := range m.Fields {
		gf := goldenField{Name: f.Name}
		switch v := f.Value.(type) {
		case string:
			gf.String = &v
		case int64:
			gf.Int = &v
		case float64:
			gf.Float = &v
		case []map[string]string:
			gf.List = &v
		case []map[string]any:
			items := typed(t, v).(map[string]any)["items"].([]map[string]any)
			gf.Items = &items
		case map[string]any:
			gf.Table = map[string]any{}
			for k, e := range v {
				gf.Table[k] = typed(t, e)
			}
		default:
			t.Fatalf("field %s has a %T", f.Name, v)
		}
		g.Fields = append(g.Fields, gf)
	}
	return g
}

func encodeJSON(t *testing.T, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkGolden compares got with the file, or rewrites the file under -update.
func checkGolden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", file, got, want)
	}
}

// TestMessages parses every sample in testdata/messages and compares the
// result with its .golden.json; each must also survive Marshal and Parse.
func TestMessages(t *testing.T) {
	files, err := filepath.Glob("testdata/messages/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".xml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := message.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Raw, raw) {
				t.Error("Raw is not the input")
			}
			covered[m.Type] = true
			checkGolden(t, strings.TrimSuffix(file, ".xml")+".golden.json", encodeJSON(t, toGolden(t, m)))

			out, err := message.Marshal(m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			back, err := message.Parse(out)
			if err != nil {
				t.Fatalf("Parse(Marshal(m)): %v\n%s", err, out)
			}
			m.Raw, back.Raw = nil, nil
			if !reflect.DeepEqual(m, back) {
				t.Errorf("Parse(Marshal(m)) != m\nm:    %#v\nback: %#v\nxml:\n%s", m, back, out)
			}
		})
	}
	for _, typ := range docTypes {
		if !covered[typ] {
			t.Errorf("type %s of the reference docs has no sample in testdata/messages", typ)
		}
	}
}

// TestTypes keeps Types in step with the reference docs.
func TestTypes(t *testing.T) {
	if got := message.Types(); !reflect.DeepEqual(got, docTypes) {
		t.Errorf("Types() = %q\nwant the reference docs' %q", got, docTypes)
	}
	for _, typ := range docTypes {
		if _, ok := message.FieldNames(typ); !ok {
			t.Errorf("FieldNames(%q) unknown", typ)
		}
	}
	if names, _ := message.FieldNames("location"); !reflect.DeepEqual(names, []string{"location_x", "location_y", "scale", "label"}) {
		t.Errorf("location fields = %q", names)
	}
	if _, ok := message.FieldNames("nonsense"); ok {
		t.Error("FieldNames of an unknown type reports ok")
	}
}

// TestErrors parses every sample in testdata/errors and compares the error
// with its .err file.
func TestErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.xml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".xml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := message.Parse(raw)
			if err == nil {
				t.Fatalf("Parse succeeded: %#v", m)
			}
			checkGolden(t, strings.TrimSuffix(file, ".xml")+".err", []byte(err.Error()+"\n"))
		})
	}
}

// TestFuzzSeeds keeps the checked-in seed corpus in step with testdata:
// -update writes one seed per sample.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	for _, sub := range []string{"messages", "errors"} {
		files, _ := filepath.Glob(filepath.Join("testdata", sub, "*.xml"))
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			seed := filepath.Join(dir, "sample_"+strings.TrimSuffix(filepath.Base(file), ".xml"))
			content := []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", raw))
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(seed, content, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(seed); err != nil || !bytes.Equal(got, content) {
				t.Errorf("seed %s is missing or stale (go test -update rewrites it)", seed)
			}
		}
	}
}
