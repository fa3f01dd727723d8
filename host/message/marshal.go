package message

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// Marshal writes m as the XML WeChat would post for it: the inverse of
// Parse, used by the simulator and by tests to build requests. Strings are
// written as CDATA, numbers as text, nested fields inside their blocks
// (ScanCodeInfo, SendPicsInfo, SendLocationInfo). Raw is ignored.
//
// For any m that Parse returned, Parse(Marshal(m)) gives m back, Raw aside.
// Marshal refuses a message Parse could not have produced in a way that
// would make that untrue: an unknown Type, an empty Source or Target, a
// field the type does not have, Event or EventKey on a message that is not
// an event, or an Event naming another type.
func Marshal(m *Message) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("message: Marshal of a nil message")
	}
	t, ok := byName[m.Type]
	if !ok {
		return nil, fmt.Errorf("message: Marshal: unknown type %q", m.Type)
	}
	if m.Source == "" || m.Target == "" {
		return nil, fmt.Errorf("message: Marshal: Source and Target must be set")
	}
	for i, f := range m.Fields {
		if !hasField(t, f.Name) {
			return nil, fmt.Errorf("message: Marshal: type %s has no field %q", t.name, f.Name)
		}
		for _, g := range m.Fields[:i] {
			if g.Name == f.Name {
				return nil, fmt.Errorf("message: Marshal: field %q appears twice", f.Name)
			}
		}
	}

	b := make([]byte, 0, 256)
	b = append(b, "<xml>\n"...)
	b = cdataElem(b, "ToUserName", m.Target)
	b = cdataElem(b, "FromUserName", m.Source)
	b = append(b, "<CreateTime>"...)
	b = strconv.AppendInt(b, m.Time, 10)
	b = append(b, "</CreateTime>\n"...)
	if !t.event {
		if m.Event != "" || m.EventKey != "" {
			return nil, fmt.Errorf("message: Marshal: Event and EventKey belong to events, not to a %s message", t.name)
		}
		b = cdataElem(b, "MsgType", t.wire)
	} else {
		b = cdataElem(b, "MsgType", "event")
		ev := m.Event
		switch {
		case t == unknownEvent && ev != "" && lookupEvent(ev) != unknownEvent:
			return nil, fmt.Errorf("message: Marshal: Event %q is a %s, not an unknown_event", ev, lookupEvent(ev).name)
		case t != unknownEvent && ev == "":
			ev = t.wire
		case t != unknownEvent && lookupEvent(ev) != t:
			return nil, fmt.Errorf("message: Marshal: Event %q does not make a %s", ev, t.name)
		}
		if ev != "" {
			b = cdataElem(b, "Event", ev)
		}
		key := m.EventKey
		if v, ok := m.Get("key"); ok {
			s, isString := v.(string)
			switch {
			case !isString:
				return nil, fmt.Errorf("message: Marshal: field key is a %T, want a string", v)
			case key == "":
				key = s
			case s != "" && s != key:
				return nil, fmt.Errorf("message: Marshal: field key %q and EventKey %q differ", s, key)
			}
		}
		if key != "" {
			b = cdataElem(b, "EventKey", key)
		}
	}

	block := "" // the nested block being written, e.g. "SendPicsInfo"
	var err error
	for _, f := range t.fields {
		if f.elem == "EventKey" {
			continue
		}
		v, ok := m.Get(f.name)
		if !ok {
			continue
		}
		outer, leaf, nested := strings.Cut(f.elem, "/")
		if !nested {
			leaf, outer = outer, ""
		}
		if outer != block {
			if block != "" {
				b = append(b, "</"+block+">\n"...)
			}
			if outer != "" {
				b = append(b, "<"+outer+">\n"...)
			}
			block = outer
		}
		if b, err = appendField(b, leaf, f, v); err != nil {
			return nil, err
		}
	}
	if block != "" {
		b = append(b, "</"+block+">\n"...)
	}
	if m.MessageID != "" {
		// WeChat names it MsgID in TEMPLATESENDJOBFINISH, MsgId elsewhere.
		name := "MsgId"
		if t.name == "templatesendjobfinish_event" {
			name = "MsgID"
		}
		if isDecimalInt(m.MessageID) && m.MessageID[0] != '+' && m.MessageID[0] != '-' {
			b = append(b, "<"+name+">"+m.MessageID+"</"+name+">\n"...)
		} else {
			b = cdataElem(b, name, m.MessageID)
		}
	}
	b = append(b, "</xml>\n"...)
	return b, nil
}

func hasField(t *typeSpec, name string) bool {
	for _, f := range t.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

func cdataElem(b []byte, name, s string) []byte {
	b = append(b, '<')
	b = append(b, name...)
	b = append(b, '>')
	b = xmltext.AppendCDATA(b, s)
	b = append(b, "</"...)
	b = append(b, name...)
	return append(b, ">\n"...)
}

func appendField(b []byte, name string, f fieldSpec, v any) ([]byte, error) {
	if f.kind == kPicList {
		list, ok := v.([]map[string]string)
		if !ok {
			return nil, fmt.Errorf("message: Marshal: field %s is a %T, want []map[string]string", f.name, v)
		}
		b = append(b, "<PicList>\n"...)
		for _, item := range list {
			for k := range item {
				if k != "pic_md5_sum" {
					return nil, fmt.Errorf("message: Marshal: pic_list item has key %q; only pic_md5_sum exists", k)
				}
			}
			b = append(b, "<item>"...)
			if md5 := item["pic_md5_sum"]; md5 != "" {
				b = append(b, "<PicMd5Sum>"...)
				b = xmltext.AppendCDATA(b, md5)
				b = append(b, "</PicMd5Sum>"...)
			}
			b = append(b, "</item>\n"...)
		}
		return append(b, "</PicList>\n"...), nil
	}
	switch v := v.(type) {
	case string:
		return cdataElem(b, name, v), nil
	case int64:
		return numElem(b, name, strconv.FormatInt(v, 10)), nil
	case int:
		return numElem(b, name, strconv.Itoa(v)), nil
	case float64:
		s := formatFloat(v)
		if f.kind == kInt && !strings.ContainsAny(s, ".eEIN") {
			// An int field that held a fraction ("15.0") must read back
			// as a float: keep the point.
			s += ".0"
		}
		return numElem(b, name, s), nil
	}
	return nil, fmt.Errorf("message: Marshal: field %s is a %T, want a string or a number", f.name, v)
}

func numElem(b []byte, name, text string) []byte {
	return append(b, "<"+name+">"+text+"</"+name+">\n"...)
}

func formatFloat(v float64) string {
	if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
