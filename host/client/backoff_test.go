package client_test

// Token fetches back off: WeChat allows 2,000 token requests a day.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/internal/fakeclock"
)

func withClock(t *testing.T, c *client.Client) *fakeclock.Clock {
	clock := fakeclock.New(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	client.SetClock(c, clock.Now)
	return clock
}

// hammer calls the API every step for a window of fake time, as a busy
// bot whose handlers all use robot.client would, and returns the errors.
func hammer(clock *fakeclock.Clock, window, step time.Duration, call func() error) []error {
	var errs []error
	for elapsed := time.Duration(0); elapsed < window; elapsed += step {
		if err := call(); err != nil {
			errs = append(errs, err)
		}
		clock.Advance(step)
	}
	return errs
}

func TestTokenFailuresBackOff(t *testing.T) {
	for _, c := range []struct {
		name   string
		stable bool
		break_ func(wx *fakewechat.Server, path string)
		says   string // in the error: the last failure
	}{
		{"HTTP 500", false, func(wx *fakewechat.Server, p string) { wx.SetFault(p, fakewechat.FaultHTTP500) }, "HTTP 500"},
		{"bad JSON", false, func(wx *fakewechat.Server, p string) { wx.SetFault(p, fakewechat.FaultBadJSON) }, "not a JSON object"},
		{"connection dropped", false, func(wx *fakewechat.Server, p string) { wx.SetFault(p, fakewechat.FaultDisconnect) }, "EOF"},
		{"errcode", false, func(wx *fakewechat.Server, p string) { wx.FailAlways(p, 40164) }, "errcode 40164"},
		{"stable_token HTTP 500", true, func(wx *fakewechat.Server, p string) { wx.SetFault(p, fakewechat.FaultHTTP500) }, "HTTP 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, func(o *client.Options) { o.UseStableToken = c.stable })
			clock := withClock(t, e.c)
			path := "/cgi-bin/token"
			if c.stable {
				path = "/cgi-bin/stable_token"
			}
			c.break_(e.wx, path)
			ctx := context.Background()
			errs := hammer(clock, 20*time.Second, 50*time.Millisecond, func() error {
				_, err := e.c.Invoke(ctx, "get_menu")
				return err
			})
			// Attempts at 0, 1, 3, 7 and 15 s: 1 s doubling.
			if n := len(e.wx.CallsTo(path)); n != 5 {
				t.Errorf("%d token requests in 20 s of failures, want 5 (back-off from 1 s doubling)", n)
			}
			if len(errs) != 400 {
				t.Fatalf("%d of 400 calls failed", len(errs))
			}
			var b *client.BackoffError
			last := errs[len(errs)-1]
			if !errors.As(last, &b) {
				t.Fatalf("error during the back-off is %T %v, want a *client.BackoffError", last, last)
			}
			msg := last.Error()
			if !strings.Contains(msg, c.says) || !strings.Contains(msg, "next attempt in") || !strings.Contains(msg, "5 failed attempts") {
				t.Errorf("back-off error %q does not name the last failure (%q) and the next attempt", msg, c.says)
			}
			if b.Wait <= 0 || b.Wait > 16*time.Second || !b.Next.After(clock.Now()) {
				t.Errorf("back-off error says next attempt at %v (in %v); now is %v", b.Next, b.Wait, clock.Now())
			}
			if len(e.wx.CallsTo("/cgi-bin/menu/get")) != 0 {
				t.Error("a call went out without a token")
			}
			if !strings.Contains(e.log.String(), "backing off") {
				t.Errorf("the log does not mention the back-off:\n%s", e.log.String())
			}

			// A whole day of it stays far inside WeChat's 2,000 a day: the
			// back-off stops growing at 5 minutes.
			hammer(clock, 24*time.Hour, time.Second, func() error {
				_, err := e.c.AccessToken(ctx)
				return err
			})
			n := len(e.wx.CallsTo(path))
			if n > 300 || n < 280 {
				t.Errorf("%d token requests in a day of failures, want about 290 (one per 5 minutes)", n)
			}

			// WeChat recovers: the next attempt after the back-off succeeds,
			// and a later failure starts again from 1 s.
			e.wx.SetFault(path, fakewechat.NoFault)
			e.wx.FailAlways(path, 0)
			clock.Advance(5 * time.Minute)
			if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
				t.Fatalf("after WeChat recovered: %v", err)
			}
			e.wx.ExpireToken()
			c.break_(e.wx, path)
			if _, err := e.c.Invoke(ctx, "get_menu"); err == nil || errors.As(err, &b) {
				t.Errorf("the call that meets the failure: %v, want the failure itself", err)
			}
			_, err := e.c.Invoke(ctx, "get_menu")
			if !errors.As(err, &b) || b.Wait != time.Second || b.Failures != 1 {
				t.Errorf("next call after a first failure following a recovery: %v, want a 1 s back-off", err)
			}
		})
	}
}

