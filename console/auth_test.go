package console_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiRoutes is every route of the API, with a body that would be valid.
var apiRoutes = []struct{ method, path, body string }{
	{"GET", "/api/status", ""},
	{"POST", "/api/try", `{"user":"me","type":"text","content":"hi"}`},
	{"GET", "/api/inbox/me", ""},
	{"GET", "/api/scripts", ""},
	{"GET", "/api/log", ""},
	{"GET", "/api/log/stream", ""},
	{"GET", "/api/sessions/console-me", ""},
	{"DELETE", "/api/sessions/console-me", ""},
}

func TestEveryAPIRouteNeedsTheAdminToken(t *testing.T) {
	e := newEnv(t)
	bogus := &http.Cookie{Name: "luarobot_console", Value: "made-up-session"}
	for _, r := range apiRoutes {
		for name, req := range map[string]request{
			"nothing":        {method: r.method, path: r.path, body: r.body},
			"wrong bearer":   {method: r.method, path: r.path, body: r.body, bearer: "wrong-token"},
			"made-up cookie": {method: r.method, path: r.path, body: r.body, cookie: bogus},
		} {
			a := e.do(req)
			e.clock.Advance(time.Minute) // wrong bearer tokens count: never five in a minute here
			if a.status != http.StatusUnauthorized || !strings.Contains(a.body, `"error"`) {
				t.Errorf("%s %s with %s: %d %s, want 401 with a JSON error", r.method, r.path, name, a.status, a.body)
			}
			if a.header.Get("Content-Security-Policy") == "" {
				t.Errorf("%s %s 401 has no CSP", r.method, r.path)
			}
		}
	}
}

func TestBearerAndCookieBothWork(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie = %+v: want HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	if strings.Contains(cookie.Value, adminToken) {
		t.Error("the cookie holds the admin token")
	}
	e.post("/api/try", `{"user":"me","content":"count"}`) // a session to read and delete
	for _, r := range apiRoutes {
		if r.path == "/api/log/stream" {
			continue // tested in TestLogStream
		}
		for name, req := range map[string]request{
			"bearer": {method: r.method, path: r.path, body: r.body, bearer: adminToken, origin: "-"},
			"cookie": {method: r.method, path: r.path, body: r.body, cookie: cookie},
		} {
			if r.method == "DELETE" {
				e.post("/api/try", `{"user":"me","content":"count"}`)
			}
			a := e.do(req)
			if a.status/100 != 2 {
				t.Errorf("%s %s with %s: %d %s", r.method, r.path, name, a.status, a.body)
			}
		}
	}
	// Logging out ends the cookie's login.
	if a := e.do(request{method: "POST", path: "/logout", cookie: cookie}); a.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", a.status, a.body)
	}
	if a := e.do(request{method: "GET", path: "/api/status", cookie: cookie}); a.status != http.StatusUnauthorized {
		t.Errorf("after logout: %d", a.status)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	if a := e.do(request{method: "POST", path: "/login", body: "token=wrong", form: true}); a.status != http.StatusUnauthorized || !strings.Contains(a.body, "wrong admin token") || len(a.header.Values("Set-Cookie")) != 0 {
		t.Errorf("wrong token: %d %s %v", a.status, a.body, a.header)
	}
	if a := e.do(request{method: "POST", path: "/login", body: "", form: true}); a.status != http.StatusBadRequest || !strings.Contains(a.body, "token") {
		t.Errorf("no token: %d %s", a.status, a.body)
	}
	// A plain form post (no JavaScript) is sent back to the page.
	a := e.do(request{method: "POST", path: "/login", body: "token=" + url.QueryEscape(adminToken), form: true, header: map[string]string{"Accept": "text/html"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/" || len(a.header.Values("Set-Cookie")) != 1 {
		t.Errorf("form login: %d %v", a.status, a.header)
	}
	a = e.do(request{method: "POST", path: "/login", body: "token=nope", form: true, header: map[string]string{"Accept": "text/html"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/?login=401" {
		t.Errorf("failed form login: %d %v", a.status, a.header)
	}
}

// TestLoginThrottle: five wrong tokens in a minute from one address, and
// every login from it answers 429 for a minute, the right token too.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	wrong := request{method: "POST", path: "/login", body: "token=wrong", form: true}
	right := request{method: "POST", path: "/login", body: "token=" + adminToken, form: true}
	for i := range 4 {
		if a := e.do(wrong); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, a.status)
		}
		e.clock.Advance(10 * time.Second)
	}
	// Four in 40 s: the right token still works, and does not reset the
	// count.
	if a := e.do(right); a.status != http.StatusOK {
		t.Fatalf("right token after 4 wrong ones: %d %s", a.status, a.body)
	}
	if a := e.do(wrong); a.status != http.StatusUnauthorized {
		t.Fatalf("fifth wrong token: %d", a.status)
	}
	a := e.do(right)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "too many") {
		t.Fatalf("right token while blocked: %d %s %v", a.status, a.body, a.header)
	}
	e.clock.Advance(59 * time.Second)
	if a := e.do(right); a.status != http.StatusTooManyRequests {
		t.Fatalf("right token 59 s into the block: %d", a.status)
	}
	e.clock.Advance(2 * time.Second)
	if a := e.do(right); a.status != http.StatusOK {
		t.Fatalf("right token after the minute: %d %s", a.status, a.body)
	}
	// Wrong tokens spread over more than a minute never block.
	for i := range 8 {
		e.clock.Advance(20 * time.Second)
		if a := e.do(wrong); a.status != http.StatusUnauthorized {
			t.Fatalf("slow wrong token %d: %d", i+1, a.status)
		}
	}
	// A bearer token is a login too: while the address is blocked, the
	// right one is refused as well (TestBearerGuessesAreThrottled).
	for range 5 {
		e.do(wrong)
	}
	if a := e.get("/api/status"); a.status != http.StatusTooManyRequests {
		t.Errorf("bearer while logins are blocked: %d", a.status)
	}
}

