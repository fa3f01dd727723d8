package luaapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// httpUpstream is a local web API the scripts call as http://api.test:PORT
// (a test resolver maps api.test to 127.0.0.1, and HTTPAllow names it).
// It records every request.
type httpUpstream struct {
	srv  *httptest.Server
	base string // http://api.test:PORT

	mu   sync.Mutex
	reqs []recordedRequest
}

type recordedRequest struct {
	method, path, query, host string
	header                    http.Header
	body                      string
}

func newHTTPUpstream(t *testing.T, h http.HandlerFunc) *httpUpstream {
	t.Helper()
	u := &httpUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Clone(), string(body)})
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.srv.Close)
	_, port, _ := net.SplitHostPort(u.srv.Listener.Addr().String())
	u.base = "http://api.test:" + port
	return u
}

func (u *httpUpstream) requests() []recordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recordedRequest(nil), u.reqs...)
}

// testResolver maps the test names: api.test and the names of each
// special address class.
func testResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs := map[string]string{
		"api.test": "127.0.0.1", "loopback.test": "127.0.0.1", "private.test": "10.0.0.1", "private172.test": "172.16.5.4",
		"private192.test": "192.168.0.1", "linklocal.test": "169.254.10.10", "metadata.test": "169.254.169.254",
		"cgnat.test": "100.64.0.1", "zero.test": "0.0.0.0", "v6loopback.test": "::1", "ula.test": "fd00::1",
		"v6linklocal.test": "fe80::1", "mapped.test": "::ffff:10.0.0.1",
	}
	a, ok := addrs[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

func httpOptions() Options {
	return Options{HTTPAllow: []string{"api.test"}, HTTPResolver: testResolver}
}

// withBase puts the upstream's base URL in a chunk as BASE.
func withBase(u *httpUpstream, chunk string) string {
	return strings.ReplaceAll(chunk, "BASE", u.base)
}

// Every option reaches the upstream as it should.
func TestHTTPOptions(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	got := runLua(t, httpOptions(), withBase(up, `
  local function check(res, err) assert(res, err and err.errmsg); assert(res.body == "ok") end
  check(robot.http.get("BASE/get?fixed=1", {query = {city = "北京", n = 2, tags = {"a", "b"}}, headers = {["X-Trace"] = "t1", ["X-N"] = 5}, timeout = "2s"}))
  check(robot.http.post("BASE/json", {json = {model = "m", messages = {{role = "user", content = "hi"}}}, headers = {Authorization = "Bearer k"}}))
  check(robot.http.post("BASE/form", {form = {a = "1 2", b = "&"}, timeout = 2}))
  check(robot.http.post("BASE/raw", {body = "<xml/>", headers = {["Content-Type"] = "text/xml"}}))
  check(robot.http.post("BASE/typed", {json = {}, headers = {["content-type"] = "application/vnd.api+json"}}))
  check(robot.http.request{method = "PUT", url = "BASE/put", body = "raw", query = {v = 1}})
  check(robot.http.request{method = "delete", url = "BASE/delete"})
  check(robot.http.request{url = "BASE/default-get"})
  check(robot.http:get("BASE/colon"))
  check(robot.http.post("BASE/empty"))
  return "ok"`))
	if got != "ok" {
		t.Fatalf("Lua: %s", got)
	}
	reqs := up.requests()
	if len(reqs) != 10 {
		t.Fatalf("%d requests", len(reqs))
	}
	type want struct{ method, path, query, body, contentType string }
	wants := []want{
		{"GET", "/get", "fixed=1&city=%E5%8C%97%E4%BA%AC&n=2&tags=a&tags=b", "", ""},
		{"POST", "/json", "", `{"messages":[{"content":"hi","role":"user"}],"model":"m"}`, "application/json"},
		{"POST", "/form", "", "a=1+2&b=%26", "application/x-www-form-urlencoded"},
		{"POST", "/raw", "", "<xml/>", "text/xml"},
		{"POST", "/typed", "", "{}", "application/vnd.api+json"},
		{"PUT", "/put", "v=1", "raw", ""},
		{"DELETE", "/delete", "", "", ""},
		{"GET", "/default-get", "", "", ""},
		{"GET", "/colon", "", "", ""},
		{"POST", "/empty", "", "", ""},
	}
	for i, w := range wants {
		r := reqs[i]
		if r.method != w.method || r.path != w.path || r.query != w.query || r.body != w.body || r.header.Get("Content-Type") != w.contentType {
			t.Errorf("request %d: %s %s?%s %q %q, want %+v", i, r.method, r.path, r.query, r.body, r.header.Get("Content-Type"), w)
		}
	}
	if h := reqs[0].header; h.Get("X-Trace") != "t1" || h.Get("X-N") != "5" || h.Get("User-Agent") != "LuaRoBot" {
		t.Errorf("headers: %v", h)
	}
	if reqs[1].header.Get("Authorization") != "Bearer k" {
		t.Errorf("Authorization: %v", reqs[1].header)
	}
}

// Every field of the result: status (a non-2xx one too), lower-case
// headers, body, json when the response declares JSON.
func TestHTTPResult(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("X-Request-Id", "r1")
			w.Header().Add("Vary", "A")
			w.Header().Add("Vary", "B")
			fmt.Fprint(w, `{"weather": "晴", "temp": 25.5, "list": [1, 2], "none": null}`)
		case "/problem":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"title": "no such city"}`)
		case "/broken":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, `<html>upstream down</html>`)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, `{"looks": "like json"}`)
		case "/empty":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNoContent)
		}
	})
	got := runLua(t, httpOptions(), withBase(up, `
  local res = assert(robot.http.get("BASE/json"))
  assert(res.status == 200, res.status)
  assert(res.headers["content-type"] == "application/json; charset=utf-8")
  assert(res.headers["x-request-id"] == "r1" and res.headers["X-Request-Id"] == nil)
  assert(res.headers["vary"] == "A, B", res.headers["vary"])
  assert(res.json.weather == "晴" and res.json.temp == 25.5 and res.json.list[2] == 2 and res.json.none == nil)
  assert(res.body:find('"temp": 25.5', 1, true))

  res = assert(robot.http.get("BASE/problem"))          -- a 404 is a result
  assert(res.status == 404 and res.json.title == "no such city")

  res = assert(robot.http.get("BASE/broken"))           -- declared JSON, is not
  assert(res.status == 502 and res.json == nil and res.body == "<html>upstream down</html>")

  res = assert(robot.http.get("BASE/text"))             -- JSON text, not declared
  assert(res.json == nil and robot.json.decode(res.body).looks == "like json")

  res = assert(robot.http.get("BASE/empty"))
  assert(res.status == 204 and res.body == "" and res.json == nil)

  res = assert(robot.http.request{method = "HEAD", url = "BASE/json"})
  assert(res.status == 200 and res.body == "" and res.headers["x-request-id"] == "r1")

  -- The result is the script's own table.
  res.status = 1
  return "ok"`))
	if got != "ok" {
		t.Fatalf("Lua: %s", got)
	}
}

// What goes wrong with a request is a result: nil and {errmsg = ...}; the
// upstream is never reached.
func TestHTTPErrorsAreResults(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	got := runLua(t, Options{HTTPResolver: testResolver}, withBase(up, `
  local out = {}
  local function try(...)
    local res, err = ...
    assert(res == nil and type(err) == "table", "expected nil, err")
    assert(tostring(err) == err.errmsg)
    out[#out+1] = err.errmsg
  end
  try(robot.http.get("http://10.0.0.1/"))
  try(robot.http.get("BASE/x?key=SECRET"))
  try(robot.http.get("file:///etc/passwd"))
  try(robot.http.get("gopher://api.test:70/_x"))
  try(robot.http.get("http://api.example.com/x", {headers = {["X-A"] = "v\r\nX-Injected: 1"}}))
  try(robot.http.request{method = "TRACE", url = "http://api.example.com/"})
  try(robot.http.get("not a url"))
  try(robot.http.get("http://bot:SECRET@api.test:badport/x?key=SECRET")) -- not a URL: no password shown
  try(robot.http.get("http:bot:SECRET@api.test/x"))
  return table.concat(out, "\n")`))
	port := strings.TrimPrefix(up.base, "http://api.test:")
	want := strings.Join([]string{
		"GET http://10.0.0.1/: 10.0.0.1 is a private address; not allowed by http_allow",
		"GET http://api.test:" + port + "/x: api.test resolves to 127.0.0.1, a loopback address; not allowed by http_allow",
		"GET file:///etc/passwd: only http and https URLs can be fetched, not file:",
		"GET gopher://api.test:70/_x: only http and https URLs can be fetched, not gopher:",
		`GET http://api.example.com/x: header "X-A": the value has a line break (CR or LF), which a header value cannot hold`,
		`TRACE http://api.example.com/: method "TRACE" is not supported (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)`,
		`GET "not a url": the URL has no scheme: it starts with http:// or https://`,
		`GET "http://...@api.test:badport/x": not a URL: invalid port ":badport" after host`,
		`GET "http:...@api.test/x": the URL has no host`,
	}, "\n")
	if got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

