package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/luarobot/luarobot/store"
)

// refreshMargin is how long before WeChat's expiry a credential stops being
// used: a request that starts with a token about to expire may reach WeChat
// after it did.
const refreshMargin = 5 * time.Minute

// Repeated failures to get a credential back off exponentially, from
// minBackoff to maxBackoff: WeChat allows 2,000 token requests a day, and a
// busy bot retrying on every message burnt thousands in seconds when the
// endpoint answered 500 or garbage, or when every token it issued was
// rejected. A failure is a fetch that did not give a credential (transport
// error, 5xx, an answer that is not JSON, an errcode), and, for the access
// token, WeChat rejecting a token fetched to replace one it had just
// rejected. During the back-off calls fail at once with a *BackoffError.
const (
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// backoffDelay is the wait after the n-th failure in a row (n >= 1).
func backoffDelay(n int) time.Duration {
	d := minBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// BackoffError is returned, without asking WeChat, while fetches of a
// credential back off after failures. It unwraps to the last failure, so
// that an errcode (40125 wrong secret, 40164 IP not whitelisted) still
// reaches scripts as one.
type BackoffError struct {
	Credential string        // "access token" or "jsapi ticket"
	Failures   int           // failures in a row
	Next       time.Time     // when the next fetch may be made
	Wait       time.Duration // from the refusal to Next
	Err        error         // the last failure
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("wechat %s unavailable after %d failed attempts in a row (last: %v); next attempt in %s, at %s",
		e.Credential, e.Failures, e.Err, e.Wait.Round(time.Second), e.Next.Format("15:04:05"))
}

func (e *BackoffError) Unwrap() error { return e.Err }

// AccessToken returns a valid access token, fetching one when none is
// cached or the cached one is about to expire.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	return c.access.get(ctx)
}

// JSAPITicket returns a valid jsapi ticket (for JS-SDK signatures), managed
// like the access token.
func (c *Client) JSAPITicket(ctx context.Context) (string, error) {
	return c.ticket.get(ctx)
}

// credential is a token that WeChat issues with an expiry: the access token
// or the jsapi ticket. The store holds it for other processes and the next
// start; cached saves a store read on every call.
type credential struct {
	c     *Client
	name  string // for logs
	key   string // the store name
	fetch func(ctx context.Context, force bool) (store.Token, map[string]any, error)

	group singleflight.Group

	mu       sync.Mutex
	cached   store.Token
	rejected string // the last value WeChat rejected: never adopted again from the store
	// previous is the value cached before this one: WeChat keeps an access
	// token working for five minutes after a new one is fetched, so it is
	// still a secret (Secrets).
	previous string

	// The back-off. failures counts failures in a row; a fetch waits for
	// retryAt. rejections counts tokens WeChat rejected with no call
	// accepted in between: the second in a row means the fresh token was
	// rejected too, which a new fetch will not cure.
	failures   int
	lastErr    error
	retryAt    time.Time
	rejections int
	unsettled  atomic.Bool // failures or rejections > 0: confirm has work

	fetches atomic.Int64 // successful fetches from WeChat (tokenstate.go)
}

// get returns a usable value: the cached one, else the stored one, else a
// new one. However many callers find none, one of them fetches.
func (cr *credential) get(ctx context.Context) (string, error) {
	t, err := cr.current(ctx)
	return t.Value, err
}

// current is get with the time the value stops being used.
func (cr *credential) current(ctx context.Context) (store.Token, error) {
	if t, ok := cr.fromCache(); ok {
		return t, nil
	}
	ch := cr.group.DoChan("get", func() (any, error) {
		// The fetch serves every waiter, so it must not die with the
		// context of the caller that happened to start it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cr.c.timeout)
		defer cancel()
		return cr.loadOrFetch(fctx)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return store.Token{}, res.Err
		}
		return res.Val.(store.Token), nil
	case <-ctx.Done():
		return store.Token{}, fmt.Errorf("waiting for the %s: %w", cr.name, ctx.Err())
	}
}

func (cr *credential) fromCache() (store.Token, bool) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.cached.Value != "" && cr.c.now().Before(cr.cached.Expires) {
		return cr.cached, true
	}
	return store.Token{}, false
}

func (cr *credential) remember(t store.Token) {
	cr.mu.Lock()
	cr.setCachedLocked(t)
	cr.mu.Unlock()
}

