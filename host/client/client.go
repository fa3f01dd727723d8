package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/memory"
)

// Defaults for the zero values of Options.
const (
	DefaultAPIBase  = "https://api.weixin.qq.com"
	DefaultTimeout  = 15 * time.Second
	DefaultMediaDir = "media"
)

// WeChat serves the QR-code images and the OAuth consent page from other
// hosts than the API. A Client pointed at another APIBase (a fake server, the
// simulator) uses that base for them too, so nothing leaks to the real hosts.
const (
	defaultMPBase   = "https://mp.weixin.qq.com"
	defaultOpenBase = "https://open.weixin.qq.com"
)

// Size limits: a JSON answer is small; media downloads and uploads are capped
// a little above WeChat's own limits (10 MB for images and videos, 20 MB for
// permanent video) so that a runaway answer cannot exhaust memory.
const (
	maxJSONAnswer  = 8 << 20
	maxMediaAnswer = 64 << 20
	maxUpload      = 64 << 20
)

// Options configures a Client. AppID and AppSecret are required; every other
// field has a default.
type Options struct {
	AppID, AppSecret string
	// APIBase is the root of the WeChat API (DefaultAPIBase when empty).
	APIBase string
	// UseStableToken fetches the access token from /cgi-bin/stable_token,
	// so that several deployments of one account do not invalidate each
	// other's token.
	UseStableToken bool
	// Tokens caches the access token and the jsapi ticket. Nil keeps them
	// in memory only: every restart then fetches a new token.
	Tokens store.Tokens
	// Timeout bounds each HTTP request to WeChat (DefaultTimeout when 0).
	// The caller's context can end a request sooner.
	Timeout time.Duration
	// ProxyURL sends every request through an HTTP(S) or SOCKS5 proxy:
	// WeChat only answers callers on the account's IP whitelist, and a
	// proxy gives a fixed egress IP. Ignored when HTTPClient is set.
	ProxyURL string
	// MediaDir is the only folder uploads read from and downloads write to
	// (DefaultMediaDir when empty).
	MediaDir string
	// ForbiddenDirs are folders that a download must never be saved into
	// or under, even when MediaDir overlaps them: the scripts folder above
	// all, where a saved .lua file would be code that hot reload runs.
	// Relative paths are taken from the working directory, as MediaDir is.
	ForbiddenDirs []string
	// DownloadDir, when set, is where downloads are saved instead of
	// MediaDir, and where uploads look first: luarobot test gives each
	// test one, so that a test never writes over the real media files.
	DownloadDir string
	// HTTPClient replaces the client built from ProxyURL. The Client uses
	// a copy whose CheckRedirect refuses every redirect: WeChat's API does
	// not redirect, and following one would carry the credentials along.
	HTTPClient *http.Client
	// Logger receives one line per failed call and per token fetch
	// (slog.Default() when nil).
	Logger *slog.Logger
	// Metrics counts the calls by endpoint and errcode, and the access
	// token fetches; nil counts nothing.
	Metrics *metrics.Metrics
	// Now is the clock of the access token's and the jsapi ticket's
	// expiry, and of the back-off after failed fetches (default
	// time.Now): a test harness moves it forward past an expiry.
	Now func() time.Time
}

// Client calls the WeChat API on behalf of one Official Account. It is safe
// for concurrent use.
type Client struct {
	appID, secret string
	apiBase       string
	mpBase        string
	openBase      string
	stable        bool
	tokens        store.Tokens
	timeout       time.Duration
	mediaDir      string
	downloadDir   string // "" saves into mediaDir
	forbiddenDirs []string
	http          *http.Client
	log           *slog.Logger
	metrics       *metrics.Metrics
	now           func() time.Time // the credentials' expiry and back-off clock

	access *credential
	ticket *credential
}

