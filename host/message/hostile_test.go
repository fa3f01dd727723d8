package message_test

import (
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
)

const header = "<xml><ToUserName>t</ToUserName><FromUserName>f</FromUserName><CreateTime>1</CreateTime>"

// TestHostile feeds inputs built to hurt: each must fail fast with an
// error that says why, never panic or blow up memory.
func TestHostile(t *testing.T) {
	for _, c := range []struct {
		name, input, want string
	}{
		{"over the size limit", header + strings.Repeat(" ", message.MaxSize) + "</xml>", "over the 4194304-byte limit"},
		{"deep nesting", header + strings.Repeat("<a>", 100000) + strings.Repeat("</a>", 100000) + "</xml>", "nested deeper than 32"},
		{"unclosed deep nesting", strings.Repeat("<a>", 1000), "nested deeper than 32"},
		{"too many pictures", header + "<MsgType>event</MsgType><Event>pic_weixin</Event><SendPicsInfo><PicList>" +
			strings.Repeat("<item><PicMd5Sum>x</PicMd5Sum></item>", 1000) + "</PicList></SendPicsInfo></xml>", "more than 100 items"},
		{"too many beacons", header + "<MsgType>event</MsgType><Event>ShakearoundUserShake</Event><AroundBeacons>" +
			strings.Repeat("<AroundBeacon><Uuid>x</Uuid></AroundBeacon>", 1000) + "</AroundBeacons></xml>", "<AroundBeacons> holds more than 100 items"},
		{"parameter entity", `<!DOCTYPE x [<!ENTITY % p "x">]><xml/>`, "DOCTYPE and ENTITY declarations are refused"},
		{"entity declared after the root", header + "</xml><!ENTITY x 'y'>", "DOCTYPE and ENTITY declarations are refused"},
		{"many attributes", "<xml" + strings.Repeat(` a="1"`, 100000) + "/>", "missing <ToUserName>"},
		{"huge character reference", header + "<MsgType>text</MsgType><Content>&#99999999999999999999;</Content></xml>", "invalid character reference"},
		{"NUL only", "\x00\x00\x00", "no root element"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			m, err := message.Parse([]byte(c.input))
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", m)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestSurrogateReference pins encoding/xml's reading of a surrogate
// reference as U+FFFD, which the scanner follows.
func TestSurrogateReference(t *testing.T) {
	m, err := message.Parse([]byte(header + "<MsgType>text</MsgType><Content>&#xD800;</Content></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.String("content"); got != "\uFFFD" {
		t.Errorf("content = %q", got)
	}
}

// TestEmptyMeansAbsent: WeChat sends empty elements for absent values
// (<EventKey><![CDATA[]]></EventKey>); Lua treats "" as true, so they
// must not become empty strings.
func TestEmptyMeansAbsent(t *testing.T) {
	m, err := message.Parse([]byte(header + "<MsgType>event</MsgType><Event>subscribe</Event>" +
		"<EventKey><![CDATA[]]></EventKey><Ticket>\n  </Ticket></xml>"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Fields) != 0 {
		t.Errorf("fields = %#v, want none", m.Fields)
	}
	if !m.IsEvent() || m.Type != "subscribe_event" {
		t.Errorf("type %q, IsEvent %v", m.Type, m.IsEvent())
	}
}

// TestMarshalRefuses covers messages Parse could not have produced.
func TestMarshalRefuses(t *testing.T) {
	base := message.Message{Type: "text", Source: "s", Target: "t", Time: 1}
	for _, c := range []struct {
		name string
		edit func(m *message.Message)
		want string
	}{
		{"unknown type", func(m *message.Message) { m.Type = "fax" }, `unknown type "fax"`},
		{"no source", func(m *message.Message) { m.Source = "" }, "Source and Target must be set"},
		{"foreign field", func(m *message.Message) { m.Fields = []message.Field{{Name: "ticket", Value: "x"}} }, `type text has no field "ticket"`},
		{"twice", func(m *message.Message) {
			m.Fields = []message.Field{{Name: "content", Value: "a"}, {Name: "content", Value: "b"}}
		}, `field "content" appears twice`},
		{"event on a message", func(m *message.Message) { m.Event = "CLICK" }, "Event and EventKey belong to events"},
		{"wrong event", func(m *message.Message) { m.Type, m.Event = "click_event", "VIEW" }, `Event "VIEW" does not make a click_event`},
		{"known unknown", func(m *message.Message) { m.Type, m.Event = "unknown_event", "CLICK" }, "is a click_event"},
		{"key mismatch", func(m *message.Message) {
			m.Type, m.EventKey, m.Fields = "click_event", "a", []message.Field{{Name: "key", Value: "b"}}
		}, "differ"},
		{"bad value", func(m *message.Message) { m.Fields = []message.Field{{Name: "content", Value: true}} }, "is a bool"},
		{"bad pic list", func(m *message.Message) {
			m.Type, m.Fields = "pic_weixin_event", []message.Field{{Name: "pic_list", Value: []string{"x"}}}
		}, "want []map[string]string"},
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
	if _, err := message.Marshal(nil); err == nil {
		t.Error("Marshal(nil) succeeded")
	}
}

// TestRemovalMakesNoMarkup: dropping a control character must not turn
// "]]\x01>" in user text into the "]]>" that ends its CDATA section.
func TestRemovalMakesNoMarkup(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a]]\x01\x02>b\x01c", "a]]\uFFFD>bc"},
		{"a]\x01]>b", "a]\uFFFD]>b"},
		{"]\x01]\x01>", "]]\uFFFD>"},
		{"]\x01\xff]\x02\xfe>]", "]]\uFFFD>]"},
		{"]]\x01]", "]]]"},
	} {
		m, err := message.Parse([]byte(header + "<MsgType>text</MsgType><Content><![CDATA[" + c.in + "]]></Content></xml>"))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if got := m.String("content"); got != c.want {
			t.Errorf("%q: content = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestManyIllegalCharacters: cleaning stays linear however many
// characters go. (No wall-clock assertion: on a loaded machine it would
// flake, and a quadratic cleaner would not finish 2 MiB within the test
// run's timeout anyway; BenchmarkParse* track the speed.)
func TestManyIllegalCharacters(t *testing.T) {
	in := header + "<MsgType>text</MsgType><Content><![CDATA[]]" + strings.Repeat("\x01\xff", 1<<20) + ">]]></Content></xml>"
	m, err := message.Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.String("content"); got != "]]\uFFFD>" {
		t.Errorf("content = %q", got)
	}
}

// TestNumbers pins how number fields read what WeChat sends.
func TestNumbers(t *testing.T) {
	for _, c := range []struct {
		text string
		want any
	}{
		{"20", int64(20)},
		{" 20\n", int64(20)},
		{"+7", int64(7)},
		{"-3", int64(-3)},
		{"9007199254740992", int64(1 << 53)},
		{"9007199254740993", "9007199254740993"},
		{"99999999999999999999", "99999999999999999999"},
		{"20.5", 20.5},
		{"1e3", 1000.0},
		{"0x10", "0x10"},
		{"1_000", "1_000"},
		{"NaN", "NaN"},
		{"Inf", "Inf"},
		{"1e999", "1e999"},
		{"twenty", "twenty"},
	} {
		m, err := message.Parse([]byte(header + "<MsgType>location</MsgType><Scale>" + c.text + "</Scale></xml>"))
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		if got, _ := m.Get("scale"); got != c.want {
			t.Errorf("scale %q = %#v, want %#v", c.text, got, c.want)
		}
	}
}