// setCachedLocked caches t, keeping the value it replaces as previous.
func (cr *credential) setCachedLocked(t store.Token) {
	if v := cr.cached.Value; v != "" && v != t.Value {
		cr.previous = v
	}
	cr.cached = t
}

// adopt caches a value read from the store unless WeChat already rejected
// it: a load that raced with an invalidation may have read the old value
// just before it was deleted.
func (cr *credential) adopt(t store.Token) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if t.Value == cr.rejected {
		return false
	}
	cr.setCachedLocked(t)
	return true
}

func (cr *credential) loadOrFetch(ctx context.Context) (store.Token, error) {
	// Another caller of this process may have finished a fetch just before
	// this flight began, or another process refreshed the store.
	if t, ok := cr.fromCache(); ok {
		return t, nil
	}
	t, err := cr.c.tokens.LoadToken(ctx, cr.key)
	switch {
	case err == nil && t.Value != "" && cr.c.now().Before(t.Expires) && cr.adopt(t):
		return t, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		// A broken store must not stop the bot from talking to WeChat.
		cr.c.log.Warn("loading the cached credential failed; fetching a new one", "credential", cr.name, "err", err)
	}
	t, _, err = cr.refresh(ctx, true)
	if err != nil {
		return store.Token{}, err
	}
	return t, nil
}

// backingOff returns the error to fail with while the back-off lasts.
func (cr *credential) backingOff() error {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	now := cr.c.now()
	if cr.lastErr == nil || !now.Before(cr.retryAt) {
		return nil
	}
	return &BackoffError{Credential: cr.name, Failures: cr.failures, Next: cr.retryAt, Wait: cr.retryAt.Sub(now), Err: cr.lastErr}
}

// failed records a failure and starts the next back-off.
func (cr *credential) failed(err error) {
	cr.mu.Lock()
	cr.failures++
	cr.lastErr = err
	wait := backoffDelay(cr.failures)
	cr.retryAt = cr.c.now().Add(wait)
	n := cr.failures
	cr.unsettled.Store(true)
	cr.mu.Unlock()
	cr.c.log.Warn("getting the credential from wechat failed; backing off", "credential", cr.name, "failures", n, "retry_in", wait, "err", err)
}

// fetched notes a successful fetch. It ends the back-off, unless the fetch
// replaced a rejected token: whether that one works is only known when a
// call is accepted with it (confirm).
func (cr *credential) fetched() {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	cr.lastErr = nil
	if cr.rejections == 0 {
		cr.failures = 0
		cr.unsettled.Store(false)
	}
}

// confirm notes that WeChat accepted a call made with value: the
// credential works, and the back-off starts again from the beginning.
func (cr *credential) confirm(value string) {
	if !cr.unsettled.Load() {
		return // the usual case: one atomic load per call
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if value == cr.cached.Value {
		cr.failures, cr.rejections, cr.lastErr = 0, 0, nil
		cr.unsettled.Store(false)
	}
}

// refresh fetches a new value from WeChat and, when save is set, caches it
// in memory and in the store.
//
// With use_stable_token a fetch never forces at first. A rejection is often
// another deployment's forced refresh, which already killed the old token:
// a plain fetch then returns the new one, which works. Forcing instead would
// kill that deployment's token in turn, and the two would force each other
// for ever (WeChat allows 20 forced refreshes a day). Only when WeChat hands
// back the very token it just rejected is a forced refresh the way out.
//
// During a back-off it fails at once with a *BackoffError; a failed fetch
// starts the next back-off.
func (cr *credential) refresh(ctx context.Context, save bool) (store.Token, map[string]any, error) {
	if err := cr.backingOff(); err != nil {
		return store.Token{}, nil, err
	}
	t, raw, err := cr.fetch(ctx, false)
	if err == nil && cr.wasRejected(t.Value) {
		cr.c.log.Info("wechat issued the credential it had just rejected; forcing a new one", "credential", cr.name)
		t, raw, err = cr.fetch(ctx, true)
	}
	if err != nil {
		var b *BackoffError
		switch {
		case errors.As(err, &b):
			// The jsapi ticket waiting for the access token's back-off:
			// that one already counts the failure.
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			// The caller gave up; WeChat did not fail.
		default:
			cr.failed(err)
		}
		return store.Token{}, nil, err
	}
	cr.c.log.Info("fetched a new credential from wechat", "credential", cr.name, "use_until", t.Expires.Format(time.RFC3339))
	cr.fetched()
	cr.fetches.Add(1)
	if !save {
		return t, raw, nil
	}
	cr.remember(t)
	if err := cr.c.tokens.SaveToken(ctx, cr.key, t); err != nil {
		cr.c.log.Warn("caching the credential failed; it lives in this process only", "credential", cr.name, "err", err)
	}
	return t, raw, nil
}

// wasRejected reports whether WeChat rejected value since it was issued.
func (cr *credential) wasRejected(value string) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return cr.rejected != "" && value == cr.rejected
}