// TestBearerGuessesAreThrottled: wrong bearer tokens count as wrong logins,
// on the console's routes and on /metrics, and a blocked address gets 429
// for its bearer tokens, the right one too. Before, only POST /login was
// throttled: a guesser sent "Authorization: Bearer <guess>" to
// /api/status or /metrics as fast as it liked (admin_token may be as short
// as 3 characters), and the login throttle protected nothing.
func TestBearerGuessesAreThrottled(t *testing.T) {
	e := newEnv(t)
	cookie := e.login() // logged in before the guessing starts
	for i, path := range []string{"/api/status", "/metrics", "/api/scripts", "/metrics"} {
		if a := e.do(request{method: "GET", path: path, bearer: "guess" + strconv.Itoa(i)}); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong bearer %d on %s: %d %s", i+1, path, a.status, a.body)
		}
	}
	if a := e.do(request{method: "POST", path: "/api/try", body: `{"user":"me"}`, bearer: "guess5", origin: "-"}); a.status != http.StatusUnauthorized {
		t.Fatalf("fifth wrong bearer: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/api/status", "/metrics"} {
		a := e.do(request{method: "GET", path: path, bearer: adminToken})
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
			t.Errorf("right bearer on %s while blocked: %d %v %s", path, a.status, a.header, a.body)
		}
	}
	if a := e.do(request{method: "POST", path: "/login", body: "token=" + adminToken, form: true}); a.status != http.StatusTooManyRequests {
		t.Errorf("login while blocked: %d", a.status)
	}
	// The operator logged in already keeps working: the cookie is no guess.
	if a := e.do(request{method: "GET", path: "/api/status", cookie: cookie}); a.status != http.StatusOK {
		t.Errorf("cookie while blocked: %d %s", a.status, a.body)
	}
	e.clock.Advance(61 * time.Second)
	if a := e.get("/api/status"); a.status != http.StatusOK {
		t.Errorf("right bearer after the minute: %d %s", a.status, a.body)
	}
}

// TestOriginCheck: a state change with the cookie needs the console's own
// Origin; one with the bearer token needs none.
func TestOriginCheck(t *testing.T) {
	e := newEnv(t)
	cookie := e.login()
	try := `{"user":"me","content":"count"}`
	for _, c := range []struct {
		name   string
		req    request
		status int
	}{
		{"try, cookie, no Origin", request{method: "POST", path: "/api/try", body: try, cookie: cookie, origin: "-"}, http.StatusForbidden},
		{"try, cookie, other site", request{method: "POST", path: "/api/try", body: try, cookie: cookie, origin: "https://evil.example"}, http.StatusForbidden},
		{"try, cookie, other port", request{method: "POST", path: "/api/try", body: try, cookie: cookie, origin: "http://127.0.0.1:1"}, http.StatusForbidden},
		{"try, cookie, null", request{method: "POST", path: "/api/try", body: try, cookie: cookie, origin: "null"}, http.StatusForbidden},
		{"try, cookie, own Origin", request{method: "POST", path: "/api/try", body: try, cookie: cookie}, http.StatusOK},
		{"try, bearer, no Origin", request{method: "POST", path: "/api/try", body: try, bearer: adminToken, origin: "-"}, http.StatusOK},
		{"delete, cookie, other site", request{method: "DELETE", path: "/api/sessions/console-me", cookie: cookie, origin: "https://evil.example"}, http.StatusForbidden},
		{"delete, cookie, no Origin", request{method: "DELETE", path: "/api/sessions/console-me", cookie: cookie, origin: "-"}, http.StatusForbidden},
		{"login, other site", request{method: "POST", path: "/login", body: "token=" + adminToken, form: true, origin: "https://evil.example"}, http.StatusForbidden},
		{"logout, other site", request{method: "POST", path: "/logout", cookie: cookie, origin: "https://evil.example"}, http.StatusForbidden},
		{"delete, cookie, own Origin", request{method: "DELETE", path: "/api/sessions/console-me", cookie: cookie}, http.StatusNoContent},
	} {
		a := e.do(c.req)
		if a.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, a.status, a.body, c.status)
		}
		if a.status == http.StatusForbidden && !strings.Contains(a.body, "Origin") {
			t.Errorf("%s: the refusal does not say why: %s", c.name, a.body)
		}
	}
	// Refused requests changed nothing: one count from the two accepted tries, deleted since.
	if a := e.get("/api/sessions/console-me"); a.status != http.StatusNotFound {
		t.Errorf("session after the refused requests: %d %s", a.status, a.body)
	}
}

