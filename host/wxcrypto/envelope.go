package wxcrypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// Envelope is the body WeChat posts in AES mode:
//
//	<xml><ToUserName><![CDATA[gh_...]]></ToUserName><Encrypt><![CDATA[...]]></Encrypt></xml>
//
// In 兼容模式 the same body also carries the plaintext message's fields,
// which ParseEnvelope skips.
type Envelope struct {
	ToUserName string // the Official Account's original ID; may be empty
	Encrypt    string // base64 ciphertext for Cipher.Decrypt, and the input of MsgSignature
}

var (
	// ErrBadXML: the body is not well-formed XML, or uses XML that WeChat
	// never sends (see ParseEnvelope).
	ErrBadXML = errors.New("wxcrypto: malformed XML")
	// ErrDTD: the body holds a DOCTYPE or ENTITY (or other DTD)
	// declaration: refused outright, as entity expansion is the classic
	// XML attack and WeChat never sends one.
	ErrDTD = errors.New("wxcrypto: DTD declarations (DOCTYPE, ENTITY) are not allowed")
	// ErrNoEncrypt: the root has no <Encrypt> child, or it is empty.
	ErrNoEncrypt = errors.New("wxcrypto: no <Encrypt> element")
)

// maxDepth bounds element nesting. WeChat's deepest message (pic events:
// xml > SendPicsInfo > PicList > item > PicMd5Sum) has five levels.
const maxDepth = 64

// ParseEnvelope reads ToUserName and Encrypt, the direct children of the
// root <xml> element. Values are trimmed of surrounding white space (base64
// and IDs hold none, and a pretty-printed body would otherwise fail later
// with a base64 error).
//
// It is a small scanner rather than encoding/xml, since it runs on every
// encrypted request, and it accepts a strict subset of XML: what WeChat and
// common tools send (an XML declaration, comments, CDATA, character and
// entity references, attributes, nested elements). Everything it accepts,
// encoding/xml accepts with the same values (the fuzz test checks this). It
// refuses DTDs (ErrDTD), processing instructions other than the XML
// declaration, namespace prefixes, non-UTF-8 encodings, text or a second
// element after the root, a root not named xml, elements inside Encrypt or
// ToUserName, and a repeated Encrypt or ToUserName.
//
// Characters XML cannot carry (control characters, bytes that are not
// UTF-8) are dropped rather than refused: in 兼容模式 the body also holds
// the user's plaintext message, and WeChat passes such characters through
// from user text.
func ParseEnvelope(body []byte) (Envelope, error) {
	p := envParser{b: body}
	err := p.parse()
	if errors.Is(err, errIllegalChar) {
		p = envParser{b: []byte(xmltext.Clean(string(body)))}
		err = p.parse()
	}
	if err != nil {
		return Envelope{}, err
	}
	if !p.fields[fieldEncrypt].seen {
		return Envelope{}, fmt.Errorf("%w in <xml>", ErrNoEncrypt)
	}
	env := Envelope{
		ToUserName: p.fields[fieldToUserName].value(),
		Encrypt:    p.fields[fieldEncrypt].value(),
	}
	if env.Encrypt == "" {
		return Envelope{}, fmt.Errorf("%w: <Encrypt> is empty", ErrNoEncrypt)
	}
	return env, nil
}

const (
	fieldNone = iota - 1
	fieldToUserName
	fieldEncrypt
	numFields
)

var fieldNames = [numFields]string{"ToUserName", "Encrypt"}

// field gathers one element's text. Usually that is a single CDATA section
// or text run, kept as a sub-slice of the body; the copy is made only when
// there are several pieces, a reference to decode, or a carriage return.
type field struct {
	seen  bool
	owned bool // text is a private buffer, not a slice of the body
	text  []byte
}

func (f *field) add(piece []byte) {
	if !f.owned && len(f.text) == 0 {
		f.text = piece
		return
	}
	f.own()
	f.text = append(f.text, piece...)
}

func (f *field) own() {
	if !f.owned {
		f.text = append(make([]byte, 0, len(f.text)+16), f.text...)
		f.owned = true
	}
}

func (f *field) value() string {
	return string(bytes.Trim(f.text, " \t\r\n"))
}

