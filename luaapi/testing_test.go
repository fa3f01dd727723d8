package luaapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/reply"
)

// The pieces luarobot test builds on: the runtime's clock, test files that
// are never scripts, robot.http through a given transport, Wait, and the
// Sandbox test files run in.

// os.time and os.date read Options.Now.
func TestOSTimeFollowsTheClock(t *testing.T) {
	var now atomic.Int64
	now.Store(1_700_000_000)
	rt, _ := startRuntime(t, map[string]string{"t.lua": `robot.text(function()
  return os.time() .. " " .. os.date("!%Y-%m-%d %H:%M") .. " " .. os.date("!%H:%M", 0) .. " " .. os.time{year = 2000, month = 1, day = 1, hour = 0}
end)`}, Options{Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	if got := answer(t, rt, "x"); !strings.HasPrefix(got, "1700000000 2023-11-14 22:13 00:00 ") {
		t.Errorf("got %q", got)
	}
	now.Add(3600)
	if got := answer(t, rt, "x"); !strings.HasPrefix(got, "1700003600 2023-11-14 23:13 ") {
		t.Errorf("an hour later: %q", got)
	}
}

// *_test.lua files are the tests of luarobot test: not scripts, not
// modules, not in check's report.
func TestTestFilesAreNotScripts(t *testing.T) {
	files := map[string]string{
		"bot.lua":           `robot.text(function() return "bot" end)`,
		"bot_test.lua":      `error("a test file was loaded as a script")`,
		"lib/util_test.lua": `error("a test file was loaded as a module")`,
		"lib/util.lua":      `return {}`,
	}
	rt, _ := startRuntime(t, files, Options{})
	if got := answer(t, rt, "x"); got != "bot" {
		t.Fatalf("got %q", got)
	}
	rep, err := Check(writeScripts(t, files))
	if err != nil || !rep.OK() {
		t.Fatalf("check: %v %v", err, rep.Errors)
	}
	if s := rep.String(); strings.Contains(s, "_test") {
		t.Errorf("check lists a test file:\n%s", s)
	}
	if len(rep.Modules) != 1 || rep.Modules[0] != "util" {
		t.Errorf("modules: %v", rep.Modules)
	}
}

// Hot reload ignores test files too: a broken *_test.lua saved beside a
// running bot (the author writing a test) does not stop the next save of
// a script from going live, and no reload names it.
func TestHotReloadIgnoresTestFiles(t *testing.T) {
	dir := writeScripts(t, map[string]string{"a.lua": `robot.text(function() return "v1" end)`, "lib/util.lua": "return {}"})
	rt, logs := startRuntime(t, nil, Options{Dir: dir})
	watch(t, rt, logs)
	saveInPlace(t, filepath.Join(dir, "a_test.lua"), `error("a test file was loaded by hot reload")`)
	saveInPlace(t, filepath.Join(dir, "lib", "util_test.lua"), `error("a test module was loaded by hot reload")`)
	saveInPlace(t, filepath.Join(dir, "a.lua"), `robot.text(function() return "v2" end)`)
	eventually(t, "the script saved after the test files", func() bool { return answer(t, rt, "x") == "v2" })
	if strings.Contains(logs.String(), "_test.lua") {
		t.Errorf("a reload read a test file:\n%s", logs)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// With HTTPTransport, robot.http's requests go to it, whatever http_allow
// says (nothing is dialled), and the body cap still holds.
func TestHTTPTransport(t *testing.T) {
	var seen atomic.Value
	tr := roundTripper(func(r *http.Request) (*http.Response, error) {
		seen.Store(r.Method + " " + r.URL.String())
		body := "fake answer"
		if r.URL.Path == "/big" {
			body = strings.Repeat("x", 2048)
		}
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}},
			Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	})
	rt, _ := startRuntime(t, map[string]string{"t.lua": `robot.text(function(m)
  local res, err = robot.http.get(m.content)
  return res and res.body or err.errmsg
end)`}, Options{HTTPTransport: tr, HTTPAllow: []string{"api.example.com"}, HTTPMaxBody: 1024})
	if got := answer(t, rt, "http://127.0.0.1/x?a=1"); got != "fake answer" || seen.Load() != "GET http://127.0.0.1/x?a=1" {
		t.Errorf("got %q, the transport saw %v", got, seen.Load())
	}
	if got := answer(t, rt, "http://127.0.0.1/big"); !strings.Contains(got, "http_max_body") {
		t.Errorf("a body over the cap: %q", got)
	}
	if got := answer(t, rt, "file:///etc/passwd"); !strings.Contains(got, "only http and https") {
		t.Errorf("a file URL: %q", got)
	}
}

// Wait returns once the robot.async work of a call has run.
func TestRuntimeWait(t *testing.T) {
	release := make(chan struct{})
	var sent atomic.Int32
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		<-release
		sent.Add(1)
		return nil
	}
	rt, _ := startRuntime(t, map[string]string{"t.lua": `robot.text(function(m)
  robot.async(function() robot.send(m.source, "later") end)
  return "now"
end)`}, Options{Send: send})
	if got := answer(t, rt, "x"); got != "now" {
		t.Fatal(got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := rt.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait returned %v with robot.async work blocked", err)
	}
	close(release)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Wait(ctx); err != nil || sent.Load() != 1 {
		t.Fatalf("Wait: %v, %d sent", err, sent.Load())
	}
}

// runSandbox runs src as a test file in a Sandbox of dir and returns the
// error.
func runSandbox(t *testing.T, dir, src string) error {
	t.Helper()
	sb, err := NewSandbox(SandboxOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return sb.Run(ctx, "x_test.lua", []byte(src))
}

// A test file has the scripts' sandbox: no io, no os beyond the clock, no
// way to load code or files, read-only libraries and robot, nothing
// outside the scripts folder; and its globals are frozen once it ran.
func TestSandboxIsClosed(t *testing.T) {
	dir := writeScripts(t, map[string]string{"bot.lua": "", "lib/m.lua": "return {x = 1}"})
	for _, chunk := range []string{
		"string.rep = nil", "robot.re = nil", "getmetatable('').__index = {}", "os.time = nil",
		"require('../bot')", "require('/etc/passwd')", "rawset(string, 'x', 1)", "setmetatable(robot, {})",
	} {
		if err := runSandbox(t, dir, chunk); err == nil {
			t.Errorf("%s: succeeded", chunk)
		}
	}
	if err := runSandbox(t, dir, `
assert(io == nil and load == nil and loadstring == nil and dofile == nil and loadfile == nil and debug == nil and package == nil)
assert(os.execute == nil and os.getenv == nil and os.remove == nil and os.exit == nil)
assert(type(os.time()) == "number" and type(os.clock()) == "number")
assert(robot.re("a+"):search("baa")[0] == "aa" and robot.json.encode({1}) == "[1]")
assert(require("m").x == 1)
`); err != nil {
		t.Fatal(err)
	}
	if err := runSandbox(t, dir, "local x = robot.client"); err == nil || !strings.Contains(err.Error(), "robot.client does not exist") {
		t.Errorf("robot.client in a test file: %v", err)
	}
}

func TestSandboxFreezesGlobals(t *testing.T) {
	dir := writeScripts(t, map[string]string{"bot.lua": ""})
	sb, err := NewSandbox(SandboxOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	ctx := context.Background()
	if err := sb.Run(ctx, "a_test.lua", []byte("top = 1\nfunction later() leaked = true end")); err != nil {
		t.Fatal(err)
	}
	fn := sb.State().GetGlobal("later").(*lua.LFunction)
	_, err = sb.Call(ctx, fn)
	var le *Error
	if !errors.As(err, &le) || le.File != "a_test.lua" || le.Line != 2 || !strings.Contains(le.Message, `cannot set global "leaked"`) {
		t.Errorf("got %v", err)
	}
}
