// Package xmltext holds the character-level rules of XML that both the
// message parser and the reply renderer need: which characters XML 1.0 may
// carry, and how to write any Go string as CDATA so that a parser reads the
// same text back.
package xmltext

import "unicode/utf8"

// IsLegal reports whether r may appear in an XML 1.0 document (the Char
// production). WeChat sometimes passes user text with other control
// characters through; parsers refuse them, so they are dropped.
func IsLegal(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// In valid UTF-8 the only illegal characters are the C0 controls other
// than tab, LF and CR, and U+FFFE and U+FFFF (EF BF BE, EF BF BF):
// surrogates are not valid UTF-8. So once a string is known to be UTF-8, a
// byte table finds every candidate without decoding runes, which matters
// for Chinese text.
var (
	// suspect marks bytes that may start an illegal character.
	suspect [256]bool
	// care marks the bytes AppendCDATA must look at once Clean has run:
	// ']' (a "]]>" may start there) and CR.
	care [256]bool
)

func init() {
	for c := 0; c < 0x20; c++ {
		suspect[c] = c != '\t' && c != '\n' && c != '\r'
	}
	suspect[0xEF] = true
	care[']'] = true
	care['\r'] = true
}

// illegalAt reports whether the valid UTF-8 string s has an illegal
// character at i, where suspect[s[i]] holds.
func illegalAt(s string, i int) bool {
	if s[i] != 0xEF {
		return true
	}
	return i+2 < len(s) && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF)
}

// Clean returns s without the characters XML cannot carry and without bytes
// that are not UTF-8. It returns s itself when nothing had to go.
func Clean(s string) string {
	if utf8.ValidString(s) {
		i := 0
		for i < len(s) && (!suspect[s[i]] || !illegalAt(s, i)) {
			i++
		}
		if i == len(s) {
			return s
		}
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !(r == utf8.RuneError && n == 1) && IsLegal(r) {
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return string(b)
}

// AppendCDATA appends s as character data that any XML parser reads back as
// s minus its illegal characters: inside <![CDATA[...]]>, with a "]]>" split
// across two sections and a carriage return written as a character
// reference between sections, because a parser turns a literal CR (or CRLF)
// into LF even inside CDATA.
func AppendCDATA(b []byte, s string) []byte {
	s = Clean(s) // s itself unless something must go: rare
	b = append(b, "<![CDATA["...)
	for {
		// Copy the longest run that needs no care in one append.
		i := 0
		for i < len(s) && !care[s[i]] {
			i++
		}
		b = append(b, s[:i]...)
		s = s[i:]
		if len(s) == 0 {
			return append(b, "]]>"...)
		}
		if s[0] == '\r' {
			b = append(b, "]]>&#13;<![CDATA["...)
			s = s[1:]
		} else if len(s) >= 3 && s[1] == ']' && s[2] == '>' {
			// End the section after "]]" and start anew at ">".
			b = append(b, "]]]]><![CDATA[>"...)
			s = s[3:]
		} else {
			b = append(b, ']')
			s = s[1:]
		}
	}
}