type envParser struct {
	b []byte // the body
	i int    // read position in b
	// open holds the names of the open elements as offsets into the body;
	// a fixed array keeps the parser on the stack (a slice into an array of
	// the parser itself would move it to the heap).
	open  [maxDepth]span
	depth int
	// cur is the field whose element is open as a direct child of the
	// root, or fieldNone.
	cur    int
	fields [numFields]field
}

// span is a name's place in the body.
type span struct{ start, end int }

func (p *envParser) bytesOf(s span) []byte { return p.b[s.start:s.end] }

func (p *envParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at byte %d: %s", ErrBadXML, p.i, fmt.Sprintf(format, args...))
}

func (p *envParser) parse() error {
	if err := checkChars(p.b); err != nil {
		return err
	}
	p.cur = fieldNone
	p.i = 0
	if bytes.HasPrefix(p.b, []byte("\uFEFF")) {
		p.i = 3 // a UTF-8 byte order mark, as some editors save
	}
	if err := p.xmlDecl(); err != nil {
		return err
	}
	// Prolog: white space and comments, then the root element.
	if err := p.misc(); err != nil {
		return err
	}
	if p.i >= len(p.b) {
		return p.errf("no root element")
	}
	if p.b[p.i] != '<' {
		return p.errf("text before the root element")
	}
	name, empty, err := p.startTag()
	if err != nil {
		return err
	}
	if string(p.bytesOf(name)) != "xml" {
		return fmt.Errorf("%w: root element is <%s>, want <xml>", ErrBadXML, clip(string(p.bytesOf(name))))
	}
	if !empty {
		p.open[0], p.depth = name, 1
		if err := p.content(); err != nil {
			return err
		}
	}
	// Epilog: white space and comments only.
	if err := p.misc(); err != nil {
		return err
	}
	if p.i < len(p.b) {
		return p.errf("content after the root element")
	}
	return nil
}

// errIllegalChar marks a body ParseEnvelope cleans and reads again.
var errIllegalChar = errors.New("illegal character")

// checkChars refuses bytes that are not UTF-8 or not XML characters, once
// for the whole body, so the rest of the scanner can work on bytes.
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		// Skip 8 bytes at a time while they are all printable ASCII, as
		// base64 runs are: no byte has its top bit set, and none is below
		// 0x20 (the "hasless" test of Bit Twiddling Hacks, exact for any
		// threshold up to 0x80).
		const ones, highs = 0x0101010101010101, 0x8080808080808080
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			if w&highs != 0 || (w-0x20*ones)&^w&highs != 0 {
				break
			}
			i += 8
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return fmt.Errorf("%w at byte %d: %w U+%04X", ErrBadXML, i, errIllegalChar, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w at byte %d: %w (invalid UTF-8)", ErrBadXML, i, errIllegalChar)
		}
		if !isXMLChar(r) {
			return fmt.Errorf("%w at byte %d: %w %U", ErrBadXML, i, errIllegalChar, r)
		}
		i += size
	}
	return nil
}

// isXMLChar is the Char production of XML 1.0.
func isXMLChar(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *envParser) skipSpace() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *envParser) has(s string) bool {
	return len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s
}

// xmlDecl reads an optional <?xml version="1.0" encoding="UTF-8"
// standalone="yes"?> at the start. The version must be 1.0 and the encoding
// UTF-8: encoding/xml refuses others without a CharsetReader, and so do we.
func (p *envParser) xmlDecl() error {
	if !p.has("<?xml") || p.i+5 >= len(p.b) || !isSpace(p.b[p.i+5]) {
		return nil
	}
	p.i += 5
	seen := 0
	for _, attr := range [...]string{"version", "encoding", "standalone"} {
		save := p.i
		p.skipSpace()
		if p.i == save || !p.has(attr) {
			p.i = save
			if attr == "version" {
				return p.errf("XML declaration without version")
			}
			continue
		}
		p.i += len(attr)
		p.skipSpace()
		if !p.has("=") {
			return p.errf("XML declaration: %s without =", attr)
		}
		p.i++
		p.skipSpace()
		v, err := p.quoted()
		if err != nil {
			return err
		}
		switch {
		case attr == "version" && v != "1.0":
			return p.errf("XML version %q is not supported, only 1.0", clip(v))
		case attr == "encoding" && !strings.EqualFold(v, "utf-8"):
			return p.errf("encoding %q is not supported, only UTF-8", clip(v))
		case attr == "standalone" && v != "yes" && v != "no":
			return p.errf("XML declaration: standalone=%q", clip(v))
		}
		seen++
	}
	p.skipSpace()
	if !p.has("?>") {
		return p.errf("malformed XML declaration")
	}
	p.i += 2
	return nil
}