// Every special address class is refused when a name resolves to it, and
// when a redirect leads to it; nothing inside is reached.
func TestHTTPRefusedThroughDNSAndRedirect(t *testing.T) {
	var inside atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		inside.Add(1)
	})
	classes := map[string]string{
		"loopback.test": "127.0.0.1, a loopback address", "private.test": "10.0.0.1, a private address",
		"private172.test": "172.16.5.4, a private address", "private192.test": "192.168.0.1, a private address",
		"linklocal.test": "169.254.10.10, a link-local address", "metadata.test": "169.254.169.254, a cloud metadata address",
		"cgnat.test": "100.64.0.1, a shared (CGNAT) address", "zero.test": `0.0.0.0, a "this network" address`,
		"v6loopback.test": "::1, a loopback address", "ula.test": "fd00::1, a private address",
		"v6linklocal.test": "fe80::1, a link-local address", "mapped.test": "10.0.0.1, a private address",
	}
	port := strings.TrimPrefix(up.base, "http://api.test:")
	// Any host, and api.test, the (local) upstream, by name.
	opts := Options{HTTPAllow: []string{"*", "api.test"}, HTTPResolver: testResolver}
	for name, class := range classes {
		target := "http://" + name + ":" + port + "/inside"
		got := runLua(t, opts, withBase(up, fmt.Sprintf(`
  local _, direct = robot.http.get(%q)
  local _, redirected = robot.http.get("BASE/hop", {query = {to = %q}})
  return direct.errmsg .. "\n" .. redirected.errmsg`, target, target)))
		want := "GET " + target + ": " + name + " resolves to " + class + "; not allowed by http_allow\n" +
			"GET " + up.base + "/hop: redirected to " + target + ": " + name + " resolves to " + class + "; not allowed by http_allow"
		if got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	if inside.Load() != 0 {
		t.Errorf("the inside was reached %d times", inside.Load())
	}
}