// New returns a Client for the account. It does not contact WeChat: the
// access token is fetched on first need.
func New(opts Options) (*Client, error) {
	if opts.AppID == "" || opts.AppSecret == "" {
		return nil, errors.New("client: app_id and app_secret are required to call the WeChat API")
	}
	c := &Client{
		appID:    opts.AppID,
		secret:   opts.AppSecret,
		apiBase:  DefaultAPIBase,
		mpBase:   defaultMPBase,
		openBase: defaultOpenBase,
		stable:   opts.UseStableToken,
		tokens:   opts.Tokens,
		timeout:  opts.Timeout,
		mediaDir: opts.MediaDir,
		log:      opts.Logger,
		// A folder of the caller's (a test's): it may be named anything.
		downloadDir: opts.DownloadDir,
		metrics:     opts.Metrics,
		now:         time.Now,
	}
	if opts.APIBase != "" {
		u, err := url.Parse(opts.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("client: api_base %q is not an http(s) URL", opts.APIBase)
		}
		base := strings.TrimRight(opts.APIBase, "/")
		if base != DefaultAPIBase {
			c.apiBase, c.mpBase, c.openBase = base, base, base
		}
	}
	if opts.Now != nil {
		c.now = opts.Now
	}
	if c.tokens == nil {
		c.tokens = memory.New(memory.Options{Now: c.now}) // kept for this process only
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.mediaDir == "" {
		c.mediaDir = DefaultMediaDir
	}
	for _, d := range opts.ForbiddenDirs {
		if d != "" {
			c.forbiddenDirs = append(c.forbiddenDirs, d)
		}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if opts.HTTPClient != nil {
		hc := *opts.HTTPClient
		c.http = &hc
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.ProxyURL != "" {
			// The proxy URL may hold a password: errors show it without.
			u, err := url.Parse(opts.ProxyURL)
			if err != nil || u.Host == "" {
				return nil, fmt.Errorf("client: proxy URL %q is not a URL such as http://10.0.0.1:3128", redactURL(opts.ProxyURL))
			}
			switch u.Scheme {
			case "http", "https", "socks5", "socks5h":
			default:
				return nil, fmt.Errorf("client: proxy URL %q: scheme must be http, https or socks5", redactURL(opts.ProxyURL))
			}
			tr.Proxy = http.ProxyURL(u)
		}
		c.http = &http.Client{Transport: tr}
	}
	c.http.CheckRedirect = refuseRedirect
	c.access = &credential{c: c, name: "access token", key: c.appID + ":access_token", fetch: c.fetchAccessToken}
	c.ticket = &credential{c: c, name: "jsapi ticket", key: c.appID + ":jsapi_ticket", fetch: c.fetchJSAPITicket}
	return c, nil
}

// AppID returns the account's AppID.
func (c *Client) AppID() string { return c.appID }

// Call sends one request to an API path (such as "/cgi-bin/menu/get") that
// may not be wrapped as a method yet, with the access token added to the
// query. body is encoded as JSON (nil sends no body; []byte and
// json.RawMessage are sent as they are). When WeChat answers 40001, 40014 or
// 42001 the token is refreshed and the request retried once. The answer is
// the decoded JSON object; integers that a float64 cannot hold exactly come
// back as strings.
func (c *Client) Call(ctx context.Context, httpMethod, path string, query url.Values, body any) (map[string]any, error) {
	if err := checkCallPath(path); err != nil {
		return nil, err
	}
	httpMethod = strings.ToUpper(httpMethod)
	if httpMethod == "" {
		httpMethod = http.MethodGet
		if body != nil {
			httpMethod = http.MethodPost
		}
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = append([]string(nil), v...)
	}
	r := &request{name: "call " + path, method: httpMethod, path: path, query: q, body: body, auth: authApp}
	res, _, err := c.do(ctx, r)
	return res, err
}

// checkCallPath refuses a Call path that is not a plain path under
// api_base: the URL is built by appending the query, so a '?' or '#' in the
// path would mix the caller's text with the access token, and a control
// character makes net/http fail with the whole URL in its error.
func checkCallPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("wechat call: path %q must start with / (it is relative to api_base)", path)
	}
	if i := strings.IndexFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("wechat call: path %q contains a control character at byte %d", path, i)
	}
	if strings.ContainsAny(path, "?#") {
		return fmt.Errorf("wechat call: path %q must not contain ? or #: pass query parameters in the query argument", path)
	}
	return nil
}

// authMode says which credential a request carries.
type authMode int

const (
	authApp  authMode = iota // the account's access token, refreshed on 40001/40014/42001
	authNone                 // none (token endpoints, OAuth, QR-code images)
)

// request is one HTTP request to WeChat, built from a method spec or Call.
type request struct {
	name     string // method name for errors and logs
	method   string
	base     string // API root; "" is api_base
	path     string
	query    url.Values
	body     any            // JSON body
	form     *multipartForm // multipart body instead of body
	auth     authMode
	download bool // the answer is media bytes unless it is a JSON error
}

