package admin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/admin"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

const token = "adminToken123"

func get(t *testing.T, h http.Handler, path, auth string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, rec.Header(), string(body)
}

func newHandler(t *testing.T, opts admin.Options) *admin.Handler {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	h, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHealthz(t *testing.T) {
	h := newHandler(t, admin.Options{})
	code, hdr, body := get(t, h, "/healthz", "")
	if code != 200 || body != "ok\n" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("/healthz = %d %q %v", code, body, hdr)
	}
	req := httptest.NewRequest(http.MethodPost, "/healthz", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d", rec.Code)
	}
}

func TestReadyz(t *testing.T) {
	var scriptsLoaded atomic.Bool
	storeErr := errors.New("dial tcp 127.0.0.1:6379: connection refused")
	var storeDown atomic.Bool
	storeDown.Store(true)
	h := newHandler(t, admin.Options{Ready: []admin.Check{
		{Name: "scripts", Func: func(context.Context) error {
			if !scriptsLoaded.Load() {
				return errors.New("not loaded yet")
			}
			return nil
		}},
		{Name: "store", Func: func(context.Context) error {
			if storeDown.Load() {
				return storeErr
			}
			return nil
		}},
	}})
	code, _, body := get(t, h, "/readyz", "")
	want := "not ready\nscripts: not loaded yet\nstore: dial tcp 127.0.0.1:6379: connection refused\n"
	if code != 503 || body != want {
		t.Errorf("/readyz = %d %q, want 503 %q", code, body, want)
	}
	scriptsLoaded.Store(true)
	if code, _, body = get(t, h, "/readyz", ""); code != 503 || body != "not ready\nstore: "+storeErr.Error()+"\n" {
		t.Errorf("/readyz with scripts = %d %q", code, body)
	}
	storeDown.Store(false)
	if code, _, body = get(t, h, "/readyz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/readyz ready = %d %q", code, body)
	}
}

// A store that hangs makes the probe answer "not ready" in time instead of
// hanging the load balancer's probe.
func TestReadyzCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := newHandler(t, admin.Options{CheckTimeout: 50 * time.Millisecond, Ready: []admin.Check{
		{Name: "store", Func: func(ctx context.Context) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return ctx.Err()
		}},
	}})
	code, _, body := get(t, h, "/readyz", "")
	if code != 503 || !strings.Contains(body, "store: no answer within 50ms") {
		t.Errorf("/readyz = %d %q", code, body)
	}
}

func TestMetricsNeedTheToken(t *testing.T) {
	m := metrics.New()
	m.Reload(true)
	h := newHandler(t, admin.Options{Metrics: m.Handler()})
	for _, auth := range []string{"", "Bearer", "Bearer wrong", "Basic " + token, "Bearer " + token + "x", "Bearer " + token[:len(token)-1], token} {
		code, hdr, body := get(t, h, "/metrics", auth)
		if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || strings.Contains(body, "luarobot_") {
			t.Errorf("Authorization %q: %d %q", auth, code, body)
		}
	}
	code, hdr, body := get(t, h, "/metrics", "Bearer "+token)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") || !strings.Contains(body, `luarobot_reloads_total{result="ok"} 1`) {
		t.Errorf("/metrics = %d %v %.300q", code, hdr, body)
	}
	// The scheme is case-insensitive, as RFC 7235 says.
	if code, _, _ := get(t, h, "/metrics", "bearer "+token); code != 200 {
		t.Errorf("lower-case scheme: %d", code)
	}
	s := metricstest.Scrape(t, h, token)
	if s.Value("luarobot_reloads_total", "result", "ok") != 1 {
		t.Errorf("scrape: %v", s.Series("luarobot_reloads_total"))
	}
}

func TestTokenRequired(t *testing.T) {
	if _, err := admin.New(admin.Options{}); err == nil || !strings.Contains(err.Error(), "admin_token") {
		t.Errorf("New without a token: %v", err)
	}
}

// The console extends the handler: open routes, routes behind the token,
// and its own credentials beside the bearer token.
func TestExtension(t *testing.T) {
	h := newHandler(t, admin.Options{})
	h.Handle("GET /login", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "login page") }))
	h.HandleAuthenticated("GET /api/status", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "status") }))
	if code, _, body := get(t, h, "/login", ""); code != 200 || body != "login page" {
		t.Errorf("/login = %d %q", code, body)
	}
	if code, _, _ := get(t, h, "/api/status", ""); code != 401 {
		t.Errorf("/api/status without auth = %d", code)
	}
	if code, _, body := get(t, h, "/api/status", "Bearer "+token); code != 200 || body != "status" {
		t.Errorf("/api/status with the token = %d %q", code, body)
	}
	h.AddAuthenticator(func(r *http.Request) bool {
		c, err := r.Cookie("session")
		return err == nil && c.Value == "good"
	})
	req := httptest.NewRequest(http.MethodGet, "/api/status", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: "good"})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("cookie-authenticated: %d", rec.Code)
	}
	if code, _, _ := get(t, h, "/nothing", "Bearer "+token); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}

// The handler mounts under a prefix in another program's mux.
func TestMounted(t *testing.T) {
	h := newHandler(t, admin.Options{})
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/admin/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Errorf("mounted /admin/healthz = %d %q", resp.StatusCode, body)
	}
}

// TestGuardTokens: the guard sees every bearer token checked, and a
// client it blocks gets 429 with Retry-After, the right token too.
func TestGuardTokens(t *testing.T) {
	h := newHandler(t, admin.Options{Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	wrong := 0
	h.GuardTokens(func(r *http.Request, check func() bool) (bool, time.Duration) {
		if wrong >= 2 {
			return false, 30 * time.Second
		}
		ok := check()
		if !ok {
			wrong++
		}
		return ok, 0
	})
	for _, c := range []struct {
		auth string
		code int
	}{
		{"Bearer " + token, 200}, {"Bearer nope", 401}, {"Bearer nope2", 401}, {"Bearer " + token, 429}, {"", 401},
	} {
		code, hdr, _ := get(t, h, "/metrics", c.auth)
		if code != c.code {
			t.Errorf("%q: %d, want %d", c.auth, code, c.code)
		}
		if code == 429 && hdr.Get("Retry-After") != "30" {
			t.Errorf("429 without Retry-After: %v", hdr)
		}
	}
}
