// Package console is LuaRoBot's web console: a page on the admin listener
// where the operator and the script author try the live bot as a console
// user, watch reloads, script errors and the log, and look up sessions —
// and the JSON API under /api/ that the page uses and tests drive.
//
//	c, err := console.New(console.Options{Pipeline: h, Scripts: rt, Log: ring, Inbox: ib, ...})
//	c.Mount(adminHandler) // GET / (the page), POST /login, /api/...
//
// The console needs little of the host, through the small interfaces of
// this file: a way into the pipeline for console users (Pipeline), the
// delivery counters (Counters), the scripts and their reloads (Scripts),
// the log ring (Log), the inbox of console users (Inbox) and the sessions.
//
// # Security
//
// Every /api/ route needs the admin token: "Authorization: Bearer
// <admin_token>", or the cookie that POST /login sets (HttpOnly,
// SameSite=Strict) when its form field token is the admin token. Five
// wrong tokens in a minute from one address — at login or as bearer
// tokens, here or on /metrics — make every login and bearer token from it
// answer 429 for a minute, the right token too. A request that changes
// state (POST, DELETE) with the cookie must carry an Origin header naming
// this console; one with a valid bearer token needs neither. Every answer
// carries a Content-Security-Policy that allows only the console's own
// origin (images excepted: article cards show WeChat's picture URLs).
// No answer ever holds a secret: every JSON answer and log line passes
// through the redaction of Options.Secrets.
package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/logring"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store"
)

// Mux is where the console mounts: the admin listener's handler.
type Mux interface {
	// Handle adds a route (http.ServeMux patterns).
	Handle(pattern string, h http.Handler)
	// AddAuthenticator makes f's requests authenticated too.
	AddAuthenticator(f func(*http.Request) bool)
	// Authenticate reports whether r carries the admin token (or passes
	// an added authenticator); retryAfter > 0 when its bearer token was
	// refused unchecked by the guard of GuardTokens.
	Authenticate(r *http.Request) (ok bool, retryAfter time.Duration)
	// GuardTokens makes attempt throttle bearer tokens: it runs check
	// unless the client of r is blocked, and counts a wrong token.
	GuardTokens(attempt func(r *http.Request, check func() bool) (ok bool, retryAfter time.Duration))
	// CheckToken reports whether token is the admin token.
	CheckToken(token string) bool
}

// Pipeline takes the console's messages into the bot's pipeline
// (*host.Handler).
type Pipeline interface {
	DeliverConsole(ctx context.Context, msg *message.Message) (reply.Reply, error)
}

// Counters gives the delivery counters (*host.Handler).
type Counters interface {
	Stats() host.Stats
}

// Credentials gives the access token's state, never its value
// (*client.Client).
type Credentials interface {
	AccessTokenState() client.CredentialState
}

// Scripts is the Lua runtime (*luaapi.Runtime).
type Scripts interface {
	Loaded() luaapi.Loaded
	Reloads() []luaapi.ReloadRecord
	LastHandlerError() (luaapi.ErrorRecord, bool)
	Changed() <-chan struct{}
	Source(file string, line, around int) ([]luaapi.SourceLine, error)
}

// Log is the log ring (*logring.Ring).
type Log interface {
	Since(after uint64, max int, level slog.Level) []logring.Entry
	Last() uint64
	Changed() <-chan struct{}
}

// Inbox holds what the bot sent console users (*inbox.Inbox).
type Inbox interface {
	Since(openid string, after uint64) []inbox.Item
	Last() uint64
	Changed() <-chan struct{}
}

