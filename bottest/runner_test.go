package bottest_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/bottest"
)

// run runs the tests of dir and returns the result and the report.
func run(t *testing.T, opts bottest.Options) (bottest.Result, string) {
	t.Helper()
	var out bytes.Buffer
	opts.Out = &out
	res, err := bottest.Run(context.Background(), opts)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	return res, out.String()
}

// reportLines are the lines of a report that are not indented: one per
// test, and the summary.
func reportLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l != "" && !strings.HasPrefix(l, " ") {
			lines = append(lines, l)
		}
	}
	return lines
}

func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Every feature of the harness, checked from Lua: the folder's tests all
// pass (they fail when a feature does not work as they expect).
func TestFeatures(t *testing.T) {
	res, out := run(t, bottest.Options{Dir: "testdata/features"})
	if res.Failed != 0 || res.Passed != 22 {
		t.Fatalf("got %+v, want 22 passed, 0 failed:\n%s", res, out)
	}
	lines := reportLines(out)
	if last := lines[len(lines)-1]; last != "22 passed, 0 failed" {
		t.Errorf("last line %q", last)
	}
	// Files run in name order, tests in the order they are declared.
	if lines[0] != "ok session_ttl moves with the clock" || lines[3] != "ok text and a chain of checks" {
		t.Errorf("order:\n%s", out)
	}
	// A passing test shows nothing under its line without -v.
	if strings.Contains(out, "printed by the bot") {
		t.Errorf("a passing test's log shown without -v:\n%s", out)
	}
}

// The failures: each test names its file and line, what was expected and
// what came, as go test does; one failure does not stop the others.
func TestFailures(t *testing.T) {
	res, out := run(t, bottest.Options{Dir: "testdata/failing"})
	if res.Passed != 1 || res.Failed != 18 {
		t.Fatalf("got %+v, want 1 passed, 18 failed:\n%s", res, out)
	}
	want := []string{
		`ok passes`,
		`FAIL expect: failing_test.lua:9: got text "你好！", want text "Hello"`,
		`FAIL expect on another type: failing_test.lua:13: got music title="歌" url="http://m/1.mp3" hq_url="http://m/1.mp3", want text "歌"`,
		`FAIL expect_contains: failing_test.lua:17: got text "你好！", want a text containing "再见"`,
		`FAIL expect_match: failing_test.lua:21: got text "你好！", want a text matching "^Hello"`,
		`FAIL expect a table: failing_test.lua:25: reply.title: got "歌", want "另一首" (the reply: music title="歌" url="http://m/1.mp3" hq_url="http://m/1.mp3")`,
		`FAIL expect_none: failing_test.lua:29: got text "你好！", want no reply (success)`,
		`FAIL eq: failing_test.lua:33: got {a = 1, b = {"x"}}, want {a = 1, b = {"y"}}`,
		`FAIL ok: failing_test.lua:37: the value is missing`,
		`FAIL fail: failing_test.lua:41: not written yet`,
		`FAIL expect_called: failing_test.lua:46: no call to user/info with {openid = "x"} (calls made: none)`,
		`FAIL a Lua error in the test: failing_test.lua:51: attempt to index`,
		`FAIL the first failure is the one reported: failing_test.lua:55: first`,
		`FAIL an error in a t.api:on function: failing_test.lua:61: the t.api:on("user/info") function: failing_test.lua:62: the fake broke`,
		`FAIL a bad argument: failing_test.lua:68: bad argument #1 to location (number expected, got string)`,
		`FAIL a message type that does not exist: failing_test.lua:72: unknown message type "telegram"`,
		`FAIL expect an empty list: failing_test.lua:76: reply.sent: got {{content = "一条", type = "text"}}, want {} (the reply: text "好")`,
		`FAIL an error of two lines: failing_test.lua:80: line one`,
		`FAIL a check in a helper: failing_test.lua:84: got text "你好！", want text "Hello" (called from failing_test.lua:90)`,
		`1 passed, 18 failed`,
	}
	got := reportLines(out)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
	// A failing test shows its deliveries and the bot's log under it; a
	// failure of several lines goes on indented.
	for _, s := range []string{
		"line one\n    line two\n",
		"    oTestUser1: text \"你好\" → text \"你好！\"",
		`bot.lua:6: attempt to index`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("the report lacks %q:\n%s", s, out)
		}
	}
}

func TestRunPattern(t *testing.T) {
	res, out := run(t, bottest.Options{Dir: "testdata/failing", Run: "^expect_(contains|none)$"})
	if res.Passed != 0 || res.Failed != 2 {
		t.Fatalf("got %+v:\n%s", res, out)
	}
	lines := reportLines(out)
	if !strings.HasPrefix(lines[0], "FAIL expect_contains:") || !strings.HasPrefix(lines[1], "FAIL expect_none:") || lines[2] != "0 passed, 2 failed" {
		t.Errorf("report:\n%s", out)
	}
	if _, err := bottest.Run(context.Background(), bottest.Options{Dir: "testdata/failing", Run: "(", Out: &bytes.Buffer{}}); err == nil {
		t.Error("a bad --run pattern was accepted")
	}
}