// quoted reads a '...' or "..." value without references or '<', as the XML
// declaration's values are.
func (p *envParser) quoted() (string, error) {
	if p.i >= len(p.b) || p.b[p.i] != '"' && p.b[p.i] != '\'' {
		return "", p.errf("expected a quoted value")
	}
	q := p.b[p.i]
	end := bytes.IndexByte(p.b[p.i+1:], q)
	if end < 0 {
		return "", p.errf("unterminated quoted value")
	}
	v := p.b[p.i+1 : p.i+1+end]
	if bytes.ContainsAny(v, "<&") {
		return "", p.errf("unexpected < or & in the XML declaration")
	}
	p.i += end + 2
	return string(v), nil
}

// misc skips white space and comments outside the root element, and names
// the problem with anything else that is markup.
func (p *envParser) misc() error {
	for {
		p.skipSpace()
		switch {
		case p.has("<!--"):
			if err := p.comment(); err != nil {
				return err
			}
		case p.has("<?"):
			return p.errf("processing instructions are not allowed")
		case p.has("<!"):
			return p.bang()
		default:
			return nil
		}
	}
}

// bang reports a "<!" that is neither a comment nor CDATA in content.
func (p *envParser) bang() error {
	for _, decl := range [...]string{"<!DOCTYPE", "<!ENTITY", "<!ELEMENT", "<!ATTLIST", "<!NOTATION"} {
		if p.has(decl) {
			return fmt.Errorf("%w: found %s at byte %d", ErrDTD, decl, p.i)
		}
	}
	return p.errf("unexpected <!")
}

// comment skips <!-- ... -->. As XML requires, "--" may only come right
// before the closing '>'.
func (p *envParser) comment() error {
	start := p.i
	p.i += 4
	k := bytes.Index(p.b[p.i:], []byte("--"))
	if k < 0 {
		p.i = start
		return p.errf("unterminated comment")
	}
	p.i += k + 2
	if p.i >= len(p.b) || p.b[p.i] != '>' {
		return p.errf(`"--" inside a comment`)
	}
	p.i++
	return nil
}

// name reads an element or attribute name. Only ASCII names without a
// namespace prefix: all of WeChat's, and a subset of what encoding/xml takes.
func (p *envParser) name() (span, error) {
	start := p.i
	if p.i >= len(p.b) || !isNameStart(p.b[p.i]) {
		return span{}, p.errf("expected a name")
	}
	p.i++
	for p.i < len(p.b) && isNameByte(p.b[p.i]) {
		p.i++
	}
	return span{start, p.i}, nil
}

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.'
}

// startTag reads <name attr="v" ...> or <name .../> with p.i at the '<'.
func (p *envParser) startTag() (name span, empty bool, err error) {
	p.i++
	if name, err = p.name(); err != nil {
		return span{}, false, err
	}
	for {
		save := p.i
		p.skipSpace()
		if p.i >= len(p.b) {
			return span{}, false, p.errf("unterminated start tag <%s", clip(string(p.bytesOf(name))))
		}
		switch c := p.b[p.i]; {
		case c == '>':
			p.i++
			return name, false, nil
		case c == '/':
			if !p.has("/>") {
				return span{}, false, p.errf("expected /> in <%s", clip(string(p.bytesOf(name))))
			}
			p.i += 2
			return name, true, nil
		case p.i == save:
			return span{}, false, p.errf("unexpected %q in <%s", c, clip(string(p.bytesOf(name))))
		}
		if err := p.attribute(); err != nil {
			return span{}, false, err
		}
	}
}

// attribute checks one name="value" (values are not needed, only their
// syntax: an unescaped '<' or a bad reference makes the body malformed).
func (p *envParser) attribute() error {
	if _, err := p.name(); err != nil {
		return err
	}
	p.skipSpace()
	if !p.has("=") {
		return p.errf("attribute without =")
	}
	p.i++
	p.skipSpace()
	if p.i >= len(p.b) || p.b[p.i] != '"' && p.b[p.i] != '\'' {
		return p.errf("attribute value is not quoted")
	}
	q := p.b[p.i]
	p.i++
	for {
		if p.i >= len(p.b) {
			return p.errf("unterminated attribute value")
		}
		switch p.b[p.i] {
		case q:
			p.i++
			return nil
		case '<':
			return p.errf("unescaped < in an attribute value")
		case '&':
			if _, err := p.reference(nil); err != nil {
				return err
			}
		default:
			p.i++
		}
	}
}

