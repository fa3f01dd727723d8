package simulate_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

// xmlLegal is s without what XML cannot carry: invalid UTF-8 and
// characters outside XML's Char production.
func xmlLegal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError && n == 1 {
			continue
		}
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// FuzzParseLine: a line typed into `luarobot simulate -i` is a message,
// help, quit, nothing, or an error naming the command. A message line
// always builds a message that goes through WeChat's XML and back with
// what was typed: the text of a text line, the key of a click.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"hello", "//start", "/click music", "/CLICK  a", "/subscribe", "/subscribe qrscene_7", "/unsubscribe x",
		"/location 39.9 116.4 天安门 广场", "/location NaN Inf", "/location 1e400 0", "/image", "/voice 你好 世界", "/view http://x/",
		"/scan 1", "/help", "/?", "/q", "/", "/ ", "/nope", "  ", "text\r\n", "a\x00b", "\xff", "/click \x00", "/location 0x1p3 -0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		line, err := simulate.ParseLine(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "/") && !strings.HasPrefix(err.Error(), "unknown command /") {
				t.Fatalf("ParseLine(%q): error %q does not name the command", text, err)
			}
			return
		}
		kinds := 0
		for _, b := range []bool{line.Send, line.Help, line.Quit} {
			if b {
				kinds++
			}
		}
		if kinds > 1 {
			t.Fatalf("ParseLine(%q) = %+v: more than one thing", text, line)
		}
		if kinds == 0 && strings.TrimSpace(text) != "" {
			t.Fatalf("ParseLine(%q) = nothing", text)
		}
		if !line.Send {
			return
		}
		m, err := simulate.Build(line.Spec)
		if err != nil {
			t.Fatalf("ParseLine(%q) = %+v, which does not build: %v", text, line.Spec, err)
		}
		raw, err := message.Marshal(m)
		if err != nil {
			t.Fatalf("%q: Marshal: %v", text, err)
		}
		back, err := message.Parse(raw)
		if err != nil {
			t.Fatalf("%q: the message does not parse back: %v\n%s", text, err, raw)
		}
		get := func(name string) string {
			for _, f := range back.Fields {
				if f.Name == name {
					s, _ := f.Value.(string)
					return s
				}
			}
			return ""
		}
		switch back.Type {
		case "text":
			want := strings.TrimRight(text, "\r\n")
			if strings.HasPrefix(want, "//") {
				want = want[1:]
			}
			if got := get("content"); got != xmlLegal(want) {
				t.Fatalf("%q: content %q, want %q", text, got, xmlLegal(want))
			}
		case "location":
			// What the line took for numbers is numbers to the handlers.
			for _, name := range []string{"location_x", "location_y"} {
				for _, f := range back.Fields {
					if _, isText := f.Value.(string); f.Name == name && isText {
						t.Fatalf("%q: %s is the text %q, not a number", text, name, f.Value)
					}
				}
			}
		case "click_event", "view_event", "scan_event":
			if back.EventKey != xmlLegal(line.Spec.Key) {
				t.Fatalf("%q: key %q, typed %q", text, back.EventKey, line.Spec.Key)
			}
		}
	})
}