func TestVerbose(t *testing.T) {
	_, out := run(t, bottest.Options{Dir: "testdata/features", Run: "^(logs|robot.send and robot.async land in sent)$", Verbose: true})
	for _, s := range []string{
		"ok robot.send and robot.async land in sent\n",
		`    oTestUser1: text "推送" → text "已推送"` + "\n" + `      sent: text "推送一"` + "\n" + `      sent: image media_id="IMG"`,
		"ok logs\n",
		"    bot.lua:129: printed by the bot\n",
		"    WARN bot.lua:130: a warning n=1\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("-v output lacks %q:\n%s", s, out)
		}
	}
}

// A scripts folder that does not load fails the run once, naming the file
// and line; no test runs.
func TestScriptsThatDoNotLoad(t *testing.T) {
	dir := writeFolder(t, map[string]string{
		"bot.lua":      "robot.text(function() return 'x' end)\nrobot.filter(\n",
		"bot_test.lua": `test("never runs", function(t) end)`,
	})
	res, out := run(t, bottest.Options{Dir: dir})
	if res.Failed != 1 || res.Passed != 0 {
		t.Fatalf("got %+v:\n%s", res, out)
	}
	if !regexp.MustCompile(`(?m)^FAIL .*: bot\.lua:\d+: `).MatchString(out) || strings.Contains(out, "never runs") {
		t.Errorf("report:\n%s", out)
	}
}

// A test file that does not load is one failure; the other files run.
func TestTestFileThatDoesNotLoad(t *testing.T) {
	dir := writeFolder(t, map[string]string{
		"bot.lua":        "robot.text(function(m) return m.content end)",
		"a_test.lua":     "test('broken', function(t)\n  t:user():send('x')\n",
		"b_test.lua":     "test('echo', function(t) t:user():send('x'):expect('x') end)",
		"c_test.lua":     "test.config{token = 'x'}",
		"d_test.lua":     "test('inner', function(t) test('nested', function() end) end)",
		"e_test.lua":     "test('sandboxed', function(t) t:ok(io == nil and load == nil and os.execute == nil and dofile == nil) end)",
		"f_test.lua":     "test('globals are frozen', function(t) leaked = 1 end)",
		"g_test.lua":     "test.config{reply_timeout = 'abc'}\ntest('never runs', function(t) end)",
		"lib/x_test.lua": "error('a test file under lib/ is not a test file')",
	})
	res, out := run(t, bottest.Options{Dir: dir})
	lines := reportLines(out)
	want := []string{
		"FAIL a_test.lua: a_test.lua:",
		"ok echo",
		`FAIL c_test.lua: c_test.lua:1: test.config: "token" cannot be set by a test`,
		`FAIL inner: d_test.lua:1: test("nested", ...) is called at the top level of a test file, not in a test`,
		"ok sandboxed",
		`FAIL globals are frozen: f_test.lua:1: cannot set global "leaked"`,
		`FAIL g_test.lua: g_test.lua:1: test.config: reply_timeout: "abc" is not a duration`,
		"2 passed, 5 failed",
	}
	if res.Passed != 2 || res.Failed != 5 || len(lines) != len(want) {
		t.Fatalf("got %+v:\n%s", res, out)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, lines[i], want[i])
		}
	}
}

func TestNoTestFiles(t *testing.T) {
	dir := writeFolder(t, map[string]string{"bot.lua": "robot.text(function() return 'x' end)"})
	res, out := run(t, bottest.Options{Dir: dir})
	if res != (bottest.Result{}) || !strings.Contains(out, "no test files") {
		t.Errorf("got %+v:\n%s", res, out)
	}
	// A script that does not load fails the run, tests or no tests.
	dir = writeFolder(t, map[string]string{"bot.lua": "robot.text(function() return 'x' end\n"})
	res, out = run(t, bottest.Options{Dir: dir})
	if res.Failed != 1 || !regexp.MustCompile(`(?m)^FAIL .*: bot\.lua:\d+: `).MatchString(out) || !strings.HasSuffix(out, "0 passed, 1 failed\n") {
		t.Errorf("a broken script without tests: got %+v:\n%s", res, out)
	}
}

