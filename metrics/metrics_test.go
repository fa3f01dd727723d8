package metrics_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// exercised is a Metrics whose every collector has counted something, so
// that a scrape shows every family.
func exercised() *metrics.Metrics {
	m := metrics.New()
	m.Delivery("text", metrics.Replied, false, 20*time.Millisecond)
	m.Delivery("text", metrics.Replied, false, 30*time.Millisecond)
	m.Delivery("click_event", metrics.Late, false, 4*time.Second)
	m.Delivery("text", metrics.Replied, true, time.Millisecond)
	m.Refused(metrics.RefusedSignature)
	m.HandlerError("hello.lua")
	m.APICall("/cgi-bin/user/info?access_token=x", 0)
	m.APICall("/cgi-bin/message/custom/send", 45015)
	m.APICall("/sns/userinfo", -1)
	m.TokenFetch(true)
	m.TokenFetch(false)
	m.Reload(true)
	m.HTTPRequest("API.example.com", 200)
	m.HTTPRequest("api.example.com", 0)
	m.SetLuaStates(func() metrics.LuaStates { return metrics.LuaStates{Idle: 3, Running: 1, Waiting: 2} })
	return m
}

func TestNamesAndLabels(t *testing.T) {
	s := metricstest.Scrape(t, exercised().Handler(), "")
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"luarobot_deliveries_total", []string{"type", "text", "outcome", "replied"}, 2},
		{"luarobot_deliveries_total", []string{"type", "click_event", "outcome", "late"}, 1},
		{"luarobot_deliveries_total", []string{"type", "text", "outcome", "replied", "console", "true"}, 1},
		{"luarobot_delivery_seconds", nil, 4},
		{"luarobot_requests_refused_total", []string{"reason", "signature"}, 1},
		{"luarobot_requests_refused_total", []string{"reason", "decrypt"}, 0},
		{"luarobot_handler_errors_total", []string{"script", "hello.lua"}, 1},
		{"luarobot_wechat_api_calls_total", []string{"endpoint", "user/info", "errcode", "0"}, 1},
		{"luarobot_wechat_api_calls_total", []string{"endpoint", "message/custom/send", "errcode", "45015"}, 1},
		{"luarobot_wechat_api_calls_total", []string{"endpoint", "sns/userinfo", "errcode", "-1"}, 1},
		{"luarobot_access_token_fetches_total", []string{"result", "ok"}, 1},
		{"luarobot_access_token_fetches_total", []string{"result", "error"}, 1},
		{"luarobot_reloads_total", []string{"result", "ok"}, 1},
		{"luarobot_reloads_total", []string{"result", "error"}, 0},
		{"luarobot_http_requests_total", []string{"host", "api.example.com", "status", "200"}, 1},
		{"luarobot_http_requests_total", []string{"host", "api.example.com", "status", "error"}, 1},
		{"luarobot_lua_states", []string{"state", "idle"}, 3},
		{"luarobot_lua_states", []string{"state", "running"}, 1},
		{"luarobot_lua_states", []string{"state", "waiting"}, 2},
	}
	for _, c := range checks {
		if got := s.Value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v (series: %v)", c.name, c.labels, got, c.want, s.Series(c.name))
		}
	}
	// Closed sets show every value from the start.
	if !s.Has("luarobot_requests_refused_total", "reason", "method") {
		t.Errorf("refusal reasons not all listed: %v", s.Series("luarobot_requests_refused_total"))
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := s[name]; !ok && (name == "go_goroutines" || runtime.GOOS == "linux") {
			t.Errorf("%s missing", name)
		}
	}
	// The histogram ends at WeChat's deadline (then +Inf).
	h := s["luarobot_delivery_seconds"].GetMetric()[0].GetHistogram()
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if len(bounds) < 2 || bounds[len(bounds)-2] != 5 || !math.IsInf(bounds[len(bounds)-1], 1) {
		t.Errorf("buckets %v, want them to end at 5 and +Inf", bounds)
	}
}

func TestClosedLabelsRefuseOtherValues(t *testing.T) {
	m := metrics.New()
	m.Delivery("text", "weird", false, 0)
	m.Refused("made-up")
	s := metricstest.Gather(t, m.Gatherer())
	if got := s.Value("luarobot_deliveries_total", "type", "text", "outcome", "other"); got != 1 {
		t.Errorf("unknown outcome: %v", s.Series("luarobot_deliveries_total"))
	}
	if got := s.Value("luarobot_requests_refused_total", "reason", "other"); got != 1 {
		t.Errorf("unknown reason: %v", s.Series("luarobot_requests_refused_total"))
	}
}

// A script calling ever-new paths or hosts must not grow the series
// without end.
func TestOpenLabelsAreCapped(t *testing.T) {
	m := metrics.New()
	for i := range 5000 {
		m.APICall(fmt.Sprintf("/cgi-bin/made/up/%d", i), i)
		m.HTTPRequest(fmt.Sprintf("h%d.example.com", i), 200)
		m.HandlerError(fmt.Sprintf("s%d.lua", i))
		m.Delivery(fmt.Sprintf("t%d", i), metrics.Replied, false, 0)
	}
	s := metricstest.Gather(t, m.Gatherer())
	for name, limit := range map[string]int{
		"luarobot_wechat_api_calls_total": 300,
		"luarobot_http_requests_total":    200,
		"luarobot_handler_errors_total":   300,
		"luarobot_deliveries_total":       200,
	} {
		if n := len(s.Series(name)); n > limit {
			t.Errorf("%s: %d series, want at most %d", name, n, limit)
		}
	}
	if s.Value("luarobot_http_requests_total", "host", "other", "status", "200") == 0 {
		t.Errorf("hosts past the cap are not counted as other")
	}
	// Values that are no endpoint at all never become labels.
	m.APICall("/cgi-bin/user/info\x00\n", 0)
	m.HTTPRequest("bad\nhost", 200)
	s = metricstest.Gather(t, m.Gatherer())
	for _, series := range append(s.Series("luarobot_wechat_api_calls_total"), s.Series("luarobot_http_requests_total")...) {
		if strings.ContainsAny(series, "\x00\n") {
			t.Errorf("control characters in a label: %q", series)
		}
	}
}

func TestEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"/cgi-bin/user/info":                  "user/info",
		"/cgi-bin/menu/create?access_token=x": "menu/create",
		"/sns/oauth2/access_token":            "sns/oauth2/access_token",
		"/customservice/kfaccount/add":        "customservice/kfaccount/add",
		"/cgi-bin/":                           "other",
		"/cgi-bin/a b":                        "other",
	} {
		if got := metrics.Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.Delivery("text", metrics.Replied, false, time.Second)
	m.Refused(metrics.RefusedMethod)
	m.HandlerError("a.lua")
	m.APICall("/cgi-bin/token", 0)
	m.TokenFetch(true)
	m.Reload(false)
	m.HTTPRequest("x", 200)
	m.SetLuaStates(nil)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil metrics handler: %d", rec.Code)
	}
}

// Two hosts in one process (tests, an embedding program) each have their
// own registry.
func TestRegistriesAreSeparate(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.Reload(true)
	if got := metricstest.Gather(t, b.Gatherer()).Value("luarobot_reloads_total", "result", "ok"); got != 0 {
		t.Errorf("b sees a's reload: %v", got)
	}
}
