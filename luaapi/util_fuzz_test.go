package luaapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/luaapi/internal/safehttp"
)

// codecCheck is the Lua side of FuzzCodecs: it runs robot.url and
// robot.base64 as a script would and returns what they gave.
const codecCheck = `
function check(s, k1, v1, k2, v2)
  assert(robot.url.decode(robot.url.encode(s)) == s, "url: decode(encode(s)) ~= s")
  assert(robot.base64.decode(robot.base64.encode(s)) == s, "base64: decode(encode(s)) ~= s")
  local d, derr = robot.url.decode(s)
  assert((d == nil) == (derr ~= nil), "url.decode: a text and an error, or neither")
  local b, berr = robot.base64.decode(s)
  assert((b == nil) == (berr ~= nil), "base64.decode: bytes and an error, or neither")
  return d, derr, b, berr, robot.url.query({[k1] = v1, [k2] = v2})
end
`

// FuzzCodecs: robot.url.decode and robot.base64.decode read text from
// users and upstreams. They invert encode, agree with Go's QueryUnescape
// and StdEncoding (the other side's libraries), and fail with nil and an
// error naming the function, never a Lua error. robot.url.query gives a
// query that parses back to its table, keys sorted.
func FuzzCodecs(f *testing.F) {
	sb, err := NewSandbox(SandboxOptions{Dir: writeScripts(f, map[string]string{}), Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	defer sb.Close()
	if err := sb.Run(context.Background(), "codecs.lua", []byte(codecCheck)); err != nil {
		f.Fatal(err)
	}
	check := sb.State().GetGlobal("check").(*lua.LFunction)
	f.Add("a b+c%20d%zz", "city", "北京 &=", "z", "")
	f.Add("QUJD", "", "", "a b", "1")
	f.Add("QUJD\r\n", "k", "v", "k", "w")
	f.Add("QQ==", "&", "=", "%", "+")
	f.Add("QR==", "\x00", "\xff", "a", "b")
	f.Add("%e4%b8%ad", "a", "1", "b", "2")
	f.Fuzz(func(t *testing.T, s, k1, v1, k2, v2 string) {
		args := []lua.LValue{lua.LString(s), lua.LString(k1), lua.LString(v1), lua.LString(k2), lua.LString(v2)}
		ret, err := sb.Call(context.Background(), check, args...)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		d, derr, b, berr, q := ret[0], ret[1], ret[2], ret[3], ret[4]

		want, werr := url.QueryUnescape(s)
		switch {
		case werr != nil && (d != lua.LNil || !strings.HasPrefix(derr.String(), "robot.url.decode: ")):
			t.Fatalf("url.decode(%q) = %v, %v; Go: %v", s, d, derr, werr)
		case werr == nil && d.String() != want:
			t.Fatalf("url.decode(%q) = %q; Go: %q", s, d, want)
		}
		wantB, werr := base64.StdEncoding.DecodeString(s)
		switch {
		case werr != nil && (b != lua.LNil || !strings.HasPrefix(berr.String(), "robot.base64.decode: ")):
			t.Fatalf("base64.decode(%q) = %v, %v; Go: %v", s, b, berr, werr)
		case werr == nil && b.String() != string(wantB):
			t.Fatalf("base64.decode(%q) = %q; Go: %q", s, b, wantB)
		}

		parsed, err := url.ParseQuery(q.String())
		wantQ := url.Values{k1: {v1}}
		wantQ.Set(k2, v2)
		if err != nil || !reflect.DeepEqual(parsed, wantQ) {
			t.Fatalf("url.query{%q=%q, %q=%q} = %q, which parses to %v (%v)", k1, v1, k2, v2, q, parsed, err)
		}
		var keys []string
		for _, kv := range strings.Split(q.String(), "&") {
			k, _, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k) // sorted as the keys are, not as they are escaped
			keys = append(keys, k)
		}
		if !sort.StringsAreSorted(keys) {
			t.Fatalf("url.query keys are not sorted: %q", q)
		}
	})
}

// FuzzHTTPResult: the table robot.http gives a script for an upstream's
// response, whatever its headers and body: the status and the body as
// they came, every header under its lower-case name with its values
// joined, and json exactly when the response declares JSON and its body
// is JSON (then the decoded value; else the body alone).
func FuzzHTTPResult(f *testing.F) {
	f.Add(200, "application/json; charset=utf-8", "X-Thing", "a", "b", []byte(`{"temp":3,"list":[1,"x",null]}`))
	f.Add(500, "application/problem+json", "set-cookie", "a=1", "b=2", []byte(`{"title":"boom"}`))
	f.Add(200, "text/json", "X", "", "", []byte(`[`+strings.Repeat("[", 60)+strings.Repeat("]", 60)+`]`))
	f.Add(204, "text/html", "Location", "//evil", "", []byte(`{"a":1}`))
	f.Add(200, "application/json;;", "x y", "\xff", "\r\n", []byte("\xff"))
	f.Add(200, "APPLICATION/JSON", "Content-Length", "3", "4", []byte(`"\ud800"`))
	L := lua.NewState()
	defer L.Close()
	f.Fuzz(func(t *testing.T, status int, contentType, name, v1, v2 string, body []byte) {
		h := http.Header{"Content-Type": {contentType}}
		h[name] = append(h[name], v1, v2)
		res := &safehttp.Response{Status: status, Header: h, Body: body}
		tbl := httpResult(L, res)

		if got := tbl.RawGetString("status"); got != lua.LNumber(status) {
			t.Fatalf("status = %v, want %d", got, status)
		}
		if got := tbl.RawGetString("body"); got.String() != string(body) {
			t.Fatalf("body = %q, want %q", got, body)
		}
		headers := tbl.RawGetString("headers").(*lua.LTable)
		headers.ForEach(func(k, v lua.LValue) {
			if k.String() != strings.ToLower(k.String()) {
				t.Fatalf("header name %q is not lower-case", k)
			}
		})
		for k, vs := range h {
			got := headers.RawGetString(strings.ToLower(k)).String()
			if want := strings.Join(vs, ", "); got != want && !strings.EqualFold(k, "content-type") && !strings.EqualFold(k, name) {
				t.Fatalf("headers[%q] = %q, want %q", strings.ToLower(k), got, want)
			}
		}

		declared := isJSON(contentType)
		v := tbl.RawGetString("json")
		if v != lua.LNil && !declared {
			t.Fatalf("json set for a %q response", contentType)
		}
		if v != lua.LNil && !json.Valid(body) {
			t.Fatalf("json set for a body that is not JSON: %q", body)
		}
		if declared && json.Valid(body) && v == lua.LNil && !strings.EqualFold(name, "content-type") {
			// (null decodes to nil: no json, as a null member is absent.)
			if d, err := DecodeJSON(L, body, false); err == nil && d != lua.LNil || err != nil && !strings.Contains(err.Error(), "nested deeper") {
				t.Fatalf("a JSON response's json is nil: %q (%v)", body, err)
			}
		}
	})
}