// TestSecurityHeaders: every answer, pages and errors included, carries
// the console's CSP.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, r := range []request{
		{method: "GET", path: "/"},
		{method: "GET", path: "/assets/app.js"},
		{method: "GET", path: "/assets/app.css"},
		{method: "GET", path: "/api/status", bearer: adminToken},
		{method: "GET", path: "/api/status"},
		{method: "POST", path: "/api/try", body: "{", bearer: adminToken},
		{method: "POST", path: "/login", body: "token=x", form: true},
	} {
		a := e.do(r)
		csp := a.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "img-src 'self' https: http: data:") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s %s: CSP %q", r.method, r.path, csp)
		}
		if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s %s: headers %v", r.method, r.path, a.header)
		}
	}
	if a := e.do(request{method: "GET", path: "/assets/"}); a.status != http.StatusNotFound {
		t.Errorf("/assets/ lists the files: %d", a.status)
	}
	page := e.do(request{method: "GET", path: "/"})
	if page.status != http.StatusOK || !strings.Contains(page.body, `<script src="/assets/app.js"`) || strings.Contains(page.body, "<script>") {
		t.Errorf("page: %d, inline script or no app.js:\n%s", page.status, page.body)
	}
	for _, ext := range []string{"http://", "https://", "//cdn"} {
		for _, asset := range []string{"/", "/assets/app.css"} {
			if body := e.do(request{method: "GET", path: asset}).body; strings.Contains(body, "src=\""+ext) || strings.Contains(body, "href=\""+ext) || strings.Contains(body, "url("+ext) {
				t.Errorf("%s loads something from elsewhere (%s)", asset, ext)
			}
		}
	}
}

// heldBody is a request body that blocks its first read until release is
// closed, and says (on reading) when the handler got that far.
type heldBody struct {
	reading chan<- struct{}
	release <-chan struct{}
	body    io.Reader
	once    sync.Once
}

func (b *heldBody) Read(p []byte) (int, error) {
	b.once.Do(func() { b.reading <- struct{}{}; <-b.release })
	return b.body.Read(p)
}

// loginFrom is a login request from a peer address, its body held until
// release is closed.
func loginFrom(e *env, remote, token string, reading chan<- struct{}, release <-chan struct{}) *http.Request {
	u, _ := url.Parse(e.srv.URL)
	req := httptest.NewRequest("POST", "/login", &heldBody{reading: reading, release: release, body: strings.NewReader("token=" + token)})
	req.Host = u.Host
	req.RemoteAddr = remote
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return req
}

// TestLoginThrottleConcurrent: wrong tokens sent at once (on many
// connections, their bodies held back until each request is past the
// throttle's first look) are counted as they are checked: the sixth and
// later are refused without a check, as sent one by one. Before, every
// request that arrived before the fifth failure was counted got its token
// checked: a guesser opening many connections had no limit at all.
func TestLoginThrottleConcurrent(t *testing.T) {
	e := newEnv(t)
	const n = 20
	reading, release := make(chan struct{}), make(chan struct{})
	codes := make(chan int, n)
	for i := range n {
		req := loginFrom(e, "198.51.100.7:"+strconv.Itoa(40000+i), "wrong"+strconv.Itoa(i), reading, release)
		go func() {
			rec := httptest.NewRecorder()
			e.mux.ServeHTTP(rec, req)
			codes <- rec.Code
		}()
	}
	for range n {
		<-reading // every request is reading its body
	}
	close(release)
	count := map[int]int{}
	for range n {
		count[<-codes]++
	}
	if count[http.StatusUnauthorized] > 5 || count[http.StatusTooManyRequests] != n-count[http.StatusUnauthorized] {
		t.Errorf("answers %v: want at most 5 wrong tokens checked, the rest 429", count)
	}
}

