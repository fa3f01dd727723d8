package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The console's login: POST /login with the form field token sets a
// session cookie; sessions live in memory (a restart logs everyone out).

const (
	cookieName = "luarobot_console"
	// sessionTTL is how long a login lasts.
	sessionTTL = 12 * time.Hour
	// maxSessions bounds the logins kept; the oldest goes first.
	maxSessions = 256

	// The login throttle: maxFailures wrong tokens within failureWindow
	// from one address block every login from it for blockFor.
	maxFailures   = 5
	failureWindow = time.Minute
	blockFor      = time.Minute
	// maxThrottled bounds the addresses remembered.
	maxThrottled = 10000
	// maxLoginBody bounds the login form.
	maxLoginBody = 4 << 10
)

// auth holds the console's logins and the login throttle.
type auth struct {
	mux Mux
	now func() time.Time

	mu       sync.Mutex
	sessions map[[sha256.Size]byte]time.Time // hash of the cookie value → expiry
	throttle map[string]*attempts            // by client address
}

// attempts are one address's recent wrong tokens.
type attempts struct {
	failures     []time.Time
	blockedUntil time.Time
}

func newAuth(now func() time.Time) *auth {
	return &auth{now: now, sessions: map[[sha256.Size]byte]time.Time{}, throttle: map[string]*attempts{}}
}

// hasSession reports whether r carries a live login cookie. The map is
// keyed by the cookie's hash, so a lookup's timing tells nothing about
// the values it holds.
func (a *auth) hasSession(r *http.Request) bool {
	ck, err := r.Cookie(cookieName)
	if err != nil || ck.Value == "" {
		return false
	}
	key := sha256.Sum256([]byte(ck.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.sessions[key]
	if ok && !a.now().Before(exp) {
		delete(a.sessions, key)
		return false
	}
	return ok
}

// newSession makes a login and returns its cookie value.
func (a *auth) newSession() string {
	var b [32]byte
	rand.Read(b[:])
	value := base64.RawURLEncoding.EncodeToString(b[:])
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.sessions) >= maxSessions {
		var oldest [sha256.Size]byte
		var first time.Time
		for k, exp := range a.sessions {
			if first.IsZero() || exp.Before(first) {
				oldest, first = k, exp
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[sha256.Sum256([]byte(value))] = now.Add(sessionTTL)
	return value
}

func (a *auth) endSession(r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		a.mu.Lock()
		delete(a.sessions, sha256.Sum256([]byte(ck.Value)))
		a.mu.Unlock()
	}
}

// blocked reports whether addr is blocked, and until when.
func (a *auth) blocked(addr string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.blockedLocked(addr, a.now())
}

func (a *auth) blockedLocked(addr string, now time.Time) (time.Time, bool) {
	at := a.throttle[addr]
	if at == nil || !now.Before(at.blockedUntil) {
		return time.Time{}, false
	}
	return at.blockedUntil, true
}

// attempt runs check (a comparison with the admin token) for addr unless
// addr is blocked, and counts a failure, in one step: requests sent at
// once cannot all pass the look at the block before their failures count.
func (a *auth) attempt(addr string, check func() bool) (ok bool, until time.Time, blocked bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if until, blocked := a.blockedLocked(addr, now); blocked {
		return false, until, true
	}
	if check() {
		return true, time.Time{}, false
	}
	a.failedLocked(addr, now)
	return false, time.Time{}, false
}

// failedLocked counts a wrong token from addr; the maxFailures-th within
// the window blocks it.
func (a *auth) failedLocked(addr string, now time.Time) {
	at := a.throttle[addr]
	if at == nil {
		if len(a.throttle) >= maxThrottled {
			a.pruneThrottle(now)
		}
		at = &attempts{}
		a.throttle[addr] = at
	}
	recent := at.failures[:0]
	for _, t := range at.failures {
		if now.Sub(t) < failureWindow {
			recent = append(recent, t)
		}
	}
	at.failures = append(recent, now)
	if len(at.failures) >= maxFailures {
		at.blockedUntil = now.Add(blockFor)
		at.failures = nil
	}
}

// pruneThrottle forgets addresses with nothing recent; if every one is
// recent, it forgets them all rather than grow without bound.
func (a *auth) pruneThrottle(now time.Time) {
	for addr, at := range a.throttle {
		last := at.blockedUntil
		if n := len(at.failures); n > 0 && at.failures[n-1].Add(failureWindow).After(last) {
			last = at.failures[n-1].Add(failureWindow)
		}
		if !now.Before(last) {
			delete(a.throttle, addr)
		}
	}
	if len(a.throttle) >= maxThrottled {
		clear(a.throttle)
	}
}

// clientAddr is the address logins are throttled by: the peer's IPv4
// address, or the /64 of its IPv6 address — the least a host is given, so
// one machine can use any address in it.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		prefix, _ := ip.Prefix(64)
		return prefix.String()
	}
	return ip.String()
}

// wantsJSON tells the page's fetch (Accept: application/json) from a plain
// form post, which gets a redirect.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// login is POST /login: the form field token against admin_token.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if until, ok := c.auth.blocked(addr); ok { // no need to read the form
		c.tooManyLogins(w, r, addr, until)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		c.loginAnswer(w, r, http.StatusBadRequest, "the login form could not be read: "+err.Error())
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		c.loginAnswer(w, r, http.StatusBadRequest, "the form field token (the admin token) is required")
		return
	}
	ok, until, blocked := c.auth.attempt(addr, func() bool { return c.auth.mux.CheckToken(token) })
	if blocked {
		c.tooManyLogins(w, r, addr, until)
		return
	}
	if !ok {
		c.log.Warn("console: wrong admin token at login", "remote", addr)
		c.loginAnswer(w, r, http.StatusUnauthorized, "wrong admin token")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    c.auth.newSession(),
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   isHTTPS(r),
	})
	c.log.Info("console: logged in", "remote", addr)
	c.loginAnswer(w, r, http.StatusOK, "")
}

