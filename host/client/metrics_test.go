package client_test

import (
	"context"
	"testing"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// Every call is counted by endpoint and errcode; every access token fetch
// by result. A rejected token's retry is two calls.
func TestClientMetrics(t *testing.T) {
	m := metrics.New()
	e := newEnv(t, func(o *client.Options) { o.Metrics = m })
	ctx := context.Background()
	if _, err := e.c.Invoke(ctx, "get_user_info", "oUser"); err != nil {
		t.Fatal(err)
	}
	e.wx.FailOnce("/cgi-bin/message/custom/send", 45015)
	if _, err := e.c.Invoke(ctx, "send_text_message", "oUser", "hi"); err == nil {
		t.Fatal("45015 is no error")
	}
	e.wx.ExpireToken() // 42001, a new token, the call again
	if _, err := e.c.Invoke(ctx, "get_user_info", "oUser"); err != nil {
		t.Fatal(err)
	}

	s := metricstest.Gather(t, m.Gatherer())
	for _, c := range []struct {
		endpoint, errcode string
		want              float64
	}{
		{"token", "0", 2},
		{"user/info", "0", 2},
		{"user/info", "42001", 1},
		{"message/custom/send", "45015", 1},
	} {
		if got := s.Value("luarobot_wechat_api_calls_total", "endpoint", c.endpoint, "errcode", c.errcode); got != c.want {
			t.Errorf("api calls{%s,%s} = %v, want %v (%v)", c.endpoint, c.errcode, got, c.want, s.Series("luarobot_wechat_api_calls_total"))
		}
	}
	if got := s.Value("luarobot_access_token_fetches_total", "result", "ok"); got != 2 {
		t.Errorf("token fetches ok = %v, want 2", got)
	}

	// A refused fetch, and a WeChat that does not answer at all.
	refused := metrics.New()
	e2 := newEnv(t, func(o *client.Options) { o.Metrics = refused })
	e2.wx.RefuseTokens(40164)
	if _, err := e2.c.AccessToken(ctx); err == nil {
		t.Fatal("40164 is no error")
	}
	e2.wx.Close()
	e3 := newEnv(t, func(o *client.Options) { o.Metrics = refused; o.APIBase = e2.wx.URL })
	if _, err := e3.c.AccessToken(ctx); err == nil {
		t.Fatal("a closed server answered")
	}
	s = metricstest.Gather(t, refused.Gatherer())
	if s.Value("luarobot_access_token_fetches_total", "result", "error") != 2 ||
		s.Value("luarobot_wechat_api_calls_total", "endpoint", "token", "errcode", "40164") != 1 ||
		s.Value("luarobot_wechat_api_calls_total", "endpoint", "token", "errcode", "-1") != 1 {
		t.Errorf("refused: %v %v", s.Series("luarobot_access_token_fetches_total"), s.Series("luarobot_wechat_api_calls_total"))
	}
}