// Bad arguments are bugs in the script: a Lua error naming the function.
func TestHTTPArgumentErrors(t *testing.T) {
	cases := map[string]string{
		`robot.http.get()`:                                      "bad argument #1 to get",
		`robot.http.get("http://x/", "opts")`:                   "bad argument #2 to get (the options are a table (query, headers, body, json, form, timeout) or nil)",
		`robot.http.get("http://x/", {heders = {}})`:            `robot.http.get: unknown option "heders" (want query, headers, body, json, form, timeout)`,
		`robot.http.post("http://x/", {body = "a", json = {}})`: "robot.http.post: give one of body, json and form, not body and json",
		`robot.http.post("http://x/", {json = {f = print}})`:    "robot.http.post: json: value.f: a function cannot be written as JSON",
		`robot.http.get("http://x/", {timeout = 0})`:            `robot.http.get: timeout is a number of seconds or a duration such as "3s", greater than 0`,
		`robot.http.get("http://x/", {timeout = "soon"})`:       `timeout is a number of seconds`,
		`robot.http.get("http://x/", {headers = "X-A: 1"})`:     "robot.http.get: headers must be a table, got string",
		`robot.http.get("http://x/", {headers = {a = {}}})`:     "robot.http.get: headers.a must be a string, got table",
		`robot.http.get("http://x/", {query = {a = print}})`:    "robot.http.get: query.a: a function cannot be a query value",
		`robot.http.get("http://x/", {url = "http://y/"})`:      "robot.http.get: url is an option of robot.http.request",
		`robot.http.request{method = "GET"}`:                    "needs a url",
		`robot.http.request("http://x/")`:                       "bad argument #1 to request",
		`robot.http.get("http://x/", {[1] = "x"})`:              "robot.http.get: the options have a number key",
		`robot.http.post("http://x/", {form = {a = {print}}})`:  "robot.http.post: form.a: a function cannot be a query value",
	}
	for chunk, want := range cases {
		if got := runLua(t, httpOptions(), chunk+` return "no error"`); !strings.Contains(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", chunk, got, want)
		}
	}
	// Not while the scripts load.
	_, err := New(Options{Dir: writeScripts(t, map[string]string{"a.lua": `robot.http.get("https://example.com/")`}), Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "a.lua:1: robot.http.get: call it from a handler or robot.on_load, not while the scripts load") {
		t.Errorf("top level: %v", err)
	}
	// Bad options of the runtime.
	if _, err := New(Options{Dir: writeScripts(t, nil), HTTPAllow: []string{"10.0.0.0/99"}}); err == nil || !strings.Contains(err.Error(), `http_allow: "10.0.0.0/99"`) {
		t.Errorf("bad HTTPAllow: %v", err)
	}
}

// The timeout option, http_timeout by default, and the handler's deadline
// over both.
func TestHTTPTimeouts(t *testing.T) {
	var cancelled atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled.Add(1)
		case <-time.After(time.Minute):
		}
	})
	opts := httpOptions()
	opts.HTTPTimeout = 200 * time.Millisecond
	got := runLua(t, opts, withBase(up, `
  local _, e1 = robot.http.get("BASE/slow")                       -- http_timeout
  local _, e2 = robot.http.get("BASE/slow", {timeout = "150ms"})  -- the option
  local _, e3 = robot.http.get("BASE/slow", {timeout = 0.1})
  local _, e4 = robot.http.get("BASE/slow", {timeout = 1e-10}) -- under a nanosecond: not http_timeout
  return e1.errmsg .. "\n" .. e2.errmsg .. "\n" .. e3.errmsg .. "\n" .. e4.errmsg`))
	want := "GET " + up.base + "/slow: timed out after 200ms\nGET " + up.base + "/slow: timed out after 150ms\nGET " + up.base + "/slow: timed out after 100ms\n" +
		"GET " + up.base + "/slow: timed out after 1ns"
	if got != want {
		t.Errorf("timeouts:\n%s\nwant\n%s", got, want)
	}

	// A timeout longer than the handler may run is cut at the handler's
	// deadline: the call ends with the handler's timeout error, and the
	// upstream sees the request go away.
	opts.HandlerTimeout = 500 * time.Millisecond
	rt, _ := startRuntime(t, map[string]string{"a.lua": withBase(up, `robot.text(function()
  local res, err = robot.http.get("BASE/slow", {timeout = 600})
  return "not reached"
end)`)}, opts)
	before := cancelled.Load()
	start := time.Now()
	_, _, err := rt.Dispatch(context.Background(), textMsg("x"), nil)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "a.lua:") {
		t.Errorf("cut by the handler deadline: %v", err)
	}
	eventually(t, "the upstream to see the request cancelled", func() bool { return cancelled.Load() > before })
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %s", d)
	}
}

