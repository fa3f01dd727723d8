package cmd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// servedHost is serve running in this process.
type servedHost struct {
	addr       string // the bot's listener
	adminURL   string // http://127.0.0.1:PORT, "" when admin_addr is off
	adminToken string // the generated one, when none was configured
	logs       *syncBuffer
	stop       func() error
}

// testConfig is serve's configuration for a test: memory store, a free
// port for the bot and one for the admin listener.
func testConfig(t *testing.T, scripts string) config.Config {
	cfg := config.Default()
	cfg.Token = "serveToken1"
	cfg.Scripts = scripts
	cfg.SessionStorage = "memory"
	cfg.Port = 0
	cfg.AdminAddr = "127.0.0.1:0"
	return cfg
}

var (
	adminURLRE   = regexp.MustCompile(`msg="admin listening" url=(http://[0-9.:]+)/`)
	adminTokenRE = regexp.MustCompile(`admin_token=([A-Za-z0-9]+)`)
)

func startServe(t *testing.T, cfg config.Config) *servedHost {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, ready) }()
	h := &servedHost{logs: logs}
	select {
	case h.addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start:\n%s", logs)
	}
	if m := adminURLRE.FindStringSubmatch(logs.String()); m != nil {
		h.adminURL = m[1]
	}
	if m := adminTokenRE.FindStringSubmatch(logs.String()); m != nil {
		h.adminToken = m[1]
	}
	stopped := false
	h.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { h.stop() })
	return h
}

func httpGet(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeAdminListener(t *testing.T) {
	scripts := writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`})
	h := startServe(t, testConfig(t, scripts))
	if h.adminURL == "" || h.adminToken == "" {
		t.Fatalf("no admin URL or generated admin_token in the log:\n%s", h.logs)
	}
	if !strings.Contains(h.logs.String(), "no admin_token configured; using a generated one") {
		t.Errorf("the generated admin token is not announced:\n%s", h.logs)
	}
	if code, body := httpGet(t, h.adminURL+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := httpGet(t, h.adminURL+"/readyz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, _ := httpGet(t, h.adminURL+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without the token = %d", code)
	}
	if code, _ := httpGet(t, h.adminURL+"/metrics", "serveToken1"); code != 401 {
		t.Errorf("/metrics with the callback token = %d", code)
	}
	code, body := httpGet(t, h.adminURL+"/metrics", h.adminToken)
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	fams, err := metricstest.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"luarobot_reloads_total", "luarobot_requests_refused_total", "go_goroutines"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if err := h.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if _, err := http.Get(h.adminURL + "/healthz"); err == nil {
		t.Errorf("the admin listener outlives serve")
	}
}

// The generated admin token is kept in the store: a restart keeps it, so
// Prometheus' configuration does not change.
func TestServeAdminTokenSurvivesRestart(t *testing.T) {
	scripts := writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`})
	cfg := testConfig(t, scripts)
	cfg.SessionStorage = "bolt"
	cfg.DB = filepath.Join(t.TempDir(), "luarobot.db")
	first := startServe(t, cfg)
	first.stop()
	second := startServe(t, cfg)
	second.stop()
	if first.adminToken == "" || first.adminToken != second.adminToken {
		t.Errorf("admin tokens %q then %q", first.adminToken, second.adminToken)
	}
	cfg.AdminToken = "chosenAdminToken"
	third := startServe(t, cfg)
	if third.adminToken != "" || strings.Contains(third.logs.String(), "chosenAdminToken") {
		t.Errorf("a configured admin_token is generated or logged:\n%s", third.logs)
	}
	if code, _ := httpGet(t, third.adminURL+"/metrics", "chosenAdminToken"); code != 200 {
		t.Errorf("/metrics with the configured token = %d", code)
	}
}

func TestServeAdminAddrInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	scripts := writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`})
	cfg := testConfig(t, scripts)
	cfg.AdminAddr = ln.Addr().String()
	err = serve(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "admin_addr "+cfg.AdminAddr+": ") || !strings.Contains(err.Error(), "address already in use") ||
		!strings.Contains(err.Error(), `admin_addr = "off"`) {
		t.Errorf("serve = %v", err)
	}
}

func TestServeAdminOff(t *testing.T) {
	scripts := writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`})
	cfg := testConfig(t, scripts)
	cfg.AdminAddr = "off"
	h := startServe(t, cfg)
	if h.adminURL != "" || strings.Contains(h.logs.String(), "admin") {
		t.Errorf("admin_addr = off still starts it:\n%s", h.logs)
	}
}