// No test reaches the network: robot.http with no fake is nil, err, even
// for a server that is up on this machine; a fake answers a request whose
// Host header names another site without a DNS query; and robot.client
// only ever talks to the fake WeChat API.
func TestNoNetwork(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("reached"))
	}))
	defer srv.Close()
	dir := writeFolder(t, map[string]string{
		"bot.lua": `robot.filter("host", function(m)
  local res, err = robot.http.get("https://api.luarobot.invalid/x", {headers = {Host = "other.example"}})
  return res and res.body or err.errmsg
end)
robot.text(function(m)
  local res, err = robot.http.get(m.content)
  return res and res.body or err.errmsg
end)`,
		"bot_test.lua": `test("unmatched", function(t)
  t:user():send("` + srv.URL + `/x"):expect_contains("no t.http:on fake matches")
end)
test("a Host header naming another site is not looked up", function(t)
  t.http:on("https://api.luarobot.invalid/*", "faked")
  t:user():send("host"):expect("faked")
end)`,
	})
	res, out := run(t, bottest.Options{Dir: dir})
	if res.Failed != 0 || hits.Load() != 0 {
		t.Fatalf("got %+v, %d requests reached the server:\n%s", res, hits.Load(), out)
	}
}

// A test that never ends is stopped at the timeout, and the next runs.
func TestTimeout(t *testing.T) {
	dir := writeFolder(t, map[string]string{
		"bot.lua": "robot.text(function() return 'x' end)",
		"bot_test.lua": `test("loops", function(t)
  while true do end
end)
test("after", function(t) t:user():send("y"):expect("x") end)`,
	})
	start := time.Now()
	res, out := run(t, bottest.Options{Dir: dir, Timeout: time.Second})
	if res.Passed != 1 || res.Failed != 1 || !strings.Contains(out, "FAIL loops: bot_test.lua:2: stopped: the test ran longer than 1s") {
		t.Fatalf("got %+v:\n%s", res, out)
	}
	if time.Since(start) > time.Minute {
		t.Errorf("took %s", time.Since(start))
	}
}

// robot.on_load's robot.http requests are answered by the fakes the test
// set before the bot was built, and t.http:calls() lists them even before
// the first message, as t.api:calls() does its API calls.
func TestOnLoadHTTP(t *testing.T) {
	dir := writeFolder(t, map[string]string{
		"bot.lua": `robot.on_load(function()
  local res, err = robot.http.get("https://config.example.com/cfg")
  robot.store.set("cfg", res and res.body or "none")
end)
robot.text(function() return robot.store.get("cfg") end)`,
		"bot_test.lua": `test("calls before any message", function(t)
  t.http:on("https://config.example.com/*", "CFG")
  t:eq(#t.http:calls(), 1)
  t:eq(t.http:calls()[1].url, "https://config.example.com/cfg")
  t:user():send("x"):expect("CFG")
end)`,
	})
	if res, out := run(t, bottest.Options{Dir: dir}); res.Failed != 0 || res.Passed != 1 {
		t.Fatalf("got %+v:\n%s", res, out)
	}
}

// A test never writes into the real media folder: uploads read the real
// files, but a download lands in a folder of the test's own (where a later
// upload of the same test finds it). The bot's pictures on the server
// are not replaced by the fake API's answers, and one test's downloads
// are not the next one's files.
func TestMediaDownloadsStayInTheTest(t *testing.T) {
	work := t.TempDir()
	t.Chdir(work)
	if err := os.MkdirAll("media", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("media", "logo.jpg"), []byte("the real logo"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := writeFolder(t, map[string]string{
		"bot.lua": `robot.filter("下载", function()
  local r, err = robot.client.download_media("MEDIA", "logo.jpg")
  return r and "saved" or err.errmsg
end)
robot.filter("新图", function()
  local r, err = robot.client.download_media("MEDIA", "new.jpg")
  return r and "saved" or err.errmsg
end)
robot.text(function(m)
  local r, err = robot.client.upload_media("image", m.content)
  return r and "uploaded" or err.errmsg
end)`,
		"bot_test.lua": `test("an upload reads the real file", function(t)
  t:user():send("logo.jpg"):expect("uploaded")
  t:eq(t.api:calls("media/upload")[1].method, "POST")
end)
test("a download, then an upload of it", function(t)
  local u = t:user()
  u:send("下载"):expect("saved")
  u:send("新图"):expect("saved")
  u:send("new.jpg"):expect("uploaded")
end)
test("the next test does not see it", function(t)
  t:user():send("new.jpg"):expect_contains("no such file")
end)`,
	})
	res, out := run(t, bottest.Options{Dir: dir})
	if res.Failed != 0 || res.Passed != 3 {
		t.Errorf("got %+v:\n%s", res, out)
	}
	if data, err := os.ReadFile(filepath.Join(work, "media", "logo.jpg")); err != nil || string(data) != "the real logo" {
		t.Errorf("the real media/logo.jpg is now %q (%v)", data, err)
	}
	if _, err := os.Stat(filepath.Join(work, "media", "new.jpg")); err == nil {
		t.Error("a test's download landed in the real media folder")
	}
}
