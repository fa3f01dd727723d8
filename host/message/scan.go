package message

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// The scanner reads the XML WeChat posts without reflection and without a
// token per element: WeChat's documents are flat (text or CDATA under <xml>,
// a few small nested blocks and lists), so one pass that records the text
// of the elements Parse knows is all it takes. It accepts exactly the documents
// encoding/xml accepts as one well-formed element (FuzzParse checks that
// against encoding/xml), except that it refuses on purpose what a WeChat
// push never holds: DOCTYPE and ENTITY declarations (entity expansion
// attacks), names that are not ASCII or hold two colons, and nesting deeper
// than maxDepth.

const (
	// maxDepth bounds element nesting. WeChat nests five deep
	// (xml/SendPicsInfo/PicList/item/PicMd5Sum); deeper documents are an
	// attack or a mistake.
	maxDepth = 32
	// maxKeyDepth is the depth below <xml> of the deepest element Parse
	// reads; deeper elements are not looked up.
	maxKeyDepth = 4
	// maxItems bounds each list: WeChat sends at most nine pictures, a
	// few templates or beacons, eight articles.
	maxItems = 100
)

// Error is what Parse returns for input it cannot read as a WeChat message.
type Error struct {
	// Line is the 1-based line of the input where the problem is, or 0
	// when the problem is not at one place (a missing element).
	Line int
	// Msg says what is wrong.
	Msg string
	// policy marks documents that are well-formed XML but refused on
	// purpose (DOCTYPE, depth, ...); the fuzz oracle needs to tell them
	// from syntax errors.
	policy bool
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("message: line %d: %s", e.Line, e.Msg)
	}
	return "message: " + e.Msg
}

// piece is one run of character data inside an element: text between two
// pieces of markup, or the content of a CDATA section.
type piece struct {
	start, end int
	cdata      bool
	plain      bool // needs no decoding: no reference, no carriage return
	space      bool // text (not CDATA) that is only spaces, tabs and newlines
}

// openElem is an element whose end tag has not been read yet.
type openElem struct {
	name     string
	at       int // offset of its '<'
	pathLen  int // len(scanner.path) before this element's name was added
	key      int // index into elemPaths, or -1
	hasChild bool
}

// Element states for scanner.state.
const (
	stAbsent uint8 = iota
	stText         // seen once, text in val
	stDup          // seen more than once
	stNested       // seen once, holding elements instead of text
)

// leafRecord is one element, recorded in document order when all is set
// (the fuzz test compares them with encoding/xml).
type leafRecord struct {
	Depth int
	Name  string
	Leaf  bool
	Text  string
}

// listItem is one item of a list; itemText one leaf of an item.
type listItem struct {
	list uint8
}

type itemText struct {
	item int    // index in scanner.items
	key  uint16 // the leaf's element key
	text string
}

type scanner struct {
	s     string
	pos   int
	stack []openElem
	path  []byte // element path below the root, "/"-separated
	// pieces of the innermost open element while it has no child element
	pieces []piece
	buf    []byte

	root     string
	rootAt   int
	rootDone bool

	// Per element key: state, text and where it was. Only the keys in
	// set are not absent, so reset and release touch only those: clearing
	// every pointer slot cost more than the parse.
	state []uint8
	val   []string
	at    []int
	set   []uint16

	// Lists: the containers seen (a bit per list), every item in document
	// order, the leaves of the items, and per list its item count and its
	// current (last opened) item.
	listsSeen uint32
	items     []listItem
	itemTexts []itemText
	itemCount [maxLists]int
	curItem   [maxLists]int

	all     bool
	records []leafRecord
}