// content reads everything inside the root element up to and including
// its end tag.
func (p *envParser) content() error {
	for {
		if p.i >= len(p.b) {
			return p.errf("unexpected end of input inside <%s>", clip(string(p.bytesOf(p.open[p.depth-1]))))
		}
		if p.b[p.i] != '<' {
			if err := p.text(); err != nil {
				return err
			}
			continue
		}
		switch {
		case p.has("</"):
			p.i += 2
			name, err := p.name()
			if err != nil {
				return err
			}
			p.skipSpace()
			if !p.has(">") {
				return p.errf("malformed end tag </%s", clip(string(p.bytesOf(name))))
			}
			p.i++
			open := p.bytesOf(p.open[p.depth-1])
			if !bytes.Equal(p.bytesOf(name), open) {
				return p.errf("<%s> closed by </%s>", clip(string(open)), clip(string(p.bytesOf(name))))
			}
			p.depth--
			if p.depth == 1 {
				p.cur = fieldNone
			}
			if p.depth == 0 {
				return nil
			}
		case p.has("<!--"):
			if err := p.comment(); err != nil {
				return err
			}
		case p.has("<![CDATA["):
			start := p.i
			p.i += len("<![CDATA[")
			k := bytes.Index(p.b[p.i:], []byte("]]>"))
			if k < 0 {
				p.i = start
				return p.errf("unterminated CDATA section")
			}
			if p.cur != fieldNone && p.depth == 2 {
				p.addText(p.b[p.i : p.i+k])
			}
			p.i += k + 3
		case p.has("<?"):
			return p.errf("processing instructions are not allowed")
		case p.has("<!"):
			return p.bang()
		default:
			if p.depth == 2 && p.cur != fieldNone {
				return p.errf("unexpected element inside <%s>", fieldNames[p.cur])
			}
			name, empty, err := p.startTag()
			if err != nil {
				return err
			}
			if p.depth == 1 {
				if err := p.openField(p.bytesOf(name)); err != nil {
					return err
				}
			}
			if empty {
				p.cur = fieldNone
				continue
			}
			if p.depth >= maxDepth {
				return p.errf("elements nested deeper than %d", maxDepth)
			}
			p.open[p.depth] = name
			p.depth++
		}
	}
}

// openField notes a direct child of the root that is one of the fields.
func (p *envParser) openField(name []byte) error {
	p.cur = fieldNone
	for k, n := range fieldNames {
		if string(name) == n {
			if p.fields[k].seen {
				return p.errf("more than one <%s>", n)
			}
			p.fields[k].seen = true
			p.cur = k
		}
	}
	return nil
}

// text reads character data up to the next '<', decoding references into
// the current field when there is one.
func (p *envParser) text() error {
	start := p.i
	end := bytes.IndexByte(p.b[p.i:], '<')
	if end < 0 {
		end = len(p.b)
	} else {
		end += p.i
	}
	run := p.b[start:end]
	if bytes.Contains(run, []byte("]]>")) {
		p.i = start + bytes.Index(run, []byte("]]>"))
		return p.errf("]]> in text")
	}
	collect := p.cur != fieldNone && p.depth == 2
	if bytes.IndexByte(run, '&') < 0 {
		if collect {
			p.addText(run)
		}
		p.i = end
		return nil
	}
	var f *field
	if collect {
		f = &p.fields[p.cur]
		f.own()
	}
	for p.i < end {
		amp := bytes.IndexByte(p.b[p.i:end], '&')
		if amp < 0 {
			if f != nil {
				f.text = appendNormalized(f.text, p.b[p.i:end])
			}
			p.i = end
			break
		}
		if f != nil {
			f.text = appendNormalized(f.text, p.b[p.i:p.i+amp])
		}
		p.i += amp
		var dst []byte
		if f != nil {
			dst = f.text
		}
		dst, err := p.reference(dst)
		if err != nil {
			return err
		}
		if f != nil {
			f.text = dst
		}
	}
	return nil
}

