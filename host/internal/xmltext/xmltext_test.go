package xmltext

import (
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"plain ascii\t\r\n", "plain ascii\t\r\n"},
		{"你好，世界！", "你好，世界！"}, // full-width punctuation starts with 0xEF
		{"a\x00b\x01c\x1fd\x7fe", "abcd\x7fe"},
		{"x\uFFFEy\uFFFFz\uFFFD", "xyz\uFFFD"},
		{"bad\xff\xc3utf8\xed\xa0\x80", "badutf8"},
		{"😀\x0b", "😀"},
	} {
		got := Clean(c.in)
		if got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	s := "unchanged 中文"
	if got := Clean(s); got != s || utf8.RuneCountInString(got) != 12 {
		t.Errorf("Clean changed a clean string")
	}
}

func TestAppendCDATA(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "<![CDATA[]]>"},
		{"a]]>b", "<![CDATA[a]]]]><![CDATA[>b]]>"},
		{"]]]>", "<![CDATA[]]]]]><![CDATA[>]]>"},
		{"]] >]", "<![CDATA[]] >]]]>"},
		{"a\r\nb", "<![CDATA[a]]>&#13;<![CDATA[\nb]]>"},
		{"x\x00\uFFFFy，", "<![CDATA[xy，]]>"},
	} {
		if got := string(AppendCDATA(nil, c.in)); got != c.want {
			t.Errorf("AppendCDATA(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
