package message_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/message"
)

// oracle reads s with encoding/xml and returns every element in document
// order, or an error when s is not exactly one well-formed element: the
// same contract as the scanner.
func oracle(s string) ([]message.Record, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	type open struct {
		name     string
		hasChild bool
		text     strings.Builder
	}
	var stack []*open
	var recs []message.Record
	roots := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if roots > 1 {
					return nil, errors.New("second root element")
				}
			} else {
				stack[len(stack)-1].hasChild = true
			}
			stack = append(stack, &open{name: t.Name.Local})
		case xml.EndElement:
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			r := message.Record{Depth: len(stack), Name: t.Name.Local, Leaf: !e.hasChild}
			if r.Leaf {
				r.Text = e.text.String()
			}
			recs = append(recs, r)
		case xml.CharData:
			if len(stack) == 0 {
				if strings.Trim(string(t), " \t\r\n") != "" {
					return nil, errors.New("text outside the root")
				}
			} else {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.Directive:
			return nil, errors.New("directive")
		}
	}
	if roots == 0 {
		return nil, errors.New("no root")
	}
	return recs, nil
}

// seeds returns the XML files under testdata that seed FuzzParse.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{"testdata/messages", "testdata/errors"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	// Corners of the grammar the WeChat samples do not reach.
	for _, s := range []string{
		`<xml a="1" b='2'/>`,
		`<?xml version="1.0" encoding="utf-8"?><xml/>`,
		`<xml><!-- c --><a>&#x41;&#66;&lt;&gt;&amp;&apos;&quot;</a><?pi x?></xml>`,
		`<x:xml xmlns:x="u"><x:a/></x:xml>`,
		"<xml><a><![CDATA[x\r\n]]>y&amp;z\r</a></xml>",
		"\ufeff <xml>\r\n<a t=\"&lt;]]>\">\r\n</a></xml> ",
		"<xml><a><![CDATA[]\x01]\x02>]]></a></xml>",
		`<xml><a:b:c/></xml>`,
		`<xml><é/></xml>`,
		`<xml><ToUserName>t</ToUserName><FromUserName>f</FromUserName><CreateTime>1</CreateTime>` +
			`<MsgType>event</MsgType><Event>location_select</Event><SendLocationInfo><Location_X>1e3</Location_X>` +
			`<Scale>-0</Scale><Poiname>&#13;</Poiname></SendLocationInfo></xml>`,
		// Lists and blocks: empty, doubled, items with odd content, a
		// list item outside its container, leaves holding elements.
		header + `<MsgType>event</MsgType><Event>subscribe_msg_sent_event</Event><SubscribeMsgSentEvent><List/>` +
			`<List><MsgID>18446744073709551615</MsgID><ErrorCode> 7 </ErrorCode><ErrorCode>8</ErrorCode><TemplateId><a/></TemplateId></List>` +
			`</SubscribeMsgSentEvent><SubscribeMsgSentEvent/><List><TemplateId>stray</TemplateId></List></xml>`,
		header + `<MsgType>event</MsgType><Event>shakearoundusershake</Event><ChosenBeacon><Distance>1e400</Distance>` +
			`<Major>-0</Major></ChosenBeacon><ChosenBeacon/><AroundBeacons><AroundBeacon><Uuid><![CDATA[]]></Uuid></AroundBeacon></AroundBeacons></xml>`,
		header + `<MsgType>event</MsgType><Event>MASSSENDJOBFINISH</Event><MsgID>1</MsgID><CopyrightCheckResult><ResultList>` +
			`<item><ArticleIdx>1.5</ArticleIdx></item></ResultList><ResultList><item/></ResultList></CopyrightCheckResult>` +
			`<ArticleUrlResult><Count>x</Count></ArticleUrlResult></xml>`,
		header + `<MsgType>device_event</MsgType><Event>unbind</Event><Content>AP8=</Content><OpType>1</OpType></xml>`,
		header + `<MsgType>device_text</MsgType><Content>bm90IHV0Zi04/w==</Content><MsgID>5</MsgID></xml>`,
		header + `<MsgType>event</MsgType><Event>subscribe</Event><EventKey>scanimage||</EventKey></xml>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := message.Parse(data) // must not panic

		// The scanner and encoding/xml agree on which documents are
		// well-formed and on the text of every element.
		clean := message.Clean(data)
		if strings.Count(clean, "]]>") != bytes.Count(data, []byte("]]>")) {
			t.Fatalf("cleaning created or destroyed a \"]]>\":\n%q\n%q", data, clean)
		}
		recs, serr, refused := message.ScanAll(clean)
		orecs, oerr := oracle(clean)
		switch {
		case serr == nil && oerr != nil:
			t.Fatalf("scanner accepts what encoding/xml refuses (%v):\n%q", oerr, clean)
		case serr != nil && oerr == nil && !refused:
			t.Fatalf("scanner refuses what encoding/xml accepts (%v):\n%q", serr, clean)
		case serr == nil && !reflect.DeepEqual(recs, orecs):
			t.Fatalf("scanner and encoding/xml disagree on\n%q\nscanner: %#v\nencoding/xml: %#v", clean, recs, orecs)
		}
		if serr != nil && err == nil {
			t.Fatalf("Parse accepts what the scanner refuses (%v):\n%q", serr, clean)
		}
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned a message and an error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "message: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		checkMessage(t, m)

		// Parse(Marshal(m)) gives m back.
		out, err := message.Marshal(m)
		if err != nil {
			t.Fatalf("Marshal of a parsed message: %v\ninput: %q", err, data)
		}
		m2, err := message.Parse(out)
		if err != nil {
			t.Fatalf("Parse of Marshal output: %v\n%s", err, out)
		}
		m.Raw, m2.Raw = nil, nil
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message\nbefore: %#v\nafter:  %#v\nxml: %s", m, m2, out)
		}
	})
}

// checkMessage checks what every parsed message promises.
func checkMessage(t *testing.T, m *message.Message) {
	t.Helper()
	if m.Source == "" || m.Target == "" || m.Type == "" {
		t.Fatalf("message without source, target or type: %#v", m)
	}
	legal := func(what, s string) {
		if !utf8.ValidString(s) {
			t.Fatalf("%s is not UTF-8: %q", what, s)
		}
		for _, r := range s {
			if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF {
				t.Fatalf("%s holds %U: %q", what, r, s)
			}
		}
	}
	legal("source", m.Source)
	legal("target", m.Target)
	legal("message_id", m.MessageID)
	for _, f := range m.Fields {
		// A device's content is the bytes its base64 stands for: any bytes.
		binary := f.Name == "content" && strings.HasPrefix(m.Type, "device_")
		checkValue(t, f.Name, f.Value, binary, legal)
	}
}

// checkValue checks one field value, the items of lists and tables
// included: no empty string (an empty element is absent), only the types
// message.Field names.
func checkValue(t *testing.T, name string, v any, binary bool, legal func(what, s string)) {
	t.Helper()
	switch v := v.(type) {
	case string:
		if v == "" {
			t.Fatalf("field %s is empty; empty elements are absent", name)
		}
		if !binary {
			legal(name, v)
		}
	case int64, float64:
	case []map[string]string:
		for _, item := range v {
			for k, s := range item {
				checkValue(t, name+"."+k, s, false, legal)
			}
		}
	case []map[string]any:
		for i, item := range v {
			for k, e := range item {
				checkValue(t, fmt.Sprintf("%s[%d].%s", name, i+1, k), e, false, legal)
			}
		}
	case map[string]any:
		if len(v) == 0 {
			t.Fatalf("field %s is an empty table; a block without fields is absent", name)
		}
		for k, e := range v {
			checkValue(t, name+"."+k, e, false, legal)
		}
	default:
		t.Fatalf("field %s has a %T", name, v)
	}
}