// The operator's view of a serving host: each delivery's log line and the
// metrics they move, a Lua error with its file:line, a refused request,
// and a hot reload that fails.
func TestServeMetricsAndDeliveryLog(t *testing.T) {
	scripts := writeScripts(t, map[string]string{"hello.lua": `robot.filter("fail", function(m) local t = nil; return t.name end)
robot.text(function(m)
  return "echo: " .. m.content
end)`})
	cfg := testConfig(t, scripts)
	cfg.AdminToken = "metricsToken1"
	h := startServe(t, cfg)
	sim, err := simulate.New(simulate.Options{URL: "http://" + h.addr + "/", Token: cfg.Token})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hi", "fail"} {
		m, _ := simulate.Build(simulate.Spec{Type: "text", Text: text, From: "oAlice"})
		body, _ := message.Marshal(m)
		if d := sim.Deliver(context.Background(), body); d.Err != nil || d.Status != 200 {
			t.Fatalf("%s: %d %v", text, d.Status, d.Err)
		}
	}
	resp, err := http.Post("http://"+h.addr+"/?signature=bad&timestamp=1&nonce=1", "text/xml", strings.NewReader("<xml/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	user := host.UserHash("oAlice")
	for _, re := range []string{
		`level=INFO msg=delivery type=text user=` + user + ` handler=hello.lua:2 reply=text duration=\S+ outcome=replied`,
		`level=ERROR msg=delivery type=text user=` + user + ` handler=- reply=success duration=\S+ outcome=error error="hello.lua:1: attempt to index a non-table object\(nil\) with key 'name'"`,
	} {
		if !regexp.MustCompile(re).MatchString(h.logs.String()) {
			t.Errorf("no log line matches %s:\n%s", re, h.logs)
		}
	}
	if strings.Contains(h.logs.String(), "oAlice") {
		t.Errorf("the openid is in the log")
	}

	scrape := func() metricstest.Families {
		code, body := httpGet(t, h.adminURL+"/metrics", cfg.AdminToken)
		if code != 200 {
			t.Fatalf("/metrics = %d", code)
		}
		fams, err := metricstest.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return fams
	}
	s := scrape()
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"luarobot_deliveries_total", []string{"type", "text", "outcome", "replied"}},
		{"luarobot_deliveries_total", []string{"type", "text", "outcome", "error"}},
		{"luarobot_handler_errors_total", []string{"script", "hello.lua"}},
		{"luarobot_requests_refused_total", []string{"reason", "signature"}},
		{"luarobot_reloads_total", []string{"result", "ok"}},
	} {
		if got := s.Value(c.name, c.labels...); got != 1 {
			t.Errorf("%s%v = %v, want 1", c.name, c.labels, got)
		}
	}

	// A broken save: the reload fails, counted, and the old scripts serve.
	if err := os.WriteFile(filepath.Join(scripts, "broken.lua"), []byte("robot.text(function( end)"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for scrape().Value("luarobot_reloads_total", "result", "error") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the failed reload is not counted:\n%s", h.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// robot.http requests are counted by host and status; a refused one
// (http_allow) by status error.
func TestServeHTTPRequestMetrics(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "fine")
	}))
	defer upstream.Close()
	scripts := writeScripts(t, map[string]string{"web.lua": `robot.text(function(m)
  local res = robot.http.get("` + upstream.URL + `/" .. m.content)
  local _, err = robot.http.get("http://10.1.2.3/")
  return tostring(res and res.status) .. " " .. tostring(err ~= nil)
end)`})
	cfg := testConfig(t, scripts)
	cfg.AdminToken = "metricsToken1"
	cfg.HTTPAllow = []string{"127.0.0.1"} // the upstream, and nothing else private
	h := startServe(t, cfg)
	sim, err := simulate.New(simulate.Options{URL: "http://" + h.addr + "/", Token: cfg.Token})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{"ok": "200 true", "missing": "404 true"} {
		m, _ := simulate.Build(simulate.Spec{Type: "text", Text: text})
		body, _ := message.Marshal(m)
		if d := sim.Deliver(context.Background(), body); d.Err != nil || !strings.Contains(simulate.Describe(d.Body), want) {
			t.Fatalf("%s: %v %s, want %q", text, d.Err, simulate.Describe(d.Body), want)
		}
	}
	code, body := httpGet(t, h.adminURL+"/metrics", cfg.AdminToken)
	fams, err := metricstest.Parse(strings.NewReader(body))
	if code != 200 || err != nil {
		t.Fatalf("/metrics = %d %v", code, err)
	}
	for _, c := range []struct {
		host, status string
		want         float64
	}{{"127.0.0.1", "200", 1}, {"127.0.0.1", "404", 1}, {"10.1.2.3", "error", 2}} {
		if got := fams.Value("luarobot_http_requests_total", "host", c.host, "status", c.status); got != c.want {
			t.Errorf("http requests{%s,%s} = %v, want %v (%v)", c.host, c.status, got, c.want, fams.Series("luarobot_http_requests_total"))
		}
	}
}