// TestLoginThrottleAddresses: the throttle counts an IPv6 client by its
// /64 — the least a host is given, so one machine can use any address in
// it — and an IPv4 client the same whether it comes as 198.51.100.7 or,
// on a dual-stack listener, as ::ffff:198.51.100.7. Before, each of the
// 2^64 addresses of one IPv6 machine had five guesses a minute of its own.
func TestLoginThrottleAddresses(t *testing.T) {
	e := newEnv(t)
	login := func(remote, token string) int {
		t.Helper()
		reading, release := make(chan struct{}, 1), make(chan struct{})
		close(release)
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, loginFrom(e, remote, token, reading, release))
		return rec.Code
	}
	for i := range 5 {
		if code := login(fmt.Sprintf("[2001:db8:1:2::%x]:4000", i+1), "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i+1, code)
		}
	}
	if code := login("[2001:db8:1:2:ffff::9]:4000", adminToken); code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: %d, want 429", code)
	}
	if code := login("[2001:db8:1:3::1]:4000", adminToken); code != http.StatusOK {
		t.Errorf("another /64: %d, want 200", code)
	}
	for i := range 5 {
		remote := "198.51.100.7:4000"
		if i%2 == 1 {
			remote = "[::ffff:198.51.100.7]:4000"
		}
		if code := login(remote, "wrong"); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d from %s: %d", i+1, remote, code)
		}
	}
	if code := login("198.51.100.7:4001", adminToken); code != http.StatusTooManyRequests {
		t.Errorf("IPv4 after wrong tokens as IPv4 and IPv4-mapped IPv6: %d, want 429", code)
	}
	// Headers a client writes itself name no other address.
	reading, release := make(chan struct{}, 1), make(chan struct{})
	close(release)
	req := loginFrom(e, "198.51.100.7:4002", adminToken, reading, release)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Real-IP", "203.0.113.9")
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("a blocked client claiming another address in X-Forwarded-For: %d, want 429", rec.Code)
	}
}

// TestBearerGuessesOnOpenRoutes: POST /login and /logout are open, but
// their Origin check lets a valid bearer token through without an Origin:
// that check is a comparison with the admin token too, and counts. Before,
// a guess there was unthrottled and told right from wrong (204 or 400
// against 403 "no Origin header").
func TestBearerGuessesOnOpenRoutes(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		path := []string{"/logout", "/login"}[i%2]
		a := e.do(request{method: "POST", path: path, bearer: "guess" + strconv.Itoa(i), origin: "-"})
		if a.status != http.StatusForbidden {
			t.Fatalf("wrong bearer %d on %s: %d %s", i+1, path, a.status, a.body)
		}
	}
	for _, path := range []string{"/logout", "/login"} {
		if a := e.do(request{method: "POST", path: path, bearer: adminToken, origin: "-"}); a.status == http.StatusNoContent || a.status == http.StatusBadRequest {
			t.Errorf("the right bearer on %s while blocked gets through the Origin check: %d %s", path, a.status, a.body)
		}
	}
	if a := e.get("/api/status"); a.status != http.StatusTooManyRequests {
		t.Errorf("right bearer on /api/status after 5 guesses on the open routes: %d", a.status)
	}
}

// A request under /api/ that no route takes is answered in JSON like every
// API answer, after the same authentication: 405 with Allow for a known
// path, 404 for an unknown one (the mux's own answers are plain text).
func TestUnknownAPIRoutes(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path string
		status       int
		allow, error string
	}{
		{"GET", "/api/nothing-here", http.StatusNotFound, "", "no API route /api/nothing-here"},
		{"GET", "/api/sessions/", http.StatusNotFound, "", "no API route /api/sessions/"},
		{"POST", "/api/status", http.StatusMethodNotAllowed, "GET", "POST /api/status: the method is not allowed; use GET"},
		{"PUT", "/api/sessions/console-me", http.StatusMethodNotAllowed, "GET, DELETE", "use GET or DELETE"},
	} {
		if a := e.do(request{method: c.method, path: c.path}); a.status != http.StatusUnauthorized {
			t.Errorf("%s %s without the token: %d %s, want 401", c.method, c.path, a.status, a.body)
		}
		a := e.do(request{method: c.method, path: c.path, bearer: adminToken, origin: "-"})
		if a.status != c.status || !strings.Contains(a.body, c.error) || a.header.Get("Allow") != c.allow ||
			!strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d Allow=%q %s %s, want %d Allow=%q with %q", c.method, c.path, a.status, a.header.Get("Allow"),
				a.header.Get("Content-Type"), a.body, c.status, c.allow, c.error)
		}
	}
}
