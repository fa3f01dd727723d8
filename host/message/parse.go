package message

import (
	"encoding/base64"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// MaxSize is the largest document Parse reads. WeChat's pushes are a few
// hundred bytes; a 2,000-character text is about 6 KiB. The host's body
// limit normally stops larger requests first.
const MaxSize = 4 << 20

var scanners = sync.Pool{New: func() any { return new(scanner) }}

// Parse reads the (decrypted) XML of one WeChat push.
//
// The message's strings share one copy of the input, and Raw is raw itself:
// the caller must not modify raw afterwards.
//
// Characters XML cannot carry (control characters, U+FFFE, U+FFFF, bytes
// that are not UTF-8), which WeChat sometimes passes through from user
// text, are removed before parsing instead of failing the request; a
// leading byte-order mark is ignored. Elements whose text is empty (or only
// indentation) are treated as absent, as WeRoBot does. A number field whose
// text is not a decimal number keeps its text as a string, so a surprise
// from WeChat reaches the handler rather than failing the request.
//
// Errors are *Error values naming what was wrong: malformed XML (with its
// line), a DOCTYPE or ENTITY declaration, nesting deeper than 32 elements,
// a root other than <xml>, a missing or empty ToUserName, FromUserName,
// CreateTime or MsgType, a CreateTime that is not a number, or an element
// Parse reads that appears twice.
func Parse(raw []byte) (*Message, error) {
	if len(raw) == 0 {
		return nil, &Error{Msg: "empty body"}
	}
	if len(raw) > MaxSize {
		return nil, &Error{Msg: "body of " + strconv.Itoa(len(raw)) + " bytes is over the " + strconv.Itoa(MaxSize) + "-byte limit"}
	}
	s := cleanInput(string(raw))

	p := scanners.Get().(*scanner)
	defer func() {
		p.release()
		scanners.Put(p)
	}()
	p.reset(s, false)
	if err := p.run(); err != nil {
		return nil, err
	}
	if p.root != "xml" {
		return nil, &Error{Line: p.line(p.rootAt), Msg: "root element is <" + p.root + ">, want <xml>"}
	}
	return p.message(raw)
}

// message builds the Message from a scanned document.
func (p *scanner) message(raw []byte) (*Message, error) {
	var hdr [numFixedKeys]string
	for _, k := range [...]uint16{keyToUserName, keyFromUserName, keyCreateTime, keyMsgType} {
		v, err := p.fieldText(k)
		if err != nil {
			return nil, err
		}
		if v == "" {
			if p.state[k] == stAbsent {
				return nil, &Error{Msg: "missing <" + elemPaths[k] + ">"}
			}
			return nil, &Error{Line: p.line(p.at[k]), Msg: "<" + elemPaths[k] + "> is empty"}
		}
		hdr[k] = v
	}
	for _, k := range [...]uint16{keyMsgId, keyMsgID, keyEvent, keyEventKey} {
		v, err := p.fieldText(k)
		if err != nil {
			return nil, err
		}
		hdr[k] = v
	}
	ct := trimSpace(hdr[keyCreateTime])
	created, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return nil, &Error{Line: p.line(p.at[keyCreateTime]), Msg: "<CreateTime> is not a number: " + strconv.Quote(ct)}
	}
	id := trimSpace(hdr[keyMsgId])
	if id == "" {
		id = trimSpace(hdr[keyMsgID])
	} else if hdr[keyMsgID] != "" {
		return nil, &Error{Line: p.line(p.at[keyMsgID]), Msg: "both <MsgId> and <MsgID>"}
	}

	var t *typeSpec
	var event, eventKey string
	if mt := trimSpace(hdr[keyMsgType]); strings.EqualFold(mt, "event") {
		event, eventKey = hdr[keyEvent], hdr[keyEventKey]
		t = lookupEvent(event)
	} else {
		t = byMsgType[mt]
		if t == nil {
			t = byMsgType[strings.ToLower(mt)]
		}
		if t == nil {
			t = unknownMessage
		}
		if t.withEvent {
			event = hdr[keyEvent]
		}
	}

	// One allocation holds the Message and, for most types, its Fields.
	n := 0
	for i := range t.fields {
		if p.present(t.fields[i], eventKey) {
			n++
		}
	}
	block := new(struct {
		m Message
		f [6]Field
	})
	m := &block.m
	*m = Message{
		Type:      t.name,
		Source:    hdr[keyFromUserName],
		Target:    hdr[keyToUserName],
		Time:      created,
		MessageID: id,
		Event:     event,
		EventKey:  eventKey,
		Raw:       raw,
	}
	if n <= len(block.f) {
		m.Fields = block.f[:0:n]
	} else {
		m.Fields = make([]Field, 0, n)
	}
	for _, f := range t.fields {
		if !p.present(f, eventKey) {
			continue
		}
		v, err := p.value(f, eventKey)
		if err != nil {
			return nil, err
		}
		m.Fields = append(m.Fields, Field{Name: f.name, Value: v})
	}
	return m, nil
}