// Response bodies over HTTPMaxBody are an error.
func TestHTTPBodyCap(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 1000)))
	})
	opts := httpOptions()
	opts.HTTPMaxBody = 999
	got := runLua(t, opts, withBase(up, `local res, err = robot.http.get("BASE/big") return err.errmsg`))
	if got != "GET "+up.base+"/big: the response body is over 999 bytes (http_max_body)" {
		t.Errorf("body cap: %s", got)
	}
	opts.HTTPMaxBody = 1000
	if got := runLua(t, opts, withBase(up, `return tostring(#robot.http.get("BASE/big").body)`)); got != "1000" {
		t.Errorf("at the cap: %s", got)
	}
}

// HTTPObserver sees every request, by host and status (0: no response).
func TestHTTPObserver(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	var mu sync.Mutex
	var seen []string
	opts := httpOptions()
	opts.HTTPObserver = func(host string, status int) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %d", host, status))
		mu.Unlock()
	}
	runLua(t, opts, withBase(up, `
  robot.http.get("BASE/ok")
  robot.http.get("BASE/missing")
  robot.http.get("http://169.254.169.254/latest/meta-data/")
  return ""`))
	if fmt.Sprint(seen) != "[api.test 200 api.test 404 169.254.169.254 0]" {
		t.Errorf("observed %v", seen)
	}
}