func (p *scanner) reset(s string, all bool) {
	p.s = s
	p.pos = 0
	p.stack = p.stack[:0]
	p.path = p.path[:0]
	p.pieces = p.pieces[:0]
	p.root = ""
	p.rootDone = false
	if n := len(elemPaths); len(p.state) < n {
		p.state = make([]uint8, n)
		p.val = make([]string, n)
		p.at = make([]int, n)
	}
	for _, k := range p.set {
		p.state[k] = stAbsent
	}
	p.set = p.set[:0]
	p.listsSeen = 0
	p.items = p.items[:0]
	p.itemTexts = p.itemTexts[:0]
	p.itemCount = [maxLists]int{}
	p.all = all
	p.records = p.records[:0]
}

// release drops references into the input so a pooled scanner does not
// keep the last message alive.
func (p *scanner) release() {
	p.s = ""
	p.root = ""
	for _, k := range p.set {
		p.val[k] = ""
	}
	for i := range p.stack {
		p.stack[i].name = ""
	}
	clear(p.itemTexts)
	p.records = nil
	// A pooled scanner should not pin the buffer of one huge message.
	if cap(p.buf) > 64<<10 {
		p.buf = nil
	}
}

func (p *scanner) line(off int) int {
	if off > len(p.s) {
		off = len(p.s)
	}
	return strings.Count(p.s[:off], "\n") + 1
}

func (p *scanner) errAt(off int, format string, args ...any) *Error {
	return &Error{Line: p.line(off), Msg: fmt.Sprintf(format, args...)}
}

func (p *scanner) refuse(off int, format string, args ...any) *Error {
	e := p.errAt(off, format, args...)
	e.policy = true
	return e
}

func (p *scanner) eof() *Error {
	if n := len(p.stack); n > 0 {
		return p.errAt(len(p.s), "unexpected end of input inside <%s>", p.stack[n-1].name)
	}
	return p.errAt(len(p.s), "unexpected end of input")
}