// value returns the value of a field that is present.
func (p *scanner) value(f fieldSpec, eventKey string) (any, error) {
	switch f.kind {
	case kKeyPart:
		part, _ := productKeyPart(eventKey, f.part)
		return part, nil
	case kList, kStringList:
		return p.list(f), nil
	case kTable:
		t := make(map[string]any, len(f.sub))
		for _, sf := range f.sub {
			if !p.present(sf, "") {
				continue
			}
			v, err := p.value(sf, "")
			if err != nil {
				return nil, err
			}
			t[sf.name] = v
		}
		return t, nil
	}
	text, err := p.fieldText(f.key)
	if err != nil {
		return nil, err
	}
	return convert(text, f.kind), nil
}

// isBlank reports a number element whose text was only white space: the
// element is absent, as at the top level.
func isBlank(v any) bool {
	s, ok := v.(string)
	return ok && trimSpace(s) == ""
}

// list returns the items of a list field, one table per item:
// []map[string]any, or []map[string]string for kStringList. The texts of
// the items are in document order, so one walk pairs them with their items.
func (p *scanner) list(f fieldSpec) any {
	sub := lists[f.list].sub
	var strs []map[string]string
	var tables []map[string]any
	if f.kind == kStringList {
		strs = make([]map[string]string, 0, p.itemCount[f.list])
	} else {
		tables = make([]map[string]any, 0, p.itemCount[f.list])
	}
	j := 0
	for i, it := range p.items {
		start := j
		for j < len(p.itemTexts) && p.itemTexts[j].item == i {
			j++
		}
		if it.list != f.list {
			continue
		}
		texts := p.itemTexts[start:j]
		if strs != nil {
			m := make(map[string]string, len(texts))
			for _, t := range texts {
				if sf := subField(sub, t.key); sf != nil {
					m[sf.name] = t.text
				}
			}
			strs = append(strs, m)
			continue
		}
		m := make(map[string]any, len(texts))
		for _, t := range texts {
			if sf := subField(sub, t.key); sf != nil {
				if v := convert(t.text, sf.kind); !isBlank(v) {
					m[sf.name] = v
				}
			}
		}
		tables = append(tables, m)
	}
	if strs != nil {
		return strs
	}
	return tables
}

func subField(sub []fieldSpec, key uint16) *fieldSpec {
	for i := range sub {
		if sub[i].key == key {
			return &sub[i]
		}
	}
	return nil
}

// productKeyPart returns part i of the EventKey of a follow from a
// product's page, "scanbarcode|<key_standard>|<key_str>" or
// "scanimage|...", and whether it is there and not empty.
func productKeyPart(eventKey string, i int) (string, bool) {
	if !strings.HasPrefix(eventKey, "scanbarcode|") && !strings.HasPrefix(eventKey, "scanimage|") {
		return "", false
	}
	parts := strings.SplitN(eventKey, "|", 3)
	if i >= len(parts) || parts[i] == "" {
		return "", false
	}
	return parts[i], true
}

// present reports whether the field will be in Fields: its element is
// there, not empty, or misused (which text reports as an error).
func (p *scanner) present(f fieldSpec, eventKey string) bool {
	switch f.kind {
	case kKeyPart:
		_, ok := productKeyPart(eventKey, f.part)
		return ok
	case kList, kStringList:
		return p.listsSeen&(1<<f.list) != 0
	case kTable:
		for _, sf := range f.sub {
			if p.present(sf, "") {
				return true
			}
		}
		return false
	}
	switch p.state[f.key] {
	case stText:
		if f.kind == kString {
			return p.val[f.key] != ""
		}
		return trimSpace(p.val[f.key]) != ""
	case stDup, stNested:
		return true
	}
	return false
}

