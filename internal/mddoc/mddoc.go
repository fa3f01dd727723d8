// Package mddoc reads the parts of the project's Markdown documents that
// tests check against the program: the fenced code blocks (TOML that must
// load, Lua that must compile), the relative links and their #anchors, and
// the rows of tables. It knows as much Markdown as the documents use, not
// CommonMark.
package mddoc

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
)

// Block is a fenced code block.
type Block struct {
	File string // the document, as given to Blocks
	Line int    // the line of the opening fence, from 1
	Lang string // the fence's info string: "lua", "toml", "" for none
	Text string // the lines between the fences, their fence indentation removed
}

// Where is "file:line" of the block's opening fence, for test messages.
func (b Block) Where() string { return fmt.Sprintf("%s:%d", b.File, b.Line) }

var fence = regexp.MustCompile("^( *)(```+)\\s*([^`\\s]*)")

// Blocks returns the fenced code blocks of a document, in order. A fence
// indented in a list item closes at a fence of the same indentation or
// less, and the block's lines lose that indentation.
func Blocks(file, text string) []Block {
	var blocks []Block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := fence.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, ticks := len(m[1]), m[2]
		b := Block{File: file, Line: i + 1, Lang: m[3]}
		var body []string
		for i++; i < len(lines); i++ {
			trimmed := strings.TrimLeft(lines[i], " ")
			if strings.HasPrefix(trimmed, ticks) && strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "" &&
				len(lines[i])-len(trimmed) <= indent {
				break
			}
			line := lines[i]
			for n := 0; n < indent && strings.HasPrefix(line, " "); n++ {
				line = line[1:]
			}
			body = append(body, line)
		}
		b.Text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks
}

// Prose returns the document with its fenced blocks and inline code spans
// blanked out (lines kept, so line numbers still hold): what links and
// headings are read from.
func Prose(text string) string {
	lines := strings.Split(text, "\n")
	inFence, indent, ticks := false, 0, ""
	for i, line := range lines {
		if m := fence.FindStringSubmatch(line); m != nil {
			trimmed := strings.TrimLeft(line, " ")
			switch {
			case !inFence:
				inFence, indent, ticks = true, len(m[1]), m[2]
			case strings.HasPrefix(trimmed, ticks) && len(line)-len(trimmed) <= indent:
				inFence = false
			}
			lines[i] = ""
			continue
		}
		if inFence {
			lines[i] = ""
			continue
		}
		lines[i] = codeSpan.ReplaceAllString(line, "``")
	}
	return strings.Join(lines, "\n")
}

var codeSpan = regexp.MustCompile("`[^`]*`")

// Link is a link or image of a document.
type Link struct {
	Line   int
	Target string // as written: "docs/lua.md#sessions", "#guarantees"
}

var link = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// Links returns the links and images of a document's prose (not those
// shown inside code).
func Links(text string) []Link {
	var links []Link
	for i, line := range strings.Split(Prose(text), "\n") {
		for _, m := range link.FindAllStringSubmatch(line, -1) {
			links = append(links, Link{Line: i + 1, Target: m[1]})
		}
	}
	return links
}

// Relative reports whether a link target points into the repository (no
// scheme such as https: or mailto:).
func Relative(target string) bool { return !scheme.MatchString(target) }

var scheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)

var heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)

// Anchors returns the #anchors GitHub gives a document's headings: the
// heading's text lower-cased, without punctuation but '-' and '_', spaces
// made '-', a repeated one suffixed -1, -2, ...
func Anchors(text string) map[string]bool {
	anchors := make(map[string]bool)
	seen := make(map[string]int)
	// Prose blanks code spans; headings keep their text, so read them from
	// the document with only the fenced blocks removed.
	proseLines := strings.Split(Prose(text), "\n")
	for i, line := range strings.Split(text, "\n") {
		if proseLines[i] == "" && line != "" {
			continue // inside a fenced block
		}
		m := heading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := Slug(m[1])
		if n := seen[a]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

var inlineLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// Slug is GitHub's anchor of a heading's text.
func Slug(heading string) string {
	heading = inlineLink.ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Table is a table of a document.
type Table struct {
	Line   int        // the line of its header row, from 1
	Header []string   // the header row's cells
	Rows   [][]string // the rows after the separator, each cell trimmed
}

// Tables returns the tables of a document outside its fenced blocks. Code
// spans keep their text: tables name keys and commands in them. A '|'
// inside a code span must be written '\|', as GitHub wants it.
func Tables(text string) []Table {
	var tables []Table
	var cur *Table
	prose := strings.Split(Prose(text), "\n")
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if prose[i] == "" || !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
			cur = nil
			continue
		}
		cells := splitRow(line[1 : len(line)-1])
		switch {
		case cur == nil:
			tables = append(tables, Table{Line: i + 1, Header: cells})
			cur = &tables[len(tables)-1]
		case cur.Rows == nil && isSeparator(cells):
			cur.Rows = [][]string{}
		default:
			cur.Rows = append(cur.Rows, cells)
		}
	}
	return tables
}

func splitRow(row string) []string {
	var cells []string
	for _, c := range strings.Split(strings.ReplaceAll(row, `\|`, "\x00"), "|") {
		cells = append(cells, strings.TrimSpace(strings.ReplaceAll(c, "\x00", "|")))
	}
	return cells
}

func isSeparator(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, ":-") != "" {
			return false
		}
	}
	return true
}

// CodeSpans returns the texts of the inline code spans of s: "`a`, `b`" is
// ["a", "b"].
func CodeSpans(s string) []string {
	var spans []string
	for _, m := range codeSpan.FindAllString(s, -1) {
		spans = append(spans, strings.Trim(m, "`"))
	}
	return spans
}

// Document is one of the project's documents, read.
type Document struct {
	Name string // relative to the repository root, as errors name it: "docs/lua.md"
	Path string // as opened
	Text string
}

// Documents reads the documents the project's doc tests check, below the
// repository root: README.md, examples/README.md and docs/*.md.
func Documents(root string) ([]Document, error) {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	files := []string{filepath.Join(root, "README.md"), filepath.Join(root, "examples", "README.md")}
	files = append(files, docs...)
	out := make([]Document, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("mddoc: %w", err)
		}
		name, err := filepath.Rel(root, f)
		if err != nil {
			return nil, fmt.Errorf("mddoc: %w", err)
		}
		out = append(out, Document{Name: filepath.ToSlash(name), Path: f, Text: string(data)})
	}
	return out, nil
}