// robot.http from robot.async and robot.on_load: the handler answered
// already, the work still reaches the upstream.
func TestHTTPFromAsyncAndOnLoad(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	rt, logs := startRuntime(t, map[string]string{"a.lua": withBase(up, `
robot.on_load(function() assert(robot.http.post("BASE/loaded")) end)
robot.text(function(msg)
  robot.async(function() assert(robot.http.post("BASE/later", {json = {text = msg.content}})) end)
  return "queued"
end)`)}, httpOptions())
	if got := answer(t, rt, "hi"); got != "queued" {
		t.Fatalf("answer: %s", got)
	}
	eventually(t, "both requests", func() bool { return len(up.requests()) == 2 })
	reqs := up.requests()
	if reqs[0].path != "/loaded" || reqs[1].path != "/later" || reqs[1].body != `{"text":"hi"}` {
		t.Errorf("requests: %+v", reqs)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log:\n%s", logs)
	}
}

// TestHTTPWaitFreesPoolSlot: twenty handlers wait on a slow upstream with
// pool_size 2, and twenty plain users are answered meanwhile. A handler
// waiting in robot.http must not hold one of the pool_size slots that run
// Lua. (If it did, only pool_size handlers would ever reach the upstream.)
// The upstream holds every request until the test ends, so that the
// order proves it however slow the machine: no time limit of its own
// can end the wait of the first ones before the last ones arrive.
func TestHTTPWaitFreesPoolSlot(t *testing.T) {
	release := make(chan struct{})
	var waiting, peak atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		n := waiting.Add(1)
		defer waiting.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "slow answer")
	})
	opts := httpOptions()
	opts.PoolSize = 2
	opts.HandlerTimeout = 5 * time.Minute
	rt, _ := startRuntime(t, map[string]string{"a.lua": withBase(up, `
robot.filter("slow", function()
  local res, err = robot.http.get("BASE/slow", {timeout = 300})
  return res and res.body or err.errmsg
end)
robot.text(function(msg) return "fast " .. msg.content end)`)}, opts)

	const n = 20
	slow := make(chan string, n)
	for i := 0; i < n; i++ {
		go func() { slow <- answer(t, rt, "slow") }()
	}
	defer func() {
		close(release)
		for i := 0; i < n; i++ {
			if got := <-slow; got != "slow answer" {
				t.Errorf("slow handler: %s", got)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("at most %d of %d handlers reached the upstream at once with pool_size 2: a handler waiting in robot.http holds its pool slot (state.wait must give it back)", peak.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fast := make(chan string, n)
	for i := 0; i < n; i++ {
		go func(i int) { fast <- answer(t, rt, fmt.Sprint(i)) }(i)
	}
	for i := 0; i < n; i++ {
		select {
		case got := <-fast:
			if !strings.HasPrefix(got, "fast ") {
				t.Errorf("plain user: %s", got)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("plain users were not answered while the slow handlers waited")
		}
	}
	if w := waiting.Load(); w != n {
		t.Errorf("%d slow handlers still waiting when the plain users were answered, want %d", w, n)
	}
}

// A Host header names a host too: it is allowed only where http_allow
// would let a request for that host reach the address dialled. Otherwise
// a script allowed one internal host by its exact name ("api.test", here
// on 127.0.0.1) would reach every other virtual host of the same server
// ("admin.internal") by setting Host, though http_allow never names it.
// A virtual host on an address the operator allowed by IP is reached as
// before.
func TestHTTPHostHeaderIsCheckedToo(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "vhost "+r.Host) })
	port := strings.TrimPrefix(up.base, "http://api.test:")
	got := runLua(t, httpOptions(), withBase(up, `
  local _, err = robot.http.get("BASE/", {headers = {Host = "admin.internal"}})
  local _, err2 = robot.http.get("BASE/", {headers = {host = "Admin.Internal:8080"}})
  local same = assert(robot.http.get("BASE/", {headers = {Host = "API.test"}}))
  return err.errmsg .. "\n" .. err2.errmsg .. "\n" .. same.body`))
	want := "GET " + up.base + `/: the Host header "admin.internal" is not allowed by http_allow at api.test's address 127.0.0.1 (a loopback address)` + "\n" +
		"GET " + up.base + `/: the Host header "Admin.Internal:8080" is not allowed by http_allow at api.test's address 127.0.0.1 (a loopback address)` + "\n" +
		"vhost API.test"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if n := len(up.requests()); n != 1 {
		t.Errorf("%d requests reached the upstream, want the one with its own name", n)
	}

	// Named as well, or on an address allowed by IP: the virtual host is
	// reached.
	for _, c := range []struct {
		allow []string
		url   string
	}{
		{[]string{"api.test", "admin.internal"}, up.base + "/"},
		{[]string{"127.0.0.1"}, "http://127.0.0.1:" + port + "/"},
	} {
		opts := Options{HTTPAllow: c.allow, HTTPResolver: testResolver}
		if got := runLua(t, opts, `
  local res, err = robot.http.get("`+c.url+`", {headers = {Host = "admin.internal"}})
  return res and res.body or err.errmsg`); got != "vhost admin.internal" {
			t.Errorf("http_allow %q: %s", c.allow, got)
		}
	}
}

// A redirect to another site carries none of the script's credentials:
// the script put its key in a header (X-Api-Key, api-key: the LLM APIs'
// way) or in the body for the host it called, not for whichever host that
// one redirects to. Headers that are not credentials go along, and a
// redirect within the site (a subdomain too) keeps everything.
func TestHTTPRedirectToAnotherSiteDropsCredentials(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			code := http.StatusFound
			if r.URL.Query().Get("keep") != "" {
				code = http.StatusTemporaryRedirect // the body is sent again
			}
			http.Redirect(w, r, to, code)
		}
	})
	port := strings.TrimPrefix(up.base, "http://api.test:")
	resolver := func(ctx context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	opts := Options{HTTPAllow: []string{"api.test", "eu.api.test", "elsewhere.test"}, HTTPResolver: resolver}
	got := runLua(t, opts, withBase(up, `
  local h = {["X-Api-Key"] = "K1", ["api-key"] = "K2", Authorization = "Bearer K3", Cookie = "s=K4",
             Accept = "application/json", ["User-Agent"] = "bot/1"}
  assert(robot.http.get("BASE/hop", {headers = h, query = {to = "http://elsewhere.test:`+port+`/other"}}))
  assert(robot.http.get("BASE/hop", {headers = h, query = {to = "http://eu.api.test:`+port+`/sub"}}))
  assert(robot.http.get("BASE/hop", {headers = h, query = {to = "/same"}}))
  local _, err = robot.http.post("BASE/hop", {form = {key = "K5"}, query = {keep = 1, to = "http://elsewhere.test:`+port+`/post"}})
  return err.errmsg`))
	if want := "POST " + up.base + "/hop: redirected to http://elsewhere.test:" + port + "/post: the request body is not sent again to another site"; got != want {
		t.Errorf("307 to another site:\n got %s\nwant %s", got, want)
	}
	seen := map[string]http.Header{}
	for _, r := range up.requests() {
		seen[r.path] = r.header
		if strings.Contains(r.body, "K5") && r.path != "/hop" {
			t.Errorf("the body went to %s: %q", r.path, r.body)
		}
	}
	creds := []string{"X-Api-Key", "Api-Key", "Authorization", "Cookie"}
	for _, name := range creds {
		if v := seen["/other"].Get(name); v != "" {
			t.Errorf("%s reached another site: %q", name, v)
		}
		if seen["/sub"].Get(name) == "" || seen["/same"].Get(name) == "" {
			t.Errorf("%s dropped within the site: sub %v same %v", name, seen["/sub"], seen["/same"])
		}
	}
	if h := seen["/other"]; h.Get("Accept") != "application/json" || h.Get("User-Agent") != "bot/1" {
		t.Errorf("headers that are not credentials should follow: %v", h)
	}
	if _, ok := seen["/post"]; ok {
		t.Error("the 307 to another site was followed")
	}
}
