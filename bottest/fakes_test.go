package bottest

import (
	"math"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestURLPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, url string
		match        bool
	}{
		{"https://api.example.com/*", "https://api.example.com/weather?city=bj", true},
		{"https://api.example.com/*", "https://api.example.com/", true},
		{"https://api.example.com/*", "https://api.example.com", false},
		{"https://api.example.com/*", "https://api.example.com.evil.net/x", false},
		{"*", "http://anything/at/all?x=1", true},
		{"https://a.example.com/v1?x=1", "https://a.example.com/v1?x=1", true},
		{"https://a.example.com/v1?x=1", "https://a.example.com/v1?x=12", false},
		{"https://a.example.com/v1.json", "https://a.example.com/v1xjson", false}, // a dot is a dot
		{"https://wttr.in/北京*", "https://wttr.in/%E5%8C%97%E4%BA%AC?format=j1", true},
		{"https://*.example.com/*", "https://api.example.com/x", true},
	} {
		if got := (httpFake{re: urlPattern(c.pattern)}).matches(c.url); got != c.match {
			t.Errorf("%q ~ %q = %v, want %v", c.pattern, c.url, got, c.match)
		}
	}
}

func TestEndpointName(t *testing.T) {
	for in, want := range map[string]string{
		"/cgi-bin/user/info":           "user/info",
		"user/info":                    "user/info",
		"cgi-bin/user/info":            "user/info",
		"/sns/userinfo":                "sns/userinfo",
		"/customservice/kfaccount/add": "customservice/kfaccount/add",
	} {
		if got := endpointName(in); got != want {
			t.Errorf("endpointName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValues(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(`
a = {1, 2, x = {y = "z"}, ["a b"] = true}
b = {1, 2, x = {y = "z"}, ["a b"] = true}
c = {1, 2, x = {y = "w"}}
sub = {x = {y = "z"}, [2] = 2}
`); err != nil {
		t.Fatal(err)
	}
	a, b, c, sub := L.GetGlobal("a"), L.GetGlobal("b"), L.GetGlobal("c"), L.GetGlobal("sub")
	if !equal(a, b) || equal(a, c) || equal(a, sub) || !equal(lua.LNumber(1), lua.LNumber(1)) || equal(lua.LString("1"), lua.LNumber(1)) {
		t.Error("equal")
	}
	if _, ok := subset(sub, a); !ok {
		t.Error("sub is a subset of a")
	}
	m, ok := subset(sub, c)
	if ok || m.path != ".x.y" || m.want != lua.LString("z") || m.got != lua.LString("w") {
		t.Errorf("mismatch %+v", m)
	}
	// An empty table inside want wants an empty table, not anything.
	if err := L.DoString(`empty = {x = {}}; none = {x = {}, y = 1}`); err != nil {
		t.Fatal(err)
	}
	if _, ok := subset(L.GetGlobal("empty"), a); ok {
		t.Error("{x = {}} is a subset of a table whose x is not empty")
	}
	if _, ok := subset(L.GetGlobal("empty"), L.GetGlobal("none")); !ok {
		t.Error("{x = {}} is not a subset of {x = {}, y = 1}")
	}
	if got := show(a); got != `{1, 2, ["a b"] = true, x = {y = "z"}}` {
		t.Errorf("show = %s", got)
	}
	if got := show(lua.LString("两行\n")); got != `"两行\n"` {
		t.Errorf("show = %s", got)
	}
}

// t.clock:advance takes what a user writes and refuses, with a reason, a
// step that would turn the clock back — also one so large that a
// time.Duration would wrap round to the past.
func TestParseAdvance(t *testing.T) {
	for _, c := range []struct {
		in   lua.LValue
		want time.Duration
		err  string
	}{
		{lua.LNumber(90), 90 * time.Second, ""},
		{lua.LString("31m"), 31 * time.Minute, ""},
		{lua.LString("7d"), 7 * 24 * time.Hour, ""},
		{lua.LString("1.5d"), 36 * time.Hour, ""},
		{lua.LNumber(-1), 0, "the clock only moves forward"},
		{lua.LString("-2h"), 0, "the clock only moves forward"},
		{lua.LNumber(1e300), 0, "1e+300 seconds is more than the clock moves at once (at most 100 years)"},
		{lua.LString("1e300d"), 0, "more than the clock moves at once"},
		{lua.LNumber(math.NaN()), 0, "a duration such as"},
		{lua.LString("soon"), 0, "a duration such as"},
		{lua.LTrue, 0, "a duration such as"},
	} {
		got, err := parseAdvance(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("advance(%v) = %v, %v; want %v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("advance(%v) = %v, %v; want an error with %q", c.in, got, err, c.err)
		}
	}
}