// Options configure a Console. Pipeline, Counters, Scripts, Log and Inbox
// are required.
type Options struct {
	Pipeline Pipeline
	Counters Counters
	Scripts  Scripts
	Log      Log
	Inbox    Inbox
	// Sessions are the users' sessions; nil when session_storage is off.
	Sessions store.Sessions
	// Credentials is nil on a host without app_id and app_secret.
	Credentials Credentials
	// Secrets returns every value no answer may show: the configuration's
	// secrets (config.Config.SecretValues) and the credentials of the
	// moment (client.Client.Secrets).
	Secrets func() []string
	// Mode is "plain" or "aes" (an EncodingAESKey is set).
	Mode string
	// Account is the ToUserName of console messages (default
	// "gh_console"): the original ID WeChat would send.
	Account string
	// Started is when the host started (default: when New runs).
	Started time.Time
	Logger  *slog.Logger
	// Now is the clock of the login throttle and sessions (tests).
	Now func() time.Time
}

// Console serves the console's page and API. It is safe for concurrent use.
type Console struct {
	opts    Options
	log     *slog.Logger
	version string

	auth *auth
	done chan struct{} // closed by Close: streams and long polls end
	once sync.Once

	secretsMu sync.Mutex
	secrets   []string
	redactor  *strings.Replacer
}

// New checks the options and makes a Console.
func New(opts Options) (*Console, error) {
	switch {
	case opts.Pipeline == nil:
		return nil, errors.New("console: Pipeline is required")
	case opts.Counters == nil:
		return nil, errors.New("console: Counters is required")
	case opts.Scripts == nil:
		return nil, errors.New("console: Scripts is required")
	case opts.Log == nil:
		return nil, errors.New("console: Log is required")
	case opts.Inbox == nil:
		return nil, errors.New("console: Inbox is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Now()
	}
	if opts.Account == "" {
		opts.Account = "gh_console"
	}
	if opts.Mode == "" {
		opts.Mode = "plain"
	}
	c := &Console{opts: opts, log: opts.Logger, version: buildVersion(), done: make(chan struct{})}
	c.auth = newAuth(opts.Now)
	return c, nil
}

// Mount adds the console's routes to m and its login cookie to m's
// authenticators.
func (c *Console) Mount(m Mux) {
	c.auth.mux = m
	m.AddAuthenticator(c.auth.hasSession)
	m.GuardTokens(c.auth.attemptBearer)
	routes := []struct {
		pattern string
		h       http.HandlerFunc
		authed  bool
	}{
		{"GET /{$}", c.servePage, false},
		{"GET /assets/", c.serveAsset, false},
		{"POST /login", c.login, false},
		{"POST /logout", c.logout, false},
		{"GET /api/status", c.status, true},
		{"POST /api/try", c.try, true},
		{"GET /api/inbox/{user}", c.inbox, true},
		{"GET /api/scripts", c.scripts, true},
		{"GET /api/log", c.logLines, true},
		{"GET /api/log/stream", c.logStream, true},
		{"GET /api/sessions/{openid}", c.session, true},
		{"DELETE /api/sessions/{openid}", c.deleteSession, true},
	}
	api := newAPIPaths()
	for _, r := range routes {
		h := http.Handler(r.h)
		if isStateChange(r.pattern) {
			h = c.sameOrigin(h)
		}
		if r.authed {
			h = c.requireAuth(h)
		}
		m.Handle(r.pattern, secureHeaders(h))
		api.add(r.pattern)
	}
	m.Handle("/api/", secureHeaders(c.requireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.apiFallback(api, w, r)
	}))))
}

// apiPaths knows the API's paths and their methods, for the answers to
// requests no route takes.
type apiPaths struct {
	paths   *http.ServeMux      // each API path, whatever the method
	methods map[string][]string // path pattern → its methods
}

func newAPIPaths() *apiPaths {
	return &apiPaths{paths: http.NewServeMux(), methods: map[string][]string{}}
}

func (a *apiPaths) add(pattern string) {
	method, path, _ := strings.Cut(pattern, " ")
	if !strings.HasPrefix(path, "/api/") {
		return
	}
	if _, ok := a.methods[path]; !ok {
		a.paths.Handle(path, http.NotFoundHandler())
	}
	a.methods[path] = append(a.methods[path], method)
}

