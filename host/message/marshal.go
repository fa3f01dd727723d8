package message

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// Marshal writes m as the XML WeChat would post for it: the inverse of
// Parse, used by the simulator and by tests to build requests. Strings are
// written as CDATA, numbers as text, nested fields inside their blocks
// (ScanCodeInfo, SendPicsInfo, SendLocationInfo, ChosenBeacon, ...), lists
// as one element per item, hardware content as base64. Raw is ignored.
//
// For any m that Parse returned, Parse(Marshal(m)) gives m back, Raw aside.
// Marshal refuses a message Parse could not have produced in a way that
// would make that untrue: an unknown Type, an empty Source or Target, a
// field the type does not have, Event or EventKey on a message that is not
// an event, an Event naming another type, or product-scan parts of a
// subscribe_event that its key does not hold.
//
// A subscribe_event given scene, key_standard and key_str but no key gets
// the key they make ("scanbarcode|<key_standard>|<key_str>").
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
	var err error
	switch {
	case t.withEvent:
		if b, err = messageEvent(b, t, m); err != nil {
			return nil, err
		}
	case !t.event:
		if m.Event != "" || m.EventKey != "" {
			return nil, fmt.Errorf("message: Marshal: Event and EventKey belong to events, not to a %s message", t.name)
		}
		b = cdataElem(b, "MsgType", t.wire)
	default:
		if b, err = eventHeader(b, t, m); err != nil {
			return nil, err
		}
	}

	if b, err = appendFields(b, t.fields, m.Get); err != nil {
		return nil, err
	}
	if m.MessageID != "" {
		name := t.msgIDElem
		if name == "" {
			name = "MsgId"
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

// messageEvent writes MsgType and Event of a message type that carries an
// Event (device_event): Message.Event and the "event" field are one value.
func messageEvent(b []byte, t *typeSpec, m *Message) ([]byte, error) {
	if m.EventKey != "" {
		return nil, fmt.Errorf("message: Marshal: a %s has no EventKey", t.name)
	}
	ev := m.Event
	if v, ok := m.Get("event"); ok {
		s, isString := v.(string)
		switch {
		case !isString:
			return nil, fmt.Errorf("message: Marshal: field event is a %T, want a string", v)
		case ev == "":
			ev = s
		case s != ev:
			return nil, fmt.Errorf("message: Marshal: field event %q and Event %q differ", s, ev)
		}
	}
	b = cdataElem(b, "MsgType", t.wire)
	if ev != "" {
		b = cdataElem(b, "Event", ev)
	}
	return b, nil
}

// eventHeader writes MsgType, Event and EventKey of an event.
func eventHeader(b []byte, t *typeSpec, m *Message) ([]byte, error) {
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
	key, err := productKey(t, m, key)
	if err != nil {
		return nil, err
	}
	if key != "" {
		b = cdataElem(b, "EventKey", key)
	}
	return b, nil
}

// productKey checks the product-scan parts of a subscribe_event against its
// key, or makes the key from them when there is none.
func productKey(t *typeSpec, m *Message, key string) (string, error) {
	var parts []fieldSpec
	var given []string
	for _, f := range t.fields {
		if f.kind != kKeyPart {
			continue
		}
		parts = append(parts, f)
		if v, ok := m.Get(f.name); ok {
			s, _ := v.(string)
			if s == "" {
				return "", fmt.Errorf("message: Marshal: field %s is %#v, want a non-empty string", f.name, v)
			}
			given = append(given, s)
		}
	}
	if len(given) == 0 {
		return key, nil
	}
	if key == "" {
		if len(given) != len(parts) {
			return "", fmt.Errorf("message: Marshal: a key from a product's page needs scene, key_standard and key_str")
		}
		if given[0] != "scanbarcode" && given[0] != "scanimage" {
			return "", fmt.Errorf("message: Marshal: scene %q: a follow from a product's page is scanbarcode or scanimage", given[0])
		}
		key = strings.Join(given, "|")
	}
	for _, f := range parts {
		want, ok := productKeyPart(key, f.part)
		v, has := m.Get(f.name)
		if ok != has || has && v != any(want) {
			return "", fmt.Errorf("message: Marshal: field %s (%v) is not what EventKey %q holds", f.name, v, key)
		}
	}
	return key, nil
}

func hasField(t *typeSpec, name string) bool {
	for _, f := range t.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

// appendFields writes the fields of specs that get finds, elements under a
// common block ("SendPicsInfo/...") inside one element of that block.
func appendFields(b []byte, specs []fieldSpec, get func(string) (any, bool)) ([]byte, error) {
	block := "" // the nested block being written, e.g. "SendPicsInfo"
	var err error
	for _, f := range specs {
		if f.elem == "EventKey" || f.elem == "Event" || f.kind == kKeyPart {
			continue // in the header
		}
		v, ok := get(f.name)
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
	return b, nil
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
	switch f.kind {
	case kStringList:
		list, ok := v.([]map[string]string)
		if !ok {
			return nil, fmt.Errorf("message: Marshal: field %s is a %T, want []map[string]string", f.name, v)
		}
		items := make([]map[string]any, len(list))
		for i, item := range list {
			items[i] = make(map[string]any, len(item))
			for k, s := range item {
				items[i][k] = s
			}
		}
		return appendList(b, name, f, items)
	case kList:
		items, ok := v.([]map[string]any)
		if !ok {
			return nil, fmt.Errorf("message: Marshal: field %s is a %T, want []map[string]any", f.name, v)
		}
		return appendList(b, name, f, items)
	case kTable:
		t, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message: Marshal: field %s is a %T, want map[string]any", f.name, v)
		}
		return appendTable(b, name, f, f.name, t)
	case kBase64:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("message: Marshal: field %s is a %T, want a string", f.name, v)
		}
		return cdataElem(b, name, base64.StdEncoding.EncodeToString([]byte(s))), nil
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

// appendList writes a list: its container, then one item element per table.
func appendList(b []byte, name string, f fieldSpec, items []map[string]any) ([]byte, error) {
	b = append(b, "<"+name+">\n"...)
	var err error
	for i, item := range items {
		if b, err = appendTable(b, f.item, f, fmt.Sprintf("%s[%d]", f.name, i+1), item); err != nil {
			return nil, err
		}
	}
	return append(b, "</"+name+">\n"...), nil
}

// appendTable writes one element holding the sub fields of f found in t;
// what names the table in errors.
func appendTable(b []byte, name string, f fieldSpec, what string, t map[string]any) ([]byte, error) {
	for k := range t {
		found := false
		for _, sf := range f.sub {
			found = found || sf.name == k
		}
		if !found {
			return nil, fmt.Errorf("message: Marshal: %s has key %q; it has %s", what, k, subNames(f))
		}
	}
	b = append(b, "<"+name+">"...)
	b, err := appendFields(b, f.sub, func(k string) (any, bool) { v, ok := t[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	return append(b, "</"+name+">\n"...), nil
}

func subNames(f fieldSpec) string {
	names := make([]string, len(f.sub))
	for i, sf := range f.sub {
		names[i] = sf.name
	}
	return strings.Join(names, ", ")
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
