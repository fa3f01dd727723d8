package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/luarobot/luarobot/store"
)

// refreshMargin is how long before WeChat's expiry a credential stops being
// used: a request that starts with a token about to expire may reach WeChat
// after it did.
const refreshMargin = 5 * time.Minute

// failureBackoff is how long a fetch that WeChat refused (wrong secret, IP
// not whitelisted, quota) is answered from memory: these do not fix
// themselves in seconds, and a busy bot retrying on every message would burn
// the token endpoint's daily quota and flood the log.
const failureBackoff = 5 * time.Second

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
	failed   error  // the last refused fetch, answered until failedAt+failureBackoff
	failedAt time.Time
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
	if cr.cached.Value != "" && time.Now().Before(cr.cached.Expires) {
		return cr.cached, true
	}
	return store.Token{}, false
}

func (cr *credential) remember(t store.Token) {
	cr.mu.Lock()
	cr.cached = t
	cr.mu.Unlock()
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
	cr.cached = t
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
	case err == nil && t.Value != "" && time.Now().Before(t.Expires) && cr.adopt(t):
		return t, nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		// A broken store must not stop the bot from talking to WeChat.
		cr.c.log.Warn("loading the cached credential failed; fetching a new one", "credential", cr.name, "err", err)
	}
	cr.mu.Lock()
	failed := cr.failed
	if failed != nil && time.Since(cr.failedAt) < failureBackoff {
		cr.mu.Unlock()
		return store.Token{}, failed
	}
	cr.mu.Unlock()
	t, _, err = cr.refresh(ctx, true)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			cr.mu.Lock()
			cr.failed, cr.failedAt = err, time.Now()
			cr.mu.Unlock()
		}
		return store.Token{}, err
	}
	return t, nil
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
func (cr *credential) refresh(ctx context.Context, save bool) (store.Token, map[string]any, error) {
	t, raw, err := cr.fetch(ctx, false)
	if err == nil && cr.wasRejected(t.Value) {
		cr.c.log.Info("wechat issued the credential it had just rejected; forcing a new one", "credential", cr.name)
		t, raw, err = cr.fetch(ctx, true)
	}
	if err != nil {
		return store.Token{}, nil, err
	}
	cr.c.log.Info("fetched a new credential from wechat", "credential", cr.name, "use_until", t.Expires.Format(time.RFC3339))
	cr.mu.Lock()
	cr.failed = nil
	cr.mu.Unlock()
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
func (cr *credential) invalidate(ctx context.Context, value string) {
	cr.mu.Lock()
	if cr.cached.Value == value {
		cr.cached = store.Token{}
		cr.rejected = value
	}
	cr.mu.Unlock()
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
	now := time.Now()
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
	now := time.Now()
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
