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

// Clean returns s without the characters XML cannot carry and without bytes
// that are not UTF-8. It returns s itself when nothing had to go.
func Clean(s string) string {
	i := firstIllegal(s)
	if i < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	b = appendLegal(b, s)
	return string(b)
}

// firstIllegal returns the index of the first byte of s that starts an
// illegal character or a byte sequence that is not UTF-8, or -1.
func firstIllegal(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !IsLegal(r) {
			return i
		}
		i += n
	}
	return -1
}

// appendLegal appends the legal characters of s to b.
func appendLegal(b []byte, s string) []byte {
	for len(s) > 0 {
		i := firstIllegal(s)
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		_, n := utf8.DecodeRuneInString(s[i:])
		s = s[i+n:]
	}
	return b
}

// AppendCDATA appends s as character data that any XML parser reads back as
// s minus its illegal characters: inside <![CDATA[...]]>, with a "]]>" split
// across two sections and a carriage return written as a character
// reference between sections, because a parser turns a literal CR (or CRLF)
// into LF even inside CDATA.
func AppendCDATA(b []byte, s string) []byte {
	b = append(b, "<![CDATA["...)
	for len(s) > 0 {
		// Copy the longest run that needs no care in one append.
		i := 0
		for i < len(s) {
			c := s[i]
			if c >= 0x20 && c < utf8.RuneSelf && c != ']' || c == '\t' || c == '\n' {
				i++
				continue
			}
			if c >= utf8.RuneSelf {
				r, n := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && n == 1 || !IsLegal(r) {
					break
				}
				i += n
				continue
			}
			if c == ']' && (len(s)-i < 3 || s[i+1] != ']' || s[i+2] != '>') {
				i++
				continue
			}
			break
		}
		b = append(b, s[:i]...)
		s = s[i:]
		if len(s) == 0 {
			break
		}
		switch c := s[0]; {
		case c == ']': // "]]>": end the section after "]]", start anew at ">"
			b = append(b, "]]]]><![CDATA[>"...)
			s = s[3:]
		case c == '\r':
			b = append(b, "]]>&#13;<![CDATA["...)
			s = s[1:]
		default: // an illegal character or a stray byte: drop it
			_, n := utf8.DecodeRuneInString(s)
			s = s[n:]
		}
	}
	return append(b, "]]>"...)
}
