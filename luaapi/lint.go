package luaapi

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/yuin/gopher-lua/parse"

	"github.com/luarobot/luarobot/internal/suggest"
)

// Warning is a problem in a script that loads but probably does not do
// what its author meant: `luarobot check` and `luarobot doctor` show them.
type Warning struct {
	File string
	Line int // 0 when it is about the whole file or folder
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
	}
	return w.File + ": " + w.Msg
}

// lint reads a script's tokens for mistakes that Lua accepts: a robot.*
// name that does not exist (an error: it would fail when reached), and a
// robot.re pattern in a quoted string whose backslashes Lua dropped (a
// warning). members are the names the robot table has.
func lint(name string, data []byte, members []string) (errs []*Error, warns []Warning) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(data) > 0 && data[0] == '#' {
		data = append([]byte("--"), data...) // a shebang, as compileChunk reads it
	}
	known := make(map[string]bool, len(members))
	for _, m := range members {
		known[m] = true
	}
	lines := splitLines(data)
	sc := parse.NewScanner(bytes.NewReader(data), name)
	lx := &parse.Lexer{}
	var toks [5]tokenAt  // the last tokens, newest first
	var scope robotScope // where a local named robot hides the global
	for {
		tok, err := sc.Scan(lx)
		if err != nil || tok.Type < 0 {
			// A syntax error is compileChunk's to report.
			return errs, warns
		}
		lx.PrevTokenType = tok.Type
		copy(toks[1:], toks[:4])
		toks[0] = tokenAt{tok.Type, tok.Str, tok.Pos.Line, tok.Pos.Column}

		// robot.NAME or robot:NAME, where robot is the global.
		if toks[0].typ == parse.TIdent && (toks[1].typ == '.' || toks[1].typ == ':') &&
			toks[2].is(parse.TIdent, "robot") && toks[3].typ != '.' && toks[3].typ != ':' &&
			!scope.shadowed() && len(known) > 0 && !known[toks[0].str] {
			hint := ""
			if c := suggest.Closest(toks[0].str, members); c != "" {
				hint = fmt.Sprintf(" (did you mean robot.%s?)", c)
			}
			errs = append(errs, errorf(name, toks[0].line, "robot.%s does not exist%s", toks[0].str, hint))
		}
		scope.next(toks[0])
		// robot.re("...") and robot.re "...".
		if toks[0].typ == parse.TString &&
			(toks[1].typ == '(' && toks[2].is(parse.TIdent, "re") && toks[3].typ == '.' && toks[4].is(parse.TIdent, "robot") ||
				toks[1].is(parse.TIdent, "re") && toks[2].typ == '.' && toks[3].is(parse.TIdent, "robot")) {
			if w, ok := lintPattern(name, lines, toks[0]); ok {
				warns = append(warns, w)
			}
		}
	}
}

// robotScope follows, token by token, where a local variable named robot
// (a local, a for variable, a function's parameter) hides the global: its
// fields are the script's own, and judging them would refuse a working
// script. Blocks are counted by their keywords; a local is dropped when
// its block ends.
type robotScope struct {
	depth   int   // blocks open: function, do (of do, while, for), if, repeat
	locals  []int // the depth of each robot local in scope, innermost last
	declare int   // in a name list: 0 none, declLocal, declFor, declParams
	fnHead  bool  // between function and its parameter list's '('
}

const (
	declLocal  = 1 // local a, b
	declFor    = 2 // for a, b in / for a =
	declParams = 3 // function f(a, b)
)

func (s *robotScope) shadowed() bool { return len(s.locals) > 0 }