// A token rejected with 40001 is refreshed and the call retried once; when
// the fresh token is rejected too, fetching yet another at once only burns
// the quota (2,186 grants in 20 s before): it backs off instead.
func TestRejectedFreshTokensBackOff(t *testing.T) {
	for _, stable := range []bool{false, true} {
		name := "token"
		if stable {
			name = "stable_token"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(o *client.Options) { o.UseStableToken = stable })
			clock := withClock(t, e.c)
			ctx := context.Background()
			if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
				t.Fatal(err)
			}
			e.wx.RejectTokens(true) // e.g. the AppSecret was reset
			errs := hammer(clock, 20*time.Second, 50*time.Millisecond, func() error {
				_, err := e.c.Invoke(ctx, "get_menu")
				return err
			})
			if len(errs) != 400 {
				t.Fatalf("%d of 400 calls failed", len(errs))
			}
			// The first rejection refreshes at once (another deployment may
			// have replaced the token); then 0, 1, 3, 7, 15 s of back-off.
			// use_stable_token may force once per attempt.
			limit := 7
			if stable {
				limit = 2 * limit
			}
			if n := e.wx.TokenFetches(); n > limit {
				t.Errorf("%d tokens granted in 20 s of rejections, want at most %d", n, limit)
			}
			var b *client.BackoffError
			last := errs[len(errs)-1]
			if !errors.As(last, &b) || !strings.Contains(last.Error(), "40001") || !strings.Contains(last.Error(), "rejected too") {
				t.Errorf("error during the back-off: %v", last)
			}
			var apiErr *client.APIError
			if !errors.As(last, &apiErr) || apiErr.Code != 40001 {
				t.Errorf("scripts must still see errcode 40001 in %v", last)
			}

			// Tokens work again: after the back-off the next call succeeds,
			// and a single rejection later refreshes at once again.
			e.wx.RejectTokens(false)
			clock.Advance(time.Minute)
			if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
				t.Fatalf("after WeChat accepts tokens again: %v", err)
			}
			e.wx.FailOnce("/cgi-bin/menu/get", 40001)
			if _, err := e.c.Invoke(ctx, "get_menu"); err != nil {
				t.Errorf("one rejection after the recovery: %v, want a refresh and a retry", err)
			}
		})
	}
}

// The jsapi ticket backs off the same way, and grant_token(true) respects
// the access token's back-off.
func TestTicketAndGrantBackOff(t *testing.T) {
	e := newEnv(t)
	clock := withClock(t, e.c)
	ctx := context.Background()
	e.wx.SetFault("/cgi-bin/ticket/getticket", fakewechat.FaultHTTP500)
	hammer(clock, 20*time.Second, 50*time.Millisecond, func() error {
		_, err := e.c.JSAPITicket(ctx)
		return err
	})
	if n := len(e.wx.CallsTo("/cgi-bin/ticket/getticket")); n != 5 {
		t.Errorf("%d ticket requests in 20 s of failures, want 5", n)
	}
	if n := len(e.wx.CallsTo("/cgi-bin/token")); n != 1 {
		t.Errorf("the ticket's failures cost %d access tokens, want 1", n)
	}

	e.wx.SetFault("/cgi-bin/token", fakewechat.FaultHTTP500)
	hammer(clock, 20*time.Second, 50*time.Millisecond, func() error {
		_, err := e.c.Invoke(ctx, "grant_token", true)
		return err
	})
	if n := len(e.wx.CallsTo("/cgi-bin/token")); n != 1+5 {
		t.Errorf("grant_token(true) made %d token requests in 20 s of failures, want 5", n-1)
	}
}
