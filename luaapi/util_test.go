package luaapi

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// luaLiteral writes s as a Lua string literal, every byte that is not
// plain printable ASCII as a \ddd escape.
func luaLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c < 0x7f && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// utilInputs are the strings the utilities are checked on: empty, ASCII,
// UTF-8, bytes that are not UTF-8, and the characters escaping cares for.
var utilInputs = []string{"", "a", "hello world", "你好，世界", "\x00\xff\xfe binary", "a+b=c&d/e?f#g%h ~*'()", strings.Repeat("long ", 300)}

// runLuaEach runs expr (a Lua expression of s) for each input and returns
// the results.
func runLuaEach(t *testing.T, expr string, inputs []string) []string {
	t.Helper()
	var chunk strings.Builder
	chunk.WriteString("local out = {}\n")
	for _, in := range inputs {
		fmt.Fprintf(&chunk, "do local s = %s; out[#out+1] = tostring(%s) end\n", luaLiteral(in), expr)
	}
	chunk.WriteString(`return table.concat(out, "\n")`)
	return strings.Split(runLua(t, Options{}, chunk.String()), "\n")
}

func TestCryptoMatchesGo(t *testing.T) {
	sums := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New}
	for name, h := range sums {
		got := runLuaEach(t, "robot.crypto."+name+"(s)", utilInputs)
		for i, in := range utilInputs {
			d := h()
			d.Write([]byte(in))
			if want := hex.EncodeToString(d.Sum(nil)); got[i] != want {
				t.Errorf("%s(%q) = %s, want %s", name, in, got[i], want)
			}
		}
	}
	for name, h := range map[string]func() hash.Hash{"hmac_sha1": sha1.New, "hmac_sha256": sha256.New} {
		for _, key := range []string{"", "key", "\x00\xffsecret", strings.Repeat("k", 100)} {
			got := runLuaEach(t, "robot.crypto."+name+"("+luaLiteral(key)+", s)", utilInputs)
			for i, in := range utilInputs {
				m := hmac.New(h, []byte(key))
				m.Write([]byte(in))
				if want := hex.EncodeToString(m.Sum(nil)); got[i] != want {
					t.Errorf("%s(%q, %q) = %s, want %s", name, key, in, got[i], want)
				}
			}
		}
	}
	// A well-known value, in lower-case hex.
	if got := runLua(t, Options{}, `return robot.crypto.sha256("abc")`); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("sha256(abc) = %s", got)
	}
}

func TestBase64MatchesGo(t *testing.T) {
	enc := runLuaEach(t, "robot.base64.encode(s)", utilInputs)
	for i, in := range utilInputs {
		if want := base64.StdEncoding.EncodeToString([]byte(in)); enc[i] != want {
			t.Errorf("encode(%q) = %s, want %s", in, enc[i], want)
		}
	}
	// decode gives the bytes back (compared through their hex).
	dec := runLuaEach(t, "robot.crypto.md5(robot.base64.decode(s))", enc)
	for i, in := range utilInputs {
		if want := fmt.Sprintf("%x", md5.Sum([]byte(in))); dec[i] != want {
			t.Errorf("decode(encode(%q)) differs", in)
		}
	}
	got := runLua(t, Options{}, `
  local ok, err = robot.base64.decode("aGVsbG8")     -- padding missing
  local ok2, err2 = robot.base64.decode("aGV*bG8=")  -- not the alphabet
  return tostring(ok) .. " " .. err .. " | " .. tostring(ok2) .. " " .. err2`)
	if got != "nil robot.base64.decode: illegal base64 data at input byte 4 | nil robot.base64.decode: illegal base64 data at input byte 3" {
		t.Errorf("decode errors: %s", got)
	}
}