// addText adds a literal piece (text without references, or CDATA) to the
// current field.
func (p *envParser) addText(piece []byte) {
	f := &p.fields[p.cur]
	if bytes.IndexByte(piece, '\r') < 0 {
		f.add(piece)
		return
	}
	f.own()
	f.text = appendNormalized(f.text, piece)
}

// appendNormalized appends s with XML's line-end handling: "\r\n" and a lone
// "\r" become "\n" (only literal ones: &#13; stays a carriage return).
func appendNormalized(dst, s []byte) []byte {
	for {
		k := bytes.IndexByte(s, '\r')
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		dst = append(dst, '\n')
		s = s[k+1:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
}

// reference decodes &lt; &gt; &amp; &apos; &quot; &#NN; or &#xHH; at p.i,
// appending the character to dst. Other entities cannot be declared (no DTD),
// so they are errors.
func (p *envParser) reference(dst []byte) ([]byte, error) {
	start := p.i
	semi := bytes.IndexByte(p.b[p.i:min(len(p.b), p.i+16)], ';')
	if semi < 0 {
		return dst, p.errf("unterminated or unknown character reference")
	}
	ref := p.b[p.i+1 : p.i+semi]
	var r rune
	switch string(ref) {
	case "lt":
		r = '<'
	case "gt":
		r = '>'
	case "amp":
		r = '&'
	case "apos":
		r = '\''
	case "quot":
		r = '"'
	default:
		if len(ref) < 2 || ref[0] != '#' {
			return dst, p.errf("unknown entity &%s;", clip(string(ref)))
		}
		digits, base := ref[1:], 10
		if digits[0] == 'x' {
			digits, base = digits[1:], 16
		}
		if len(digits) == 0 {
			return dst, p.errf("empty character reference")
		}
		for _, c := range digits {
			var d int
			switch {
			case '0' <= c && c <= '9':
				d = int(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = int(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = int(c-'A') + 10
			default:
				return dst, p.errf("bad character reference &%s;", clip(string(ref)))
			}
			r = r*rune(base) + rune(d)
			if r > utf8.MaxRune {
				return dst, p.errf("character reference &%s; out of range", clip(string(ref)))
			}
		}
		if !isXMLChar(r) {
			p.i = start
			return dst, p.errf("character reference &%s; is not an XML character", clip(string(ref)))
		}
	}
	p.i += semi + 1
	return utf8.AppendRune(dst, r), nil
}

// AppendEnvelope appends the encrypted reply body WeChat expects:
//
//	<xml><Encrypt><![CDATA[...]]></Encrypt><MsgSignature><![CDATA[...]]></MsgSignature><TimeStamp>...</TimeStamp><Nonce><![CDATA[...]]></Nonce></xml>
//
// with msgSignature = MsgSignature(token, timestamp, nonce, encrypt). The
// nonce and timestamp usually echo the request's; as they came from outside,
// they are escaped so that no value can break out of its element.
func AppendEnvelope(dst []byte, encrypt, msgSignature, timestamp, nonce string) []byte {
	dst = append(dst, "<xml><Encrypt>"...)
	dst = appendCDATA(dst, encrypt)
	dst = append(dst, "</Encrypt><MsgSignature>"...)
	dst = appendCDATA(dst, msgSignature)
	dst = append(dst, "</MsgSignature><TimeStamp>"...)
	dst = appendEscaped(dst, timestamp)
	dst = append(dst, "</TimeStamp><Nonce>"...)
	dst = appendCDATA(dst, nonce)
	dst = append(dst, "</Nonce></xml>"...)
	return dst
}

// appendCDATA wraps s in a CDATA section; a "]]>" inside is split across two
// sections, the standard way to carry it.
func appendCDATA(dst []byte, s string) []byte {
	dst = append(dst, "<![CDATA["...)
	for {
		k := strings.Index(s, "]]>")
		if k < 0 {
			break
		}
		dst = append(dst, s[:k+2]...)
		dst = append(dst, "]]><![CDATA["...)
		s = s[k+2:]
	}
	dst = append(dst, s...)
	return append(dst, "]]>"...)
}

// appendEscaped appends s as character data. '\r' is written as &#13; so
// that it survives the parser's line-end normalisation.
func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '<':
			dst = append(dst, "&lt;"...)
		case '>':
			dst = append(dst, "&gt;"...)
		case '&':
			dst = append(dst, "&amp;"...)
		case '\r':
			dst = append(dst, "&#13;"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