// luarobot_lua_states follows the pool: a handler waiting on an upstream
// is a waiting state, and an idle one is ready after the load.
func TestServeLuaStates(t *testing.T) {
	release := make(chan struct{})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "late")
	}))
	defer upstream.Close()
	defer close(release)
	scripts := writeScripts(t, map[string]string{"wait.lua": `robot.text(function(m)
  local res = robot.http.get("` + upstream.URL + `/")
  return res and res.body
end)`})
	cfg := testConfig(t, scripts)
	cfg.AdminToken = "metricsToken1"
	cfg.HTTPAllow = []string{"127.0.0.1"}
	h := startServe(t, cfg)
	states := func() (idle, running, waiting float64) {
		code, body := httpGet(t, h.adminURL+"/metrics", cfg.AdminToken)
		fams, err := metricstest.Parse(strings.NewReader(body))
		if code != 200 || err != nil {
			t.Fatalf("/metrics = %d %v", code, err)
		}
		return fams.Value("luarobot_lua_states", "state", "idle"), fams.Value("luarobot_lua_states", "state", "running"),
			fams.Value("luarobot_lua_states", "state", "waiting")
	}
	if idle, running, waiting := states(); idle < 1 || running != 0 || waiting != 0 {
		t.Errorf("after the load: idle %v, running %v, waiting %v", idle, running, waiting)
	}
	sim, err := simulate.New(simulate.Options{URL: "http://" + h.addr + "/", Token: cfg.Token, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := simulate.Build(simulate.Spec{Type: "text", Text: "wait"})
	body, _ := message.Marshal(m)
	go sim.Deliver(context.Background(), body)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, running, waiting := states()
		if waiting == 1 && running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a handler waiting on its upstream: running %v, waiting %v", running, waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// /readyz says ok only once the bot's own listener takes connections: a
// load balancer that trusts it must not send WeChat's messages to a port
// nobody listens on yet (here while serve fetches WeChat's address list
// for callback_ips, which a slow API stretches out).
func TestServeNotReadyBeforeTheBotListens(t *testing.T) {
	wx := fakewechat.New(doctorAppID, doctorSecret)
	defer wx.Close()
	wx.Delay("/cgi-bin/getcallbackip", 2*time.Second)
	cfg := testConfig(t, writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`}))
	cfg.AppID, cfg.AppSecret, cfg.APIBase = doctorAppID, doctorSecret, wx.URL
	cfg.CallbackIPs = []string{"wechat"}
	botAddr := closedAddr(t)
	_, port, _ := net.SplitHostPort(botAddr)
	cfg.Port, _ = strconv.Atoi(port)

	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), nil) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m := adminURLRE.FindStringSubmatch(logs.String())
		if m == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		resp, err := http.Get(m[1] + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			conn, err := net.Dial("tcp", botAddr)
			if err != nil {
				t.Fatalf("/readyz says ok, but the bot's port does not answer: %v", err)
			}
			conn.Close()
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never ready:\n%s", logs)
}
