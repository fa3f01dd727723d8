package luaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/reply"
)

// runLua runs chunk as a text handler and returns its answer or error text.
func runLua(t *testing.T, opts Options, chunk string) string {
	t.Helper()
	rt, _ := startRuntime(t, map[string]string{"t.lua": "robot.text(function(msg, session)\n" + chunk + "\nend)"}, opts)
	return answer(t, rt, "x")
}

func TestStore(t *testing.T) {
	values := newMemValues()
	opts := Options{Values: values}
	got := runLua(t, opts, `
  local s = robot.store
  assert(s.get("missing") == nil)
  s.set("greeting", "你好")
  s.set("profile", {name = "x", tags = {"a", "b"}, n = 2^53, bin = "\255"})
  s.set("soon", "gone", 0.001)
  assert(s.get("greeting") == "你好")
  local p = s.get("profile")
  assert(p.name == "x" and p.tags[2] == "b" and p.n == 2^53 and p.bin == "\255")
  assert(s.incr("hits") == 1 and s.incr("hits", 41) == 42 and s.get("hits") == 42)
  s.set("n", 10)
  assert(s.incr("n", -3) == 7)
  s.delete("greeting")
  assert(s.get("greeting") == nil)
  s.set("profile", nil)
  assert(s.get("profile") == nil)
  local ok, err = pcall(s.incr, "soon")
  return "ok"`)
	if got != "ok" {
		t.Fatalf("store: %s", got)
	}
	if v, _ := values.Get(context.Background(), "hits"); string(v) != "42" {
		t.Errorf("hits stored as %q", v)
	}
	// Errors: no store, bad arguments.
	tests := map[string]string{
		`robot.store.get("k")`:         `robot.store.get: the runtime has no store`,
		`robot.store.set("", 1)`:       `bad argument #1`,
		`robot.store.set("k", print)`:  `robot.store.set("k"): value: a function cannot be written as JSON`,
		`robot.store.set("k", 1, -5)`:  `ttl is a number of seconds greater than 0`,
		`robot.store.incr("k", 1.5)`:   `incr adds an integer`,
		`robot.store.incr("greeting")`: `robot.store.incr("greeting"): value is not an integer`,
	}
	for chunk, want := range tests {
		o := Options{Values: values}
		if strings.Contains(want, "no store") {
			o = Options{}
		}
		values.Set(context.Background(), "greeting", []byte(`"hi"`), 0)
		if got := runLua(t, o, chunk); !strings.Contains(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", chunk, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	got := runLua(t, Options{}, `
  local j = robot.json
  assert(j.encode({b = 1, a = {true, false}, url = "http://x/?a=1&b=<2>"}) == '{"a":[true,false],"b":1,"url":"http://x/?a=1&b=<2>"}')
  assert(j.encode("中文") == '"中文"')
  local v = j.decode('{"a": [1, 2.5, null, "x"], "n": null}')
  assert(v.a[1] == 1 and v.a[2] == 2.5 and v.a[4] == "x" and v.n == nil)
  local bad, err = j.decode("{oops")
  assert(bad == nil and err:find("json"), tostring(err))
  local ok, e = pcall(j.encode, {f = print})
  assert(not ok and e:find("a function cannot be written as JSON"), e)
  return "ok"`)
	if got != "ok" {
		t.Errorf("json: %s", got)
	}
}

func TestGenerateToken(t *testing.T) {
	got := runLua(t, Options{}, `
  local t1, t2 = robot.generate_token(), robot.generate_token()
  local t3 = robot.generate_token(3)
  assert(not pcall(robot.generate_token, 2) and not pcall(robot.generate_token, 33))
  return t1 .. " " .. t2 .. " " .. t3`)
	parts := strings.Fields(got)
	re := regexp.MustCompile(`^[A-Za-z0-9]+$`)
	if len(parts) != 3 || len(parts[0]) != 32 || len(parts[2]) != 3 || parts[0] == parts[1] || !re.MatchString(parts[0]+parts[2]) {
		t.Errorf("tokens: %q", got)
	}
}

func TestLogAndConfig(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"l.lua": `
robot.text(function(msg)
  robot.log.debug("d")
  robot.log.info("menu created", 3, {buttons = 3, name = "main"})
  robot.log.warn("careful")
  robot.log.error("bad", nil)
  local c = robot.config
  assert(c.port == 8888 and c.host == "127.0.0.1" and c.nested.list[2] == "b" and c.reply_timeout == "4s")
  assert(c.token == nil and c.app_secret == nil and c.api_proxy == nil)
  assert(not pcall(function() c.port = 1 end))
  assert(not pcall(function() c.nested.x = 1 end))
  local n = 0
  for k, v in pairs(c) do n = n + 1 end
  local items = {}
  for i, v in ipairs(c.nested.list) do items[#items + 1] = v end
  assert(#c.nested.list == 2 and table.concat(items) == "ab")
  return tostring(n)
end)`}, Options{Config: map[string]any{
		"host": "127.0.0.1", "port": 8888, "reply_timeout": 4 * time.Second, "app_secret": "s3cret",
		"api_proxy": "http://user:pass@proxy:3128",
		"nested":    map[string]any{"list": []any{"a", "b"}},
	}})
	if got := answer(t, rt, "x"); got != "4" {
		t.Errorf("config: %s", got)
	}
	l := logs.String()
	for _, want := range []string{
		`level=DEBUG msg=d script=l.lua:3`,
		`level=INFO msg="menu created 3" script=l.lua:4 buttons=3 name=main`,
		`level=WARN msg=careful script=l.lua:5`,
		`level=ERROR msg="bad nil" script=l.lua:6`,
	} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	if got := runLua(t, Options{}, `return tostring(next(robot.config) == nil and robot.config.x == nil)`); got != "true" {
		t.Errorf("empty config: %s", got)
	}
}

type sent struct {
	openid string
	r      reply.Reply
}

type sendRecorder struct {
	mu   sync.Mutex
	sent []sent
	err  error
}

func (s *sendRecorder) send(ctx context.Context, openid string, r reply.Reply) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.sent = append(s.sent, sent{openid, r})
	return nil
}

func (s *sendRecorder) all() []sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sent(nil), s.sent...)
}

func TestSend(t *testing.T) {
	rec := &sendRecorder{}
	got := runLua(t, Options{Send: rec.send}, `
  assert(robot.send(msg.source, "one") == true)
  robot.send(msg.source, robot.reply.image("MEDIA"))
  robot.send("other", {"t", "d", "http://m"})
  assert(not pcall(robot.send, msg.source, nil))
  local ok, err = pcall(robot.send, msg.source, 42)
  assert(not ok and err:find("robot.send: a number %(42%), which is not a reply"), err)
  return "ok"`)
	if got != "ok" {
		t.Fatal(got)
	}
	s := rec.all()
	if len(s) != 3 || textOf(s[0].r) != "one" || s[0].openid != "user-openid" || s[1].r.Kind() != "image" || s[2].openid != "other" || s[2].r.Kind() != "music" {
		t.Errorf("sent %+v", s)
	}
	rec.err = errors.New("45015: response out of time limit")
	if got := runLua(t, Options{Send: rec.send}, `local ok, err = robot.send(msg.source, "x") return tostring(ok) .. " " .. err.errmsg`); got != "nil 45015: response out of time limit" {
		t.Errorf("failed send: %s", got)
	}
	if got := runLua(t, Options{}, `local ok, err = robot.send(msg.source, "x") return tostring(ok) .. " " .. err.errmsg`); got != "nil robot.send: sending needs app_id and app_secret in the configuration" {
		t.Errorf("no Send: %s", got)
	}
	// A WeChat refusal reaches the script with its errcode, as robot.client's do.
	rec.err = fmt.Errorf("send: %w", &client.APIError{Code: 45015, Msg: "response out of time limit", Method: "send_text_message"})
	if got := runLua(t, Options{Send: rec.send}, `local ok, err = robot.send(msg.source, "x") return err.errcode .. " " .. err.errmsg .. " " .. tostring(err.hint ~= nil)`); got != "45015 response out of time limit true" {
		t.Errorf("refused send: %s", got)
	}
}

// robot.async runs after the answer: Dispatch does not wait for it.
func TestAsync(t *testing.T) {
	release := make(chan struct{})
	rec := &sendRecorder{}
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		if textOf(r) == "slow" {
			<-release
		}
		return rec.send(ctx, openid, r)
	}
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.text(function(msg)
  if msg.content == "fail" then
    robot.async(function() robot.send(msg.source, "never") end)
    error("handler failed")
  end
  if msg.content == "async error" then
    robot.async(function()
      local t = nil
      return t.x
    end)
    return "answered"
  end
  robot.async(function()
    robot.send(msg.source, "slow")
    robot.async(function() robot.send(msg.source, "nested") end)
  end)
  return "first"
end)`}, Options{Send: send, PoolSize: 2})
	start := time.Now()
	if got := answer(t, rt, "go"); got != "first" {
		t.Fatalf("answer: %q", got)
	}
	if len(rec.all()) != 0 {
		t.Fatal("async work ran before the answer")
	}
	close(release)
	eventually(t, "the async sends", func() bool { return len(rec.all()) == 2 })
	if s := rec.all(); textOf(s[0].r) != "slow" || textOf(s[1].r) != "nested" {
		t.Errorf("sent %v", s)
	}
	_ = start

	if !strings.HasPrefix(answer(t, rt, "fail"), "error: a.lua:5: handler failed") {
		t.Error("fail did not fail")
	}
	if got := answer(t, rt, "async error"); got != "answered" {
		t.Errorf("async error: %q", got)
	}
	eventually(t, "the async error in the log", func() bool {
		return strings.Contains(logs.String(), `msg="robot.async function failed" err="a.lua:10: attempt to index a non-table object(nil) with key 'x'" queued_at=a.lua:8`)
	})
	rt.Close()
	for _, s := range rec.all() {
		if textOf(s.r) == "never" {
			t.Error("a failed handler's async work ran")
		}
	}
	if got := runLua(t, Options{}, `return "x"`); got != "x" {
		t.Error(got)
	}
	// At load time there is no answer to follow.
	dir := writeScripts(t, map[string]string{"a.lua": `robot.async(function() end)`})
	if _, err := New(Options{Dir: dir, Logger: discardLogger()}); err == nil || !strings.Contains(err.Error(), "a.lua:1: robot.async runs work after a handler answers") {
		t.Errorf("async at load: %v", err)
	}
}

// Close waits for robot.async work, and calls after Close fail.
func TestCloseWaitsForAsync(t *testing.T) {
	rec := &sendRecorder{}
	rt, _ := startRuntime(t, map[string]string{"a.lua": `
robot.text(function(msg)
  robot.async(function()
    local t0 = os.clock()
    while os.clock() - t0 < 0.2 do end
    robot.send(msg.source, "late")
  end)
  return "now"
end)`}, Options{Send: rec.send})
	if got := answer(t, rt, "x"); got != "now" {
		t.Fatal(got)
	}
	rt.Close()
	if len(rec.all()) != 1 {
		t.Error("Close did not wait for the async work")
	}
	if _, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := rt.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close: %v", err)
	}
}

func TestClientWithoutConfig(t *testing.T) {
	got := runLua(t, Options{}, `
  local r, err = robot.client.create_menu{button = {}}
  assert(r == nil)
  local r2, err2 = robot.client.send_text_message(msg.source, "hi")
  return err.errmsg .. " | " .. err2.errmsg`)
	want := "robot.client is not configured: set app_id and app_secret | robot.client is not configured: set app_id and app_secret"
	if got != want {
		t.Errorf("got %s", got)
	}
}

func TestRegexMethods(t *testing.T) {
	got := runLua(t, Options{}, `
  local re = robot.re("(\\d+)-(\\d+)")
  local m = re:match("10-20 and 30-40")
  assert(m[0] == "10-20" and m[1] == "10" and m[2] == "20")
  assert(re:match("x 10-20") == nil)
  assert(re:search("x 10-20")[0] == "10-20")
  assert(tostring(re) == 'robot.re("(\\\\d+)-(\\\\d+)")', tostring(re))
  return "ok"`)
	if got != "ok" {
		t.Error(got)
	}
}

// A pattern is compiled as written and never spliced into another: an
// unterminated \Q (which quotes the rest of the pattern) works, and
// matching at the start gives what the pattern anchored with \A gives,
// in filters and in re:match. A pattern that does not compile is an
// error at the line of the call.
func TestRegexAnchoringKeepsThePattern(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"re.lua": `
robot.filter(robot.re("\\Qa.b"), function(msg, session, m) return "quoted " .. m[0] end)
robot.filter(robot.re("b|(a)b"), function(msg, session, m) return "alt " .. m[0] .. " " .. tostring(m[1]) end)
robot.text(function(msg)
  if msg.content ~= "methods" then return "no filter" end
  local q = robot.re("\\Qa.b")
  local ok, err = pcall(robot.re, "(")
  return table.concat({q:match("a.bc")[0], tostring(q:match("axb")), tostring(q:match("xa.b")),
    q:search("xa.b")[0], robot.re("a|ab"):match("ab")[0], tostring(ok), err}, "|")
end)`}, Options{})
	for in, want := range map[string]string{
		"a.b and more": "quoted a.b",
		"xa.b":         "no filter",
		"abc":          "alt ab a",
		"bc":           "alt b nil",
		"cab":          "no filter",
		"methods":      "a.b|nil|nil|a.b|a|false|re.lua:7: robot.re: error parsing regexp: missing closing ): `(`",
	} {
		if got := answer(t, rt, in); got != want {
			t.Errorf("%q:\n got %s\nwant %s", in, got, want)
		}
	}
}

// Requests run in parallel on several states; each state has its own
// globals and handler table, and nothing leaks between them (go test -race).
func TestConcurrentDispatch(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"c.lua": `
local json = robot.json
robot.text(function(msg, session)
  session.seen = (session.seen or 0) + 1
  local t = {}
  for i = 1, 50 do t[i] = msg.content .. i end
  return json.encode({content = msg.content, n = #t, seen = session.seen})
end)`}, Options{PoolSize: 3})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var session []byte
			for i := 1; i <= 50; i++ {
				content := "g" + strconv.Itoa(g)
				r, s, err := rt.Dispatch(context.Background(), textMsg(content), session)
				if err != nil {
					errs <- err
					return
				}
				var got struct {
					Content string
					N, Seen int
				}
				if err := json.Unmarshal([]byte(textOf(r)), &got); err != nil || got.Content != content || got.N != 50 || got.Seen != i {
					errs <- errors.New("bad answer " + textOf(r))
					return
				}
				session = s
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rt.pool.mu.Lock()
	idle := len(rt.pool.idle)
	rt.pool.mu.Unlock()
	if idle > 3 {
		t.Errorf("%d idle states for a pool of 3", idle)
	}
}