// run scans the whole document.
func (p *scanner) run() error {
	s := p.s
	for p.pos < len(s) {
		if s[p.pos] != '<' {
			end := len(s)
			if i := strings.IndexByte(s[p.pos:], '<'); i >= 0 {
				end = p.pos + i
			}
			if err := p.text(p.pos, end); err != nil {
				return err
			}
			p.pos = end
			continue
		}
		if p.pos+1 >= len(s) {
			return p.eof()
		}
		var err error
		switch s[p.pos+1] {
		case '/':
			err = p.endTag()
		case '?':
			err = p.procInst()
		case '!':
			err = p.bang()
		default:
			err = p.startTag()
		}
		if err != nil {
			return err
		}
	}
	if len(p.stack) > 0 {
		return p.eof()
	}
	if p.root == "" {
		return &Error{Msg: "no root element"}
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == ':' || c == '.' || c == '-'
}

func (p *scanner) skipSpace(i int) int {
	for i < len(p.s) && isSpace(p.s[i]) {
		i++
	}
	return i
}

// name reads an XML name at i and returns the offset after it. A name
// that is present but not acceptable is an error; a missing one (ok false,
// err nil) is left for the caller to describe.
func (p *scanner) name(i int, what string, ns bool) (end int, err error) {
	s := p.s
	end = i
	colons := 0
	ascii := true
	for end < len(s) {
		c := s[end]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if !isNameByte(c) {
			break
		} else if c == ':' {
			colons++
		}
		end++
	}
	if end == i {
		if end >= len(s) {
			return end, p.eof()
		}
		return end, p.errAt(i, "expected %s", what)
	}
	if end >= len(s) {
		return end, p.eof()
	}
	n := s[i:end]
	if !ascii {
		return end, p.refuse(i, "name %q is not ASCII", n)
	}
	if c := n[0]; '0' <= c && c <= '9' || c == '.' || c == '-' {
		return end, p.errAt(i, "invalid XML name %q", n)
	}
	if ns && colons > 1 {
		return end, p.refuse(i, "name %q holds more than one colon", n)
	}
	return end, nil
}

func (p *scanner) startTag() error {
	s := p.s
	at := p.pos
	end, err := p.name(at+1, "element name after <", true)
	if err != nil {
		return err
	}
	name := s[at+1 : end]
	i := end
	selfClose := false
	for {
		i = p.skipSpace(i)
		if i >= len(s) {
			return p.eof()
		}
		c := s[i]
		if c == '/' {
			if i+1 >= len(s) {
				return p.eof()
			}
			if s[i+1] != '>' {
				return p.errAt(i, "expected /> in <%s>", name)
			}
			i += 2
			selfClose = true
			break
		}
		if c == '>' {
			i++
			break
		}
		if i, err = p.attr(i, name); err != nil {
			return err
		}
	}
	p.pos = i

	depth := len(p.stack)
	if depth == 0 {
		if p.rootDone {
			return p.errAt(at, "element <%s> after the root element", name)
		}
		p.root = name
		p.rootAt = at
	} else {
		if depth >= maxDepth {
			return p.refuse(at, "elements nested deeper than %d", maxDepth)
		}
		parent := &p.stack[depth-1]
		if !parent.hasChild {
			parent.hasChild = true
			p.pieces = p.pieces[:0]
		}
	}
	key := -1
	pathLen := len(p.path)
	if depth > 0 {
		if depth > 1 {
			p.path = append(p.path, '/')
		}
		p.path = append(p.path, name...)
		if depth <= maxKeyDepth {
			if k, ok := elemKeys[string(p.path)]; ok {
				key = int(k)
				if err := p.openListElem(k, at); err != nil {
					return err
				}
			}
		}
	}
	p.stack = append(p.stack, openElem{name: name, at: at, pathLen: pathLen, key: key})
	p.pieces = p.pieces[:0]
	if selfClose {
		p.closeTop()
	}
	return nil
}

// attr reads one attribute at i and returns the offset after it.
// Attributes carry nothing WeChat uses; they are checked, then skipped.
func (p *scanner) attr(i int, elem string) (int, error) {
	s := p.s
	nameAt := i
	end, err := p.name(i, "attribute name in <"+elem+">", true)
	if err != nil {
		return 0, err
	}
	i = p.skipSpace(end)
	if i >= len(s) {
		return 0, p.eof()
	}
	if s[i] != '=' {
		return 0, p.errAt(i, "attribute %s in <%s> has no value", s[nameAt:end], elem)
	}
	i = p.skipSpace(i + 1)
	if i >= len(s) {
		return 0, p.eof()
	}
	q := s[i]
	if q != '"' && q != '\'' {
		return 0, p.errAt(i, "unquoted attribute value in <%s>", elem)
	}
	j := strings.IndexByte(s[i+1:], q)
	if j < 0 {
		return 0, p.eof()
	}
	v := s[i+1 : i+1+j]
	if k := strings.IndexByte(v, '<'); k >= 0 {
		return 0, p.errAt(i+1+k, "unescaped < in an attribute value of <%s>", elem)
	}
	if _, err := p.checkRefs(i+1, i+1+j); err != nil {
		return 0, err
	}
	return i + 2 + j, nil
}

func (p *scanner) endTag() error {
	s := p.s
	at := p.pos
	end, err := p.name(at+2, "element name after </", true)
	if err != nil {
		return err
	}
	name := s[at+2 : end]
	i := p.skipSpace(end)
	if i >= len(s) {
		return p.eof()
	}
	if s[i] != '>' {
		return p.errAt(i, "unexpected %q in </%s>", s[i], name)
	}
	n := len(p.stack)
	if n == 0 {
		return p.errAt(at, "unexpected end tag </%s>", name)
	}
	if top := p.stack[n-1].name; top != name {
		return p.errAt(at, "element <%s> closed by </%s>", top, name)
	}
	p.pos = i + 1
	p.closeTop()
	return nil
}

// closeTop ends the innermost open element, recording its text when it
// is one Parse wants.
func (p *scanner) closeTop() {
	n := len(p.stack) - 1
	e := &p.stack[n]
	if e.key >= 0 {
		switch k := uint16(e.key); {
		case roles[k].role == roleContainer || roles[k].role == roleItem:
			// their presence was noted at the start tag
		case roles[k].role == roleItemLeaf:
			if !e.hasChild {
				p.addItemText(k, p.textOf(false))
			}
		case e.hasChild:
			if p.state[k] == stAbsent {
				p.set = append(p.set, k)
				p.state[k] = stNested
				p.at[k] = e.at
			} else {
				p.state[k] = stDup
				p.at[k] = e.at
			}
		case p.state[k] == stAbsent:
			p.set = append(p.set, k)
			p.state[k] = stText
			p.val[k] = p.textOf(false)
			p.at[k] = e.at
		default:
			p.state[k] = stDup
			p.at[k] = e.at
		}
	}
	if p.all {
		r := leafRecord{Depth: n, Name: localName(e.name), Leaf: !e.hasChild}
		if r.Leaf {
			r.Text = p.textOf(true)
		}
		p.records = append(p.records, r)
	}
	p.path = p.path[:e.pathLen]
	e.name = ""
	p.stack = p.stack[:n]
	p.pieces = p.pieces[:0]
	if n == 0 {
		p.rootDone = true
	}
}

// openListElem notes the start of a list's container or item.
func (p *scanner) openListElem(k uint16, at int) error {
	r := roles[k]
	switch r.role {
	case roleContainer:
		p.listsSeen |= 1 << r.list
	case roleItem:
		if p.itemCount[r.list] >= maxItems {
			return p.refuse(at, "<%s> holds more than %d items", leafName(lists[r.list].container), maxItems)
		}
		p.itemCount[r.list]++
		p.curItem[r.list] = len(p.items)
		p.items = append(p.items, listItem{list: r.list})
	}
	return nil
}

// addItemText records a leaf of the current item of its list. The first
// non-empty text of a leaf wins, as it always has for pic_list.
func (p *scanner) addItemText(k uint16, text string) {
	if text == "" {
		return
	}
	item := p.curItem[roles[k].list]
	for i := len(p.itemTexts) - 1; i >= 0 && p.itemTexts[i].item == item; i-- {
		if p.itemTexts[i].key == k {
			return
		}
	}
	p.itemTexts = append(p.itemTexts, itemText{item: item, key: k, text: text})
}

// localName is a name without its namespace prefix, as encoding/xml
// reports it.
func localName(n string) string {
	if i := strings.IndexByte(n, ':'); i > 0 && i < len(n)-1 {
		return n[i+1:]
	}
	return n
}

// procInst skips a processing instruction, checking an XML declaration
// the way encoding/xml does: version 1.0 and UTF-8 only.
func (p *scanner) procInst() error {
	s := p.s
	at := p.pos
	// Processing instructions are not namespaced: encoding/xml accepts
	// any number of colons in a target.
	end, err := p.name(at+2, "target name after <?", false)
	if err != nil {
		return err
	}
	target := s[at+2 : end]
	i := p.skipSpace(end)
	j := strings.Index(s[i:], "?>")
	if j < 0 {
		return p.eof()
	}
	if target == "xml" {
		content := s[i : i+j]
		if v := declParam(content, "version"); v != "" && v != "1.0" {
			return p.errAt(at, "unsupported XML version %q", v)
		}
		if enc := declParam(content, "encoding"); enc != "" && !strings.EqualFold(enc, "utf-8") {
			return p.refuse(at, "encoding %q: WeChat sends UTF-8 only", enc)
		}
	}
	p.pos = i + j + 2
	return nil
}

// declParam finds param="value" (or 'value') in the content of an XML
// declaration. It scans the way encoding/xml does, so both agree on which
// declarations are acceptable: the first occurrence of `param=` that is
// directly followed by a quote wins, and the value runs to the next
// occurrence of that quote.
func declParam(content, param string) string {
	needle := param + "="
	rest := content
	for {
		k := strings.Index(rest, needle)
		if k < 0 || k+len(needle) >= len(rest) {
			return ""
		}
		q := rest[k+len(needle)]
		rest = rest[k+len(needle)+1:]
		if q == '"' || q == '\'' {
			if e := strings.IndexByte(rest, q); e >= 0 {
				return rest[:e]
			}
			return ""
		}
	}
}

// bang handles markup that starts with "<!": a comment, a CDATA section,
// or a declaration, which is refused.
func (p *scanner) bang() error {
	s := p.s
	at := p.pos
	if at+2 >= len(s) {
		return p.eof()
	}
	switch s[at+2] {
	case '-':
		if at+3 >= len(s) {
			return p.eof()
		}
		if s[at+3] != '-' {
			return p.errAt(at, "<!- is not the start of a comment")
		}
		j := strings.Index(s[at+4:], "--")
		if j < 0 || at+4+j+2 >= len(s) {
			return p.eof()
		}
		if s[at+4+j+2] != '>' {
			return p.errAt(at+4+j, `"--" inside a comment`)
		}
		p.pos = at + 4 + j + 3
		return nil
	case '[':
		const open = "<![CDATA["
		for k := 3; k < len(open); k++ {
			if at+k >= len(s) {
				return p.eof()
			}
			if s[at+k] != open[k] {
				return p.errAt(at, "invalid <![ sequence")
			}
		}
		start := at + len(open)
		j := strings.Index(s[start:], "]]>")
		if j < 0 {
			return p.errAt(len(s), "unexpected end of input in a CDATA section")
		}
		end := start + j
		p.pos = end + 3
		return p.addPiece(piece{start: start, end: end, cdata: true,
			plain: strings.IndexByte(s[start:end], '\r') < 0})
	default:
		// <!DOCTYPE, <!ENTITY, ...: a WeChat push has none, and an
		// internal subset is how entity-expansion attacks start.
		return p.refuse(at, "DOCTYPE and ENTITY declarations are refused")
	}
}

// text handles the character data in s[start:end].
func (p *scanner) text(start, end int) error {
	t := p.s[start:end]
	if k := strings.Index(t, "]]>"); k >= 0 {
		return p.errAt(start+k, `"]]>" outside a CDATA section`)
	}
	refs, err := p.checkRefs(start, end)
	if err != nil {
		return err
	}
	pc := piece{start: start, end: end, plain: !refs && strings.IndexByte(t, '\r') < 0}
	if !refs {
		pc.space = true
		for i := 0; i < len(t); i++ {
			if !isSpace(t[i]) {
				pc.space = false
				break
			}
		}
	}
	return p.addPiece(pc)
}

// addPiece hands a run of character data to the element it belongs to.
func (p *scanner) addPiece(pc piece) error {
	n := len(p.stack)
	if n == 0 {
		// Outside the root only white space may appear.
		if pc.space {
			return nil
		}
		p.buf = p.decode(p.buf[:0], pc)
		for _, c := range p.buf {
			if !isSpace(c) {
				return p.errAt(pc.start, "text outside the root element")
			}
		}
		return nil
	}
	top := &p.stack[n-1]
	if top.hasChild || (top.key < 0 && !p.all) {
		return nil
	}
	p.pieces = append(p.pieces, pc)
	return nil
}

// checkRefs checks every character or entity reference in s[start:end],
// reporting whether there was one.
func (p *scanner) checkRefs(start, end int) (bool, error) {
	s := p.s[:end]
	i := start
	found := false
	for {
		k := strings.IndexByte(s[i:], '&')
		if k < 0 {
			return found, nil
		}
		found = true
		i += k
		_, n, err := p.ref(i, end)
		if err != nil {
			return found, err
		}
		i += n
	}
}

// ref decodes the reference at s[i] == '&' that must end before end,
// returning the text it stands for and its length.
func (p *scanner) ref(i, end int) (string, int, error) {
	s := p.s[:end]
	rest := s[i+1:]
	if len(rest) > 0 && rest[0] == '#' {
		j := 1
		base := 10
		if len(rest) > 1 && rest[1] == 'x' {
			base = 16
			j = 2
		}
		d := j
		for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' ||
			base == 16 && (rest[j] >= 'a' && rest[j] <= 'f' || rest[j] >= 'A' && rest[j] <= 'F')) {
			j++
		}
		if j >= len(rest) {
			return "", 0, p.badRef(i, end)
		}
		if rest[j] != ';' || j == d {
			return "", 0, p.errAt(i, "invalid character reference %q", refText(rest, j))
		}
		n, err := strconv.ParseUint(rest[d:j], base, 32)
		if err != nil || n > utf8.MaxRune {
			return "", 0, p.errAt(i, "invalid character reference %q", refText(rest, j))
		}
		r := rune(n)
		if 0xD800 <= r && r <= 0xDFFF {
			r = utf8.RuneError // encoding/xml does the same: string(rune) of a surrogate
		}
		if !xmltext.IsLegal(r) {
			return "", 0, p.errAt(i, "character reference %q is a character XML cannot hold", refText(rest, j))
		}
		return string(r), j + 2, nil
	}
	for _, e := range [...]struct{ name, text string }{
		{"lt;", "<"}, {"gt;", ">"}, {"amp;", "&"}, {"apos;", "'"}, {"quot;", `"`},
	} {
		if strings.HasPrefix(rest, e.name) {
			return e.text, len(e.name) + 1, nil
		}
	}
	// encoding/xml reads a name, then wants ';': tell EOF from nonsense.
	j := 0
	for j < len(rest) && (isNameByte(rest[j]) || rest[j] >= utf8.RuneSelf) {
		j++
	}
	if j >= len(rest) {
		return "", 0, p.badRef(i, end)
	}
	return "", 0, p.errAt(i, "invalid entity %q (only &lt; &gt; &amp; &apos; &quot; and character references)", refText(rest, j))
}

