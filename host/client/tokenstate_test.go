package client_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestAccessTokenStateNeverHoldsTheToken(t *testing.T) {
	e := newEnv(t)
	if s := e.c.AccessTokenState(); s.Cached || s.Fetches != 0 {
		t.Errorf("before any call: %+v", s)
	}
	if got := e.c.Secrets(); len(got) != 1 || got[0] != testSecret {
		t.Errorf("Secrets before a token = %v", got)
	}
	ctx := context.Background()
	token, err := e.c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := e.c.AccessTokenState()
	if !s.Cached || s.Fetches != 1 || !s.UseUntil.After(time.Now()) || s.Failures != 0 {
		t.Errorf("after a fetch: %+v", s)
	}
	if strings.Contains(strings.Join([]string{s.LastError, s.UseUntil.String()}, " "), token) {
		t.Error("the state shows the token")
	}
	secrets := e.c.Secrets()
	if len(secrets) != 2 || secrets[1] != token {
		t.Errorf("Secrets = %v, want the AppSecret and the token", secrets)
	}

	// A failing fetch: the back-off is visible, with its reason.
	e.wx.ExpireToken()
	e.wx.FailAlways("/cgi-bin/token", 40013)
	e.tokens.clear()
	e.c.Call(ctx, "POST", "/cgi-bin/menu/create", nil, map[string]any{}) // rejected token → refetch fails
	eventually(t, func() bool { return e.c.AccessTokenState().Failures > 0 })
	s = e.c.AccessTokenState()
	if !s.RetryAt.After(time.Now().Add(-time.Minute)) || !strings.Contains(s.LastError, "40013") || strings.Contains(s.LastError, testSecret) {
		t.Errorf("after a failed fetch: %+v", s)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