// do runs the request, adding the access token, and retries once with a new
// token when WeChat says the token is no longer valid.
func (c *Client) do(ctx context.Context, r *request) (map[string]any, *Media, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		var token string
		if r.auth == authApp {
			t, err := c.access.get(ctx)
			if err != nil {
				// The failed fetch logged its errcode and hint once; a line
				// per waiting call would only repeat it.
				c.log.Debug("wechat call without an access token", "method", r.name, "err", err)
				return nil, nil, wrapMethod(r.name, err)
			}
			token = t
		}
		res, media, err := c.roundTrip(ctx, r, token)
		var apiErr *APIError
		if err != nil && errors.As(err, &apiErr) && r.auth == authApp && attempt == 0 && tokenRejected(apiErr.Code) {
			// Another process (or WeChat itself) replaced the token: drop it
			// unless someone already did, and try once more with a new one.
			c.log.Info("wechat rejected the access token; refreshing and retrying once",
				"method", r.name, "errcode", apiErr.Code, "errmsg", apiErr.Msg)
			c.access.invalidate(ctx, token, apiErr)
			continue
		}
		if r.auth == authApp && (err == nil || apiErr != nil && !tokenRejected(apiErr.Code)) {
			c.access.confirm(token) // WeChat accepted the token
		}
		if err != nil {
			c.logError(r.name, err)
			return nil, nil, err
		}
		c.log.Debug("wechat call", "method", r.name, "path", r.path, "duration", time.Since(start))
		return res, media, nil
	}
}

func (c *Client) logError(method string, err error) {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		attrs := []any{"method", method, "errcode", apiErr.Code, "errmsg", apiErr.Msg}
		if h := Hint(apiErr.Code); h != "" {
			attrs = append(attrs, "hint", h)
		}
		c.log.Warn("wechat api error", attrs...)
		return
	}
	c.log.Warn("wechat api request failed", "method", method, "err", err)
}

// tokenRejected reports the errcodes that mean "get a new access token".
func tokenRejected(code int) bool {
	return code == 40001 || code == 40014 || code == 42001
}

// roundTrip sends the request once and decodes the answer. Its errors go
// through redact, the last line of defence for the credentials the request
// carries: whatever error text net/http or a misbehaving server produced,
// it reaches neither the log nor Lua with them.
func (c *Client) roundTrip(ctx context.Context, r *request, token string) (map[string]any, *Media, error) {
	res, media, err := c.send(ctx, r, token)
	code := 0
	if err != nil {
		code = -1 // no answer, or not one WeChat gives
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			code = apiErr.Code
		}
		err = redact(err, c.credentialsOf(r, token))
	}
	c.metrics.APICall(r.path, code)
	return res, media, err
}

// credentialsOf lists the secrets a request carries: the account's access
// token and AppSecret, and a user's OAuth tokens in the query.
func (c *Client) credentialsOf(r *request, token string) []string {
	out := []string{token, c.secret}
	for _, k := range []string{"access_token", "secret", "refresh_token"} {
		out = append(out, r.query[k]...)
	}
	return out
}

// send does the work of roundTrip.
func (c *Client) send(ctx context.Context, r *request, token string) (map[string]any, *Media, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	base := r.base
	if base == "" {
		base = c.apiBase
	}
	q := url.Values{}
	for k, v := range r.query {
		q[k] = v
	}
	if token != "" {
		q.Set("access_token", token)
	}
	u := base + r.path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}

	var body io.Reader
	contentType := ""
	switch {
	case r.form != nil:
		data, ct, err := r.form.encode()
		if err != nil {
			return nil, nil, wrapMethod(r.name, err)
		}
		body, contentType = bytes.NewReader(data), ct
	case r.body != nil:
		data, err := encodeJSON(r.body)
		if err != nil {
			return nil, nil, wrapMethod(r.name, err)
		}
		body, contentType = bytes.NewReader(data), "application/json; charset=utf-8"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		// A *url.Error with the whole URL, access_token included.
		return nil, nil, wrapMethod(r.name, transportError(err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, wrapMethod(r.name, transportError(err))
	}
	defer resp.Body.Close()

	limit := int64(maxJSONAnswer)
	if r.download {
		limit = maxMediaAnswer
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, wrapMethod(r.name, fmt.Errorf("reading the answer: %w", transportError(err)))
	}
	if int64(len(data)) > limit {
		return nil, nil, wrapMethod(r.name, fmt.Errorf("answer larger than %d bytes", limit))
	}
	ct := resp.Header.Get("Content-Type")

	if r.download && resp.StatusCode == http.StatusOK && !looksLikeJSON(ct, data) {
		return nil, &Media{Data: data, ContentType: ct}, nil
	}
	res, jerr := decodeObject(data)
	if jerr != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, nil, wrapMethod(r.name, fmt.Errorf("HTTP %s", resp.Status))
		}
		if r.download {
			return nil, &Media{Data: data, ContentType: ct}, nil
		}
		return nil, nil, wrapMethod(r.name, fmt.Errorf("answer is not a JSON object: %w", jerr))
	}
	if code := errcode(res); code != 0 {
		msg, _ := res["errmsg"].(string)
		return nil, nil, &APIError{Code: code, Msg: msg, Method: r.name}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, wrapMethod(r.name, fmt.Errorf("HTTP %s", resp.Status))
	}
	if r.download {
		// A JSON success for a download is WeChat's way of answering with a
		// link or a news item (videos, permanent news): hand it over as it is.
		return nil, &Media{Data: data, ContentType: "application/json"}, nil
	}
	return res, nil, nil
}