// invalidate forgets value after WeChat rejected it, but only if it is
// still the current one: callers that failed with the same old value while
// another caller already replaced it must not throw the new one away.
//
// The second rejection in a row with no call accepted in between is a
// failure: the token fetched to replace the first rejected one was rejected
// too (the AppSecret was reset, or another deployment keeps fetching), and
// fetching again at once would only do the same.
func (cr *credential) invalidate(ctx context.Context, value string, why error) {
	cr.mu.Lock()
	first := cr.cached.Value == value
	if first {
		cr.setCachedLocked(store.Token{})
		cr.rejected = value
		cr.rejections++
		cr.unsettled.Store(true)
	}
	again := first && cr.rejections >= 2
	cr.mu.Unlock()
	if again {
		cr.failed(fmt.Errorf("the %s fetched to replace a rejected one was rejected too: %w", cr.name, why))
	}
	if err := cr.c.tokens.InvalidateToken(context.WithoutCancel(ctx), cr.key, value); err != nil {
		cr.c.log.Warn("invalidating the cached credential failed", "credential", cr.name, "err", err)
	}
}

// useUntil turns WeChat's expires_in into the time to stop using the value:
// refreshMargin early, or a fifth of the lifetime for short-lived values.
func useUntil(now time.Time, expiresIn int64) time.Time {
	life := time.Duration(expiresIn) * time.Second
	margin := refreshMargin
	if life < 5*margin {
		margin = life / 5
	}
	return now.Add(life - margin)
}

// fetchAccessToken asks WeChat for an access token: /cgi-bin/token, or
// /cgi-bin/stable_token with use_stable_token (force_refresh=force; see
// refresh for when it is set).
func (c *Client) fetchAccessToken(ctx context.Context, force bool) (store.Token, map[string]any, error) {
	r := &request{name: "grant_token", auth: authNone}
	if c.stable {
		r.method, r.path = http.MethodPost, "/cgi-bin/stable_token"
		r.body = map[string]any{
			"grant_type":    "client_credential",
			"appid":         c.appID,
			"secret":        c.secret,
			"force_refresh": force,
		}
	} else {
		r.method, r.path = http.MethodGet, "/cgi-bin/token"
		r.query = url.Values{"grant_type": {"client_credential"}, "appid": {c.appID}, "secret": {c.secret}}
	}
	now := c.now()
	res, _, err := c.do(ctx, r)
	var t store.Token
	if err == nil {
		t, res, err = credentialFrom(r.name, res, "access_token", now)
	}
	c.metrics.TokenFetch(err == nil)
	return t, res, err
}

// fetchJSAPITicket asks WeChat for a jsapi ticket.
func (c *Client) fetchJSAPITicket(ctx context.Context, _ bool) (store.Token, map[string]any, error) {
	r := &request{name: "grant_jsapi_ticket", method: http.MethodGet, path: "/cgi-bin/ticket/getticket",
		query: url.Values{"type": {"jsapi"}}, auth: authApp}
	now := c.now()
	res, _, err := c.do(ctx, r)
	if err != nil {
		return store.Token{}, nil, err
	}
	return credentialFrom(r.name, res, "ticket", now)
}

func credentialFrom(method string, res map[string]any, field string, now time.Time) (store.Token, map[string]any, error) {
	v, _ := res[field].(string)
	if v == "" {
		return store.Token{}, nil, fmt.Errorf("wechat %s: the answer has no %s", method, field)
	}
	var in int64
	switch e := res["expires_in"].(type) {
	case int64:
		in = e
	case float64:
		in = int64(e)
	}
	if in <= 0 {
		in = 7200 // WeChat's documented lifetime, if the answer omits it
	}
	return store.Token{Value: v, Expires: useUntil(now, in)}, res, nil
}