// badRef reports a reference cut off at end: the end of the input, or
// the end of the text run (a '<' or a closing quote came first).
func (p *scanner) badRef(i, end int) error {
	if end >= len(p.s) {
		return p.eof()
	}
	return p.errAt(i, "unterminated reference %q", p.s[i:end])
}

func refText(rest string, j int) string {
	if j+1 <= len(rest) {
		j++
	}
	if j > 24 {
		j = 24
	}
	return "&" + rest[:j]
}

// decode appends the text a piece stands for: references replaced, and
// CR or CRLF turned into LF as XML requires.
func (p *scanner) decode(b []byte, pc piece) []byte {
	t := p.s[pc.start:pc.end]
	if pc.plain {
		return append(b, t...)
	}
	var prev byte
	for i := 0; i < len(t); {
		c := t[i]
		switch {
		case c == '&' && !pc.cdata:
			r, n, _ := p.ref(pc.start+i, pc.end)
			b = append(b, r...)
			i += n
			prev = ';'
			continue
		case c == '\r':
			b = append(b, '\n')
		case c == '\n' && prev == '\r':
			// the CR already became the LF
		default:
			b = append(b, c)
		}
		prev = c
		i++
	}
	return b
}

// textOf returns the text of the element whose pieces were collected.
// White-space-only text runs outside CDATA are indentation (WeChat's own
// samples write `<CardId> <![CDATA[...]]> </CardId>`), so Parse drops
// them; raw (for the fuzz oracle) keeps everything as XML defines it.
func (p *scanner) textOf(raw bool) string {
	first, count := -1, 0
	for i := range p.pieces {
		if raw || !p.pieces[i].space {
			if first < 0 {
				first = i
			}
			count++
		}
	}
	switch {
	case count == 0:
		return ""
	case count == 1 && p.pieces[first].plain:
		pc := p.pieces[first]
		return p.s[pc.start:pc.end]
	}
	b := p.buf[:0]
	for _, pc := range p.pieces {
		if raw || !pc.space {
			b = p.decode(b, pc)
		}
	}
	p.buf = b
	return string(b)
}
