// Package admin is the operator's listener: health and readiness for load
// balancers and containers, and Prometheus metrics behind a bearer token.
// It is an http.Handler, served by `luarobot serve` on admin_addr and
// mountable in any Go mux:
//
//	h, err := admin.New(admin.Options{
//		Token:   adminToken,
//		Metrics: m.Handler(),
//		Ready:   []admin.Check{{Name: "store", Func: pingStore}},
//	})
//	mux.Handle("/admin/", http.StripPrefix("/admin", h))
//
// Routes: GET /healthz answers 200 "ok" while the process serves; GET
// /readyz answers 200 "ok" when every readiness check passes, else 503 with
// the reasons, one per line (both open, for probes); GET /metrics needs
// "Authorization: Bearer <admin_token>".
//
// Other features (the console) add their routes with Handle, open, or
// HandleAuthenticated, behind the same token; AddAuthenticator lets them
// accept their own credentials (a session cookie) beside the bearer token.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Check is one readiness condition: Func returns nil when it holds, else
// the reason it does not ("scripts: not loaded yet").
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// DefaultCheckTimeout bounds one readiness check: a probe that hangs tells
// the load balancer nothing, and a store that does not answer in that time
// is not ready.
const DefaultCheckTimeout = 2 * time.Second

// Options configure a Handler.
type Options struct {
	// Token is admin_token: the bearer token of /metrics and of the routes
	// added with HandleAuthenticated. Required.
	Token string
	// Metrics serves /metrics (metrics.Metrics.Handler); nil answers 404.
	Metrics http.Handler
	// Ready are the readiness checks of /readyz, run in order.
	Ready []Check
	// CheckTimeout bounds each check (DefaultCheckTimeout when 0).
	CheckTimeout time.Duration
}

// Handler is the admin listener's handler. It is safe for concurrent use,
// routes added after it started serving included.
type Handler struct {
	mux          *http.ServeMux
	tokenSum     [sha256.Size]byte
	ready        []Check
	checkTimeout time.Duration

	mu    sync.RWMutex
	extra []func(*http.Request) bool
	guard func(r *http.Request, check func() bool) (ok bool, retryAfter time.Duration)
}

// New builds the handler with its built-in routes.
func New(opts Options) (*Handler, error) {
	if opts.Token == "" {
		return nil, errors.New("admin: a token (admin_token) is required")
	}
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	h := &Handler{
		mux:          http.NewServeMux(),
		tokenSum:     sha256.Sum256([]byte(opts.Token)),
		ready:        opts.Ready,
		checkTimeout: opts.CheckTimeout,
	}
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	h.mux.HandleFunc("GET /readyz", h.serveReady)
	metrics := opts.Metrics
	if metrics == nil {
		metrics = http.NotFoundHandler()
	}
	h.HandleAuthenticated("GET /metrics", metrics)
	return h, nil
}

// ServeHTTP serves the routes. Answers are never cached: they describe the
// process as it is now.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// Handle adds an open route (http.ServeMux pattern syntax: "GET /login").
func (h *Handler) Handle(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, handler)
}

// HandleAuthenticated adds a route that answers 401 unless the request
// carries the admin token (or passes an authenticator added with
// AddAuthenticator).
func (h *Handler) HandleAuthenticated(pattern string, handler http.Handler) {
	h.mux.Handle(pattern, h.RequireAuth(handler))
}

// RequireAuth wraps handler so that it runs only for authenticated
// requests.
func (h *Handler) RequireAuth(handler http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, retryAfter := h.Authenticate(r)
		if !ok && retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
			writeText(w, http.StatusTooManyRequests, "too many wrong tokens from your address: try again later\n")
			return
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="luarobot admin"`)
			writeText(w, http.StatusUnauthorized, "unauthorized: send Authorization: Bearer <admin_token>\n")
			return
		}
		handler.ServeHTTP(w, r)
	})
}

// AddAuthenticator accepts requests for which f returns true as
// authenticated too (the console's session cookie).
func (h *Handler) AddAuthenticator(f func(*http.Request) bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.extra = append(h.extra, f)
}

// GuardTokens makes attempt throttle the bearer tokens of every
// authenticated route (the console's login throttle: a bearer token is a
// login too, and must not be a way around its limit). attempt runs check,
// the comparison with admin_token, unless the client of r is blocked
// (then retryAfter > 0), and counts a wrong token.
func (h *Handler) GuardTokens(attempt func(r *http.Request, check func() bool) (ok bool, retryAfter time.Duration)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.guard = attempt
}

// Authenticated reports whether r carries "Authorization: Bearer
// <admin_token>" or passes an added authenticator.
func (h *Handler) Authenticated(r *http.Request) bool {
	ok, _ := h.Authenticate(r)
	return ok
}

// Authenticate is Authenticated, and says how long the client of r is
// refused (retryAfter > 0) when the guard of GuardTokens blocks its
// bearer tokens.
func (h *Handler) Authenticate(r *http.Request) (ok bool, retryAfter time.Duration) {
	h.mu.RLock()
	extra, guard := h.extra, h.guard
	h.mu.RUnlock()
	if scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		check := func() bool { return h.CheckToken(strings.TrimSpace(token)) }
		if guard == nil {
			ok = check()
		} else {
			ok, retryAfter = guard(r, check)
		}
		if ok {
			return true, 0
		}
	}
	for _, f := range extra {
		if f(r) {
			return true, 0
		}
	}
	return false, retryAfter
}

// CheckToken compares token with admin_token in constant time: hashing
// both first hides the length too.
func (h *Handler) CheckToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) == 1
}

// serveReady runs the readiness checks: 200 "ok" when all pass, else 503
// with one line per failing check.
func (h *Handler) serveReady(w http.ResponseWriter, r *http.Request) {
	var failed []string
	for _, c := range h.ready {
		if err := h.runCheck(r.Context(), c); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", c.Name, err))
		}
	}
	if len(failed) > 0 {
		writeText(w, http.StatusServiceUnavailable, "not ready\n"+strings.Join(failed, "\n")+"\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

// runCheck runs one check within the check timeout; a check that does not
// return in time is not ready (it keeps running in the background, bounded
// by its context).
func (h *Handler) runCheck(ctx context.Context, c Check) error {
	ctx, cancel := context.WithTimeout(ctx, h.checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Func(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s", h.checkTimeout)
	}
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, text)
}
