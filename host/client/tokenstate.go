package client

import "time"

// CredentialState describes the access token (or jsapi ticket) for an
// operator, without its value.
type CredentialState struct {
	// Cached reports whether this process holds a value it still uses,
	// until UseUntil (a few minutes before WeChat's expiry).
	Cached   bool
	UseUntil time.Time
	// Fetches counts the values this process got from WeChat.
	Fetches int64
	// Failures counts the failed fetches in a row; while RetryAt is in
	// the future, calls fail at once (the back-off), and LastError says
	// why the last fetch failed.
	Failures  int
	RetryAt   time.Time
	LastError string
}

// AccessTokenState describes the access token, never its value.
func (c *Client) AccessTokenState() CredentialState { return c.access.state() }

func (cr *credential) state() CredentialState {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	s := CredentialState{Fetches: cr.fetches.Load(), Failures: cr.failures, RetryAt: cr.retryAt}
	if cr.cached.Value != "" && time.Now().Before(cr.cached.Expires) {
		s.Cached, s.UseUntil = true, cr.cached.Expires
	}
	if cr.lastErr != nil {
		s.LastError = redact(cr.lastErr, []string{cr.c.secret}).Error()
	}
	return s
}

// Secrets returns the credential values this client knows now — the
// AppSecret, the access token and the jsapi ticket, and the token and
// ticket they replaced (WeChat keeps those working a few minutes) — for a
// log that must redact them (the console's). Empty values are left out.
func (c *Client) Secrets() []string {
	var out []string
	if c.secret != "" {
		out = append(out, c.secret)
	}
	for _, cr := range []*credential{c.access, c.ticket} {
		cr.mu.Lock()
		for _, v := range []string{cr.cached.Value, cr.previous} {
			if v != "" {
				out = append(out, v)
			}
		}
		cr.mu.Unlock()
	}
	return out
}