// transportError strips the URL from net/http's errors: it carries the
// access token or the AppSecret, which must not reach logs or Lua.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

// redactURL keeps the scheme, host and path of a URL: not its query or
// fragment (where tokens travel), nor a user:password.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	if i := strings.LastIndexByte(raw, '@'); i >= 0 {
		// Not parseable, so not rebuilt: cut anything that may be a
		// user:password, keeping the scheme.
		scheme := ""
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			scheme = raw[:j+3]
		}
		return scheme + "[redacted]@" + raw[i+1:]
	}
	return raw
}

// refuseRedirect is the http.Client's CheckRedirect: WeChat's API answers
// in place, and following a redirect would send the access token (in the
// query) or the AppSecret (a stable_token body is sent again on 307 and
// 308) to wherever it points.
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	return fmt.Errorf("refusing to follow a redirect to %s: the WeChat API does not redirect, "+
		"and following it would hand the credentials to that server (check api_base and the proxy)", req.URL.Host)
}

// redact returns err with every occurrence of the secrets (raw or
// URL-escaped) replaced, or err itself when its text holds none. An
// *APIError stays one, with its errmsg (the server's text) cleaned.
func redact(err error, secrets []string) error {
	if apiErr, ok := err.(*APIError); ok {
		if msg := scrub(apiErr.Msg, secrets); msg != apiErr.Msg {
			return &APIError{Code: apiErr.Code, Msg: msg, Method: apiErr.Method}
		}
		return err
	}
	if msg := scrub(err.Error(), secrets); msg != err.Error() {
		return &redactedError{msg: msg, err: err}
	}
	return err
}

// scrub replaces every occurrence of the secrets in s, raw or URL-escaped.
func scrub(s string, secrets []string) string {
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		s = strings.ReplaceAll(s, secret, "[redacted]")
		if e := url.QueryEscape(secret); e != secret {
			s = strings.ReplaceAll(s, e, "[redacted]")
		}
	}
	return s
}

// redactedError is an error whose text had to be cleaned. It answers
// errors.Is like the original (a deadline stays a deadline) but does not
// unwrap to it, so the original text cannot be reached.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

func wrapMethod(method string, err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return err
	}
	return fmt.Errorf("wechat %s: %w", method, err)
}

// looksLikeJSON tells a JSON error answer from media bytes: WeChat sends its
// errors as text/plain or application/json.
func looksLikeJSON(contentType string, data []byte) bool {
	ct := strings.ToLower(contentType)
	if strings.Contains(ct, "json") || strings.HasPrefix(ct, "text/plain") || ct == "" {
		return len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '{'
	}
	return false
}

// encodeJSON writes a request body as WeChat wants it: UTF-8 text as is
// (WeChat shows \uXXXX escapes literally in some places) and no HTML
// escaping, so URLs keep their & < >.
func encodeJSON(v any) ([]byte, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding the request body: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeObject parses a JSON object, keeping integers exact (see number).
func decodeObject(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null")
	}
	normalize(m)
	return m, nil
}

// maxExact is the largest integer a float64, and so a Lua number, holds
// exactly.
const maxExact = 1 << 53

// normalize replaces json.Numbers in place with int64 or float64, or with
// their digits as a string when a float64 would corrupt them (64-bit message
// ids: Lua would round them).
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		return number(v)
	case map[string]any:
		for k, e := range v {
			v[k] = normalize(e)
		}
	case []any:
		for i, e := range v {
			v[i] = normalize(e)
		}
	}
	return v
}

func number(n json.Number) any {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err == nil && i <= maxExact && i >= -maxExact {
			return i
		}
		return s
	}
	f, err := n.Float64()
	if err != nil {
		return s
	}
	return f
}

// errcode reads the errcode member of an answer (0 when absent).
func errcode(m map[string]any) int {
	switch v := m["errcode"].(type) {
	case int64:
		return int(v)
	case float64:
		return int(v)
	case string:
		n, _ := strconv.Atoi(v)
		return n
	}
	return 0
}