func (s *robotScope) next(t tokenAt) {
	switch s.declare {
	case declLocal, declFor, declParams:
		switch {
		case t.typ == parse.TIdent:
			if t.str == "robot" {
				d := s.depth // a local and a parameter: the current block
				if s.declare == declFor {
					d++ // a for variable: the loop's body, after its do
				}
				s.locals = append(s.locals, d)
			}
			return
		case t.typ == ',' || t.typ == parse.T3Comma:
			return
		}
		s.declare = 0
	}
	if s.fnHead {
		switch t.typ {
		case '(':
			s.fnHead, s.declare = false, declParams
			return
		case parse.TIdent, '.', ':':
			return
		}
		s.fnHead = false
	}
	switch t.typ {
	case parse.TLocal:
		s.declare = declLocal
	case parse.TFor:
		s.declare = declFor
	case parse.TFunction:
		s.depth++
		s.fnHead = true
	case parse.TDo, parse.TIf, parse.TRepeat:
		s.depth++
	case parse.TUntil:
		// A repeat's locals are still visible in its until condition:
		// they are dropped at the next end instead (a missed typo at
		// worst, never a refused script).
		s.depth--
	case parse.TEnd:
		s.depth--
		for len(s.locals) > 0 && s.locals[len(s.locals)-1] > s.depth {
			s.locals = s.locals[:len(s.locals)-1]
		}
	}
}

type tokenAt struct {
	typ       int
	str       string
	line, col int
}

func (t tokenAt) is(typ int, str string) bool { return t.typ == typ && t.str == str }

// lintPattern looks at the source text of a robot.re string literal: a
// backslash Lua does not know as an escape ("\d", "\w", "\.") is dropped,
// and "\b" is a backspace, not RE2's word boundary.
func lintPattern(file string, lines [][]byte, tok tokenAt) (Warning, bool) {
	if tok.line < 1 || tok.line > len(lines) || tok.col < 1 || tok.col > len(lines[tok.line-1]) {
		return Warning{}, false
	}
	raw := lines[tok.line-1][tok.col-1:]
	quote := raw[0]
	if quote != '"' && quote != '\'' {
		return Warning{}, false // a long string keeps every backslash
	}
	end := 1
	var bad []string
	for end < len(raw) && raw[end] != quote {
		if raw[end] == '\\' && end+1 < len(raw) {
			c := raw[end+1]
			if !strings.ContainsRune(`abfnrtv\"'0123456789`, rune(c)) || c == 'b' {
				bad = append(bad, `\`+string(c))
			}
			end++
		}
		end++
	}
	if len(bad) == 0 {
		return Warning{}, false
	}
	literal := string(raw[:min(end+1, len(raw))])
	inner := string(raw[1:end])
	var why string
	if bad[0] == `\b` {
		why = `in a quoted string \b is a backspace for Lua, not RE2's word boundary`
	} else {
		why = fmt.Sprintf("Lua drops the backslash of %s in a quoted string, so the pattern is %q", bad[0], tok.str)
	}
	fix := "double each backslash"
	if !strings.Contains(inner, "]]") && !strings.Contains(inner, `\\`) && !strings.ContainsAny(inner, `"'`) {
		fix = fmt.Sprintf("write robot.re([[%s]]) (a long string keeps backslashes) or double each backslash", inner)
	}
	return Warning{File: file, Line: tok.line, Msg: fmt.Sprintf("robot.re(%s): %s; %s", literal, why, fix)}, true
}

// splitLines splits as Lua counts lines: "\n", "\r\n" and "\r" each end
// one.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	start := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '\n':
			lines = append(lines, data[start:i])
			start = i + 1
		case '\r':
			lines = append(lines, data[start:i])
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	return append(lines, data[start:])
}

// lint reads every source of a version that loaded in st: an unknown
// robot.* name anywhere fails the load (the first is returned), as it
// fails `luarobot check`; warnings are logged.
func (rt *Runtime) lint(st *state, groups ...[]source) error {
	members := robotMembers(st)
	var first *Error
	var warns []Warning
	for _, group := range groups {
		for _, s := range group {
			errs, w := lint(s.name, s.data, members)
			if len(errs) > 0 && first == nil {
				first = errs[0]
			}
			warns = append(warns, w...)
		}
	}
	if first != nil {
		return first
	}
	for _, w := range append(warns, duplicateRules(st)...) {
		rt.log.Warn("script warning: " + w.String())
	}
	return nil
}
