package bottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host/client/fakewechat"
)

// ---- the WeChat API: t.api ----

// apiAnswer answers one call of an endpoint with a JSON value.
type apiAnswer func(ctx context.Context, c fakewechat.Call) any

// apiFakes are a test's answers of the fake WeChat API, by endpoint (the
// API path without /cgi-bin/: "user/info"). Its respond is the fake
// server's Responder.
type apiFakes struct {
	mu      sync.Mutex
	answers map[string]apiAnswer
}

// credentialEndpoints are answered by the fake server itself, unless a
// test fails them: the access token and the jsapi ticket it issues.
var credentialEndpoints = map[string]bool{"token": true, "stable_token": true, "ticket/getticket": true}

// endpointName turns an API path ("/cgi-bin/user/info",
// "/sns/userinfo") or what a test wrote ("user/info", "/cgi-bin/user/info")
// into the endpoint name: the path without its leading "/cgi-bin/" or "/".
func endpointName(s string) string {
	s = strings.TrimPrefix(s, "/")
	return strings.TrimPrefix(s, "cgi-bin/")
}

func (f *apiFakes) on(endpoint string, a apiAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = map[string]apiAnswer{}
	}
	f.answers[endpointName(endpoint)] = a
}

// respond answers a call with its endpoint's fake, or {errcode = 0,
// errmsg = "ok"} when the test set none; the credentials are left to the
// server.
func (f *apiFakes) respond(ctx context.Context, c fakewechat.Call) (any, bool) {
	name := endpointName(c.Path)
	f.mu.Lock()
	a := f.answers[name]
	f.mu.Unlock()
	switch {
	case a != nil:
		return a(ctx, c), true
	case credentialEndpoints[name]:
		return nil, false
	}
	return map[string]any{"errcode": 0, "errmsg": "ok"}, true
}

// ---- robot.http: t.http ----

// httpAnswer answers one robot.http request: a response, or an error that
// the script sees as robot.http's nil, err.
type httpAnswer func(ctx context.Context, r *httpCall) (httpResponse, error)

// httpCall is a robot.http request as the fakes saw it.
type httpCall struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

type httpFake struct {
	pattern string
	re      *regexp.Regexp
	answer  httpAnswer
}

// httpFakes is the transport of a test's robot.http: every request is
// recorded and answered by the newest fake whose pattern matches its URL;
// none reaches the network.
type httpFakes struct {
	mu    sync.Mutex
	fakes []httpFake
	calls []httpCall
}

// urlPattern compiles a t.http:on pattern: the URL as written, where each
// * matches anything ("/" and the query included).
func urlPattern(p string) *regexp.Regexp {
	parts := strings.Split(p, "*")
	for i, s := range parts {
		parts[i] = regexp.QuoteMeta(s)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

func (f *httpFakes) on(pattern string, a httpAnswer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fakes = append(f.fakes, httpFake{pattern: pattern, re: urlPattern(pattern), answer: a})
}

// matches reports whether the fake's pattern matches u, as sent or with
// its escapes decoded (a pattern may say "天气/北京" for "%E5%8C%97...").
func (h httpFake) matches(u string) bool {
	if h.re.MatchString(u) {
		return true
	}
	dec, err := url.PathUnescape(u)
	return err == nil && h.re.MatchString(dec)
}

func (f *httpFakes) recorded() []httpCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]httpCall(nil), f.calls...)
}

// errNoHTTPFake is the error of a request no fake answers.
var errNoHTTPFake = errors.New("no t.http:on fake matches this URL (a test never reaches the network)")

// RoundTrip implements http.RoundTripper.
func (f *httpFakes) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	call := httpCall{Method: req.Method, URL: req.URL.String(), Header: req.Header.Clone(), Body: body}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	var answer httpAnswer
	for i := len(f.fakes) - 1; i >= 0; i-- {
		if f.fakes[i].matches(call.URL) {
			answer = f.fakes[i].answer
			break
		}
	}
	f.mu.Unlock()
	if answer == nil {
		return nil, errNoHTTPFake
	}
	res, err := answer(req.Context(), &call)
	if err != nil {
		return nil, err
	}
	if res.delay > 0 {
		// A slow upstream, on the real clock: the request's own timeout
		// and the handler's deadline apply as they would.
		t := time.NewTimer(res.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	resp := res.response()
	resp.Request = req
	return resp, nil
}

// httpResponse is a canned response.
type httpResponse struct {
	status int
	header http.Header
	body   []byte
	delay  time.Duration // how long the upstream takes to answer
}

// response makes the http.Response of r; each request gets its own.
func (r httpResponse) response() *http.Response {
	h := r.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", r.status, http.StatusText(r.status)),
		StatusCode:    r.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(r.body)),
		ContentLength: int64(len(r.body)),
	}
}