func TestURLMatchesGo(t *testing.T) {
	enc := runLuaEach(t, "robot.url.encode(s)", utilInputs)
	for i, in := range utilInputs {
		if want := url.QueryEscape(in); enc[i] != want {
			t.Errorf("encode(%q) = %s, want %s", in, enc[i], want)
		}
	}
	if got := runLua(t, Options{}, `return robot.url.encode("a b") .. " " .. robot.url.decode("a+b%20c%E4%BD%A0")`); got != "a+b a b c你" {
		t.Errorf("space: %s", got)
	}
	dec := runLuaEach(t, "robot.crypto.md5(robot.url.decode(s))", enc)
	for i, in := range utilInputs {
		if want := fmt.Sprintf("%x", md5.Sum([]byte(in))); dec[i] != want {
			t.Errorf("decode(encode(%q)) differs", in)
		}
	}
	got := runLua(t, Options{}, `
  local v, err = robot.url.decode("100%")
  return tostring(v) .. " " .. err`)
	if got != `nil robot.url.decode: invalid URL escape "%"` {
		t.Errorf("decode error: %s", got)
	}

	// query: keys sorted, values escaped as url.Values.Encode, lists
	// repeated, numbers as integers where they are.
	got = runLua(t, Options{}, `return robot.url.query{b = 2, a = "x y", c = {"1", 2, true}, ["中"] = "文", n = 1.5}`)
	want := url.Values{"b": {"2"}, "a": {"x y"}, "c": {"1", "2", "true"}, "中": {"文"}, "n": {"1.5"}}.Encode()
	if got != want || !strings.HasPrefix(got, "a=x+y&b=2&c=1&c=2&c=true&n=1.5&") {
		t.Errorf("query = %s, want %s", got, want)
	}
	// (A handler returning "" answers nothing, so the result is framed.)
	if got := runLua(t, Options{}, `return "[" .. robot.url.query{} .. "]"`); got != "[]" {
		t.Errorf("empty query = %q", got)
	}
	for chunk, want := range map[string]string{
		`robot.url.query{a = print}`:  "query.a: a function cannot be a query value",
		`robot.url.query{[1] = "x"}`:  "query keys must be strings, got number",
		`robot.url.query("a=1")`:      "bad argument #1",
		`robot.url.encode({})`:        "bad argument #1",
		`robot.url.query{a = {{{}}}}`: "", // nested lists flatten
	} {
		got := runLua(t, Options{}, chunk+` return "ok"`)
		if want == "" && got != "ok" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: %s, want %q", chunk, got, want)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUID(t *testing.T) {
	got := runLua(t, Options{}, `
  local seen, out = {}, {}
  for i = 1, 1000 do
    local u = robot.uuid()
    assert(not seen[u], "repeated uuid " .. u)
    seen[u] = true
    out[#out+1] = u
  end
  return table.concat(out, " ")`)
	uuids := strings.Fields(got)
	if len(uuids) != 1000 {
		t.Fatalf("robot.uuid: %s", got)
	}
	for _, u := range uuids {
		if !uuidRE.MatchString(u) {
			t.Fatalf("%q is not a lower-case version 4 UUID", u)
		}
	}
}

func TestSleep(t *testing.T) {
	got := runLua(t, Options{}, `
  local t0 = os.clock()
  robot.sleep(0.05)
  robot.sleep(0)
  return "slept"`)
	if got != "slept" {
		t.Errorf("sleep: %s", got)
	}
	for chunk, want := range map[string]string{
		`robot.sleep(-1)`:    "bad argument #1 to sleep (a number of seconds, 0 or more)",
		`robot.sleep(0/0)`:   "a number of seconds, 0 or more",
		`robot.sleep("x")`:   "bad argument #1",
		`robot.sleep()`:      "bad argument #1",
		`robot.sleep("0.1")`: "", // Lua's number coercion
	} {
		got := runLua(t, Options{}, chunk+` return "ok"`)
		if want == "" && got != "ok" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: %s, want %q", chunk, got, want)
		}
	}

	// Not while the scripts load: the top level runs in every state.
	_, err := New(Options{Dir: writeScripts(t, map[string]string{"a.lua": "robot.sleep(1)"}), Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "a.lua:1: robot.sleep: call it from a handler or robot.on_load, not while the scripts load") {
		t.Errorf("top-level sleep: %v", err)
	}
}

// A handler in robot.sleep does not hold one of the pool_size slots that
// run Lua: with a pool of 1 and ten handlers asleep, plain messages are
// answered, and the sleepers wake (here: their callers give up) without
// having run Lua meanwhile.
func TestSleepFreesPoolSlot(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.filter("sleep", function() robot.sleep(3600) return "woke" end)
robot.text(function(msg) return "plain " .. msg.content end)`}, Options{PoolSize: 1, HandlerTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	const sleepers = 10
	woke := make(chan error, sleepers)
	for i := 0; i < sleepers; i++ {
		go func() {
			_, _, err := rt.Dispatch(ctx, textMsg("sleep"), nil)
			woke <- err
		}()
	}
	eventually(t, "10 handlers asleep", func() bool { return rt.States().Waiting == sleepers })
	for i := 0; i < 5; i++ {
		if got := answer(t, rt, fmt.Sprint(i)); got != fmt.Sprint("plain ", i) {
			t.Fatalf("a plain message while 10 handlers sleep: %q", got)
		}
		if s := rt.States(); s.Running > 1 || s.Waiting != sleepers {
			t.Fatalf("States() = %+v, want at most 1 running and %d waiting", s, sleepers)
		}
	}
	cancel()
	for i := 0; i < sleepers; i++ {
		select {
		case err := <-woke:
			if err == nil {
				t.Error("a sleeper whose caller gave up answered")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the sleepers did not end when their callers gave up")
		}
	}
}

// A sleep longer than the handler may run ends at the handler's deadline,
// with the handler's timeout error.
func TestSleepBoundedByDeadline(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"a.lua": `robot.text(function() robot.sleep(3600) return "woke" end)`},
		Options{HandlerTimeout: 300 * time.Millisecond})
	start := time.Now()
	_, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("sleep past the deadline: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the call took %s", d)
	}
}

func TestSettings(t *testing.T) {
	opts := Options{
		Config: map[string]any{"app_id": "wx1"},
		Settings: map[string]any{
			"api_key":  "sk-secret",
			"base_url": "https://llm.example/v1",
			"retries":  int64(3),
			"nested":   map[string]any{"list": []any{"a", "b"}, "on": true},
			"servers":  []map[string]any{{"name": "one"}, {"name": "two"}}, // a TOML array of tables
		},
	}
	got := runLua(t, opts, `
  local s = robot.settings
  assert(s.api_key == "sk-secret" and s.base_url == "https://llm.example/v1" and s.retries == 3)
  assert(s.nested.list[2] == "b" and s.nested.on == true and #s.nested.list == 2)
  assert(s.servers[2].name == "two")
  assert(robot.config.api_key == nil and robot.config.settings == nil and robot.config.app_id == "wx1")
  local n = 0
  for k in pairs(s) do n = n + 1 end
  assert(n == 5, n)
  local ok, err = pcall(function() s.api_key = "x" end)
  assert(not ok and tostring(err):find("robot.settings"), tostring(err))
  ok, err = pcall(function() s.nested.on = false end)
  assert(not ok)
  return "ok"`)
	if got != "ok" {
		t.Errorf("settings: %s", got)
	}
	// No settings: an empty table, not nil, so robot.settings.x reads nil.
	if got := runLua(t, Options{}, `return tostring(robot.settings.api_key)`); got != "nil" {
		t.Errorf("no settings: %s", got)
	}
}