// tooManyLogins answers a login from a blocked address.
func (c *Console) tooManyLogins(w http.ResponseWriter, r *http.Request, addr string, until time.Time) {
	wait := max(until.Sub(c.opts.Now()), time.Second)
	w.Header().Set("Retry-After", retryAfter(wait))
	c.loginAnswer(w, r, http.StatusTooManyRequests, tooManyMessage(addr, wait))
}

// tooManyAttempts answers an API request whose bearer token the
// throttle refused.
func (c *Console) tooManyAttempts(w http.ResponseWriter, addr string, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	c.writeError(w, http.StatusTooManyRequests, tooManyMessage(addr, wait))
}

func retryAfter(wait time.Duration) string {
	return strconv.Itoa(int((wait + time.Second - 1) / time.Second))
}

func tooManyMessage(addr string, wait time.Duration) string {
	return fmt.Sprintf("too many wrong tokens from %s: try again in %s", addr, wait.Round(time.Second))
}

// attemptBearer is the throttle of bearer tokens (admin.Handler's
// GuardTokens): a bearer token is a login, counted and refused as one.
func (a *auth) attemptBearer(r *http.Request, check func() bool) (bool, time.Duration) {
	ok, until, blocked := a.attempt(clientAddr(r), check)
	if blocked {
		return false, max(until.Sub(a.now()), time.Second)
	}
	return ok, 0
}

// loginAnswer answers the page's fetch with JSON, a plain form post with a
// redirect to the page.
func (c *Console) loginAnswer(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsJSON(r) {
		if status == http.StatusOK {
			c.writeJSON(w, status, map[string]bool{"ok": true})
			return
		}
		c.writeError(w, status, msg)
		return
	}
	target := "/"
	if status != http.StatusOK {
		target += "?login=" + url.QueryEscape(strconv.Itoa(status))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// logout is POST /logout: the cookie's login ends.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	c.auth.endSession(r)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
	w.WriteHeader(http.StatusNoContent)
}

// isHTTPS reports whether the browser reached the console over TLS (here,
// or at a proxy in front).
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// sameOrigin refuses a state-changing request made with the cookie unless
// its Origin is the console itself: another site's page cannot make the
// operator's browser act (SameSite=Strict is the first guard, this the
// second). A request with a valid bearer token carries no ambient
// credential and needs no Origin.
func (c *Console) sameOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c.hasBearer(r) {
			h.ServeHTTP(w, r)
			return
		}
		origin := r.Header.Get("Origin")
		if origin == "" {
			c.writeError(w, http.StatusForbidden, "no Origin header: the console's page sends one; API clients send Authorization: Bearer <admin_token>")
			return
		}
		u, err := url.Parse(origin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			c.log.Warn("console: request from another origin refused", "origin", origin, "host", r.Host, "path", r.URL.Path)
			c.writeError(w, http.StatusForbidden, fmt.Sprintf("Origin %q is not this console (%s)", origin, r.Host))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hasBearer reports whether r carries the admin token as a bearer token.
// The comparison goes through the throttle: on the open routes (login,
// logout) it is the only check of the token, and must not be a way to
// guess it.
func (c *Console) hasBearer(r *http.Request) bool {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	ok, _ := c.auth.attemptBearer(r, func() bool { return c.auth.mux.CheckToken(strings.TrimSpace(token)) })
	return ok
}