// fieldText returns the text of element k ("" when absent), or an error when
// the element appears twice or holds elements instead of text.
func (p *scanner) fieldText(k uint16) (string, error) {
	switch p.state[k] {
	case stText:
		return p.val[k], nil
	case stDup:
		return "", &Error{Line: p.line(p.at[k]), Msg: "duplicate <" + leafName(elemPaths[k]) + ">"}
	case stNested:
		return "", &Error{Line: p.line(p.at[k]), Msg: "<" + leafName(elemPaths[k]) + "> holds elements, want text"}
	}
	return "", nil
}

func leafName(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// cleanInput removes the characters XML cannot carry and a leading
// byte-order mark. Removing must not create markup: "]]\x01>" or "]\x01]>"
// in user text would become "]]>" and end its CDATA section early, so an
// illegal character that would join one becomes U+FFFD instead.
func cleanInput(s string) string {
	c := xmltext.Clean(s)
	if len(c) != len(s) && strings.Contains(c, "]]>") {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); {
			if n := legalRun(s[i:]); n > 0 {
				b.WriteString(s[i : i+n])
				i += n
				continue
			}
			j := i + illegalRun(s[i:])
			out, rest := b.String(), s[j:]
			if strings.HasSuffix(out, "]]") && strings.HasPrefix(rest, ">") ||
				strings.HasSuffix(out, "]") && strings.HasPrefix(rest, "]>") {
				b.WriteRune(utf8.RuneError)
			}
			i = j
		}
		c = b.String()
	}
	return strings.TrimPrefix(c, "\uFEFF")
}

// legalRun and illegalRun return the length of the longest prefix of s
// made of characters XML can (cannot) carry.
func legalRun(s string) int { return run(s, true) }

func illegalRun(s string) int { return run(s, false) }

func run(s string, legal bool) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		ok := !(r == utf8.RuneError && n == 1) && xmltext.IsLegal(r)
		if ok != legal {
			break
		}
		i += n
	}
	return i
}

func lookupEvent(event string) *typeSpec {
	if event == "" {
		return unknownEvent
	}
	e := trimSpace(event)
	if t := byEvent[e]; t != nil {
		return t
	}
	if t := byEvent[strings.ToLower(e)]; t != nil {
		return t
	}
	return unknownEvent
}

func trimSpace(s string) string {
	return strings.Trim(s, " \t\r\n")
}

// convert turns an element's text into a field value of kind k. Numbers
// that are not plain decimals, integers beyond 2^53, and floats that
// overflow keep their text: Parse reports what WeChat sent rather than
// failing or rounding.
func convert(text string, k kind) any {
	switch k {
	case kString:
		return text
	case kBase64:
		// Go's decoder skips the line breaks a long value may carry.
		if b, err := base64.StdEncoding.DecodeString(trimSpace(text)); err == nil && len(b) > 0 {
			return string(b)
		}
		return text
	}
	t := trimSpace(text)
	if k == kInt && isDecimalInt(t) {
		// Field promises int64 values that a float64 (a Lua number)
		// holds exactly; a larger integer is an identifier in disguise.
		if v, err := strconv.ParseInt(t, 10, 64); err == nil && v <= 1<<53 && v >= -(1<<53) {
			return v
		}
		return text
	}
	if isDecimalFloat(t) {
		if v, err := strconv.ParseFloat(t, 64); err == nil && !math.IsInf(v, 0) {
			return v
		}
	}
	return text
}

// isDecimalInt reports whether s is [+-]?[0-9]+.
func isDecimalInt(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return s != "" && digits(s) == len(s)
}

// isDecimalFloat reports whether s is a decimal number with an optional
// fraction and exponent: no hex, no underscores, no Inf or NaN, which
// strconv would accept but no WeChat field means.
func isDecimalFloat(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	n := digits(s)
	s = s[n:]
	if s != "" && s[0] == '.' {
		f := digits(s[1:])
		if n == 0 && f == 0 {
			return false
		}
		s = s[1+f:]
	} else if n == 0 {
		return false
	}
	if s != "" && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		e := digits(s)
		if e == 0 {
			return false
		}
		s = s[e:]
	}
	return s == ""
}

func digits(s string) int {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}