// apiFallback answers a request under /api/ that no route takes, in JSON
// like every API answer (the mux's own answers are plain text): 405 with
// the allowed methods for a known path, 404 otherwise.
func (c *Console) apiFallback(api *apiPaths, w http.ResponseWriter, r *http.Request) {
	if _, pattern := api.paths.Handler(r); pattern != "" {
		allowed := api.methods[pattern]
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		c.writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: the method is not allowed; use %s", r.Method, r.URL.Path, strings.Join(allowed, " or ")))
		return
	}
	c.writeError(w, http.StatusNotFound, fmt.Sprintf("no API route %s", r.URL.Path))
}

// Close ends the log streams and long polls in progress, so that the
// listener can shut down without waiting for pages left open. The routes
// keep answering; new streams end at once.
func (c *Console) Close() {
	c.once.Do(func() { close(c.done) })
}

func isStateChange(pattern string) bool {
	method, _, _ := strings.Cut(pattern, " ")
	return method != http.MethodGet && method != http.MethodHead
}

// contentSecurityPolicy allows the console's own origin only, except
// images: article cards show WeChat's picture URLs.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' https: http: data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// secureHeaders adds the console's security headers to every answer.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		// Other sites learn nothing of the console (WeChat's picture
		// servers refuse other sites' referrers, too). Not no-referrer:
		// under it the browser sends "Origin: null" with the console's
		// own POSTs, which the Origin check must refuse.
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// requireAuth answers 401 unless the request carries the admin token or
// the console's cookie.
func (c *Console) requireAuth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retryAfter := c.auth.mux.Authenticate(r)
		if !ok && retryAfter > 0 {
			c.tooManyAttempts(w, clientAddr(r), retryAfter)
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="luarobot admin"`)
			c.writeError(w, http.StatusUnauthorized, "log in (POST /login) or send Authorization: Bearer <admin_token>")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func (c *Console) writeError(w http.ResponseWriter, status int, msg string) {
	c.writeJSON(w, status, apiError{Error: msg})
}

// writeJSON writes v as JSON with every secret value redacted: whatever a
// script put in a reply, a session or an error, no answer shows a secret.
func (c *Console) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := c.encode(v)
	if err != nil {
		c.log.Error("console: encoding an answer", "error", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// encode marshals v and redacts it.
func (c *Console) encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return c.redact(buf.Bytes()), nil
}

// redact replaces each secret value, as JSON writes it, with
// logring.Redacted, inside the strings of the JSON document b only:
// settings from the environment are strings, and a secret "true", "null"
// or "1000" replaced outside a string would make the answer invalid JSON.
func (c *Console) redact(b []byte) []byte {
	rep := c.currentRedactor()
	if rep == nil {
		return b
	}
	out := make([]byte, 0, len(b))
	for {
		open := bytes.IndexByte(b, '"')
		if open < 0 {
			return append(out, b...)
		}
		end := open + 1 // the closing quote: the first one not escaped
		for end < len(b) && b[end] != '"' {
			if b[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(b) { // not JSON: cannot happen with encoding/json's output
			return append(out, rep.Replace(string(b))...)
		}
		out = append(out, b[:open+1]...)
		out = append(out, rep.Replace(string(b[open+1:end]))...)
		out = append(out, b[end])
		b = b[end+1:]
	}
}

// currentRedactor is the replacer for the secrets as they are now, rebuilt
// when they change (the access token does every two hours).
func (c *Console) currentRedactor() *strings.Replacer {
	if c.opts.Secrets == nil {
		return nil
	}
	secrets := c.opts.Secrets()
	c.secretsMu.Lock()
	defer c.secretsMu.Unlock()
	if c.secrets != nil && slices.Equal(secrets, c.secrets) {
		return c.redactor
	}
	c.secrets = append([]string{}, secrets...)
	c.redactor = logring.Replacer(secrets, func(s string) string {
		enc, _ := json.Marshal(s) // the secret as it appears inside a JSON string
		return string(enc[1 : len(enc)-1])
	})
	return c.redactor
}

// buildVersion is the module version and VCS revision the binary was
// built from.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += " (" + rev + modified + ")"
	}
	return v
}
