package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
	"github.com/luarobot/luarobot/store/memory"
)

// deliver sends one text from openid to the bot at url through sim and
// returns the reply's text.
func deliver(t *testing.T, sim *simulate.Simulator, openid, text string) string {
	t.Helper()
	m, err := simulate.Build(simulate.Spec{Type: "text", Text: text, From: openid})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := message.Marshal(m)
	d := sim.Deliver(context.Background(), raw)
	if d.Err != nil || d.Status != 200 {
		t.Fatalf("%s: %d %v %s", text, d.Status, d.Err, d.Body)
	}
	p, err := reply.Parse(d.Body)
	if err != nil {
		t.Fatalf("%s: %v\n%s", text, err, d.Body)
	}
	return reply.ViewOf(p.Reply).Content
}

// The metrics the assembly wires: a robot.client call of a handler moves
// luarobot_wechat_api_calls_total and the access token it needed
// luarobot_access_token_fetches_total — counted by the client app.New
// builds, not only by one built with metrics by hand — and no series of
// any family carries the openid of the user who caused it.
func TestMetricsOfTheAssembledBot(t *testing.T) {
	wx := fakewechat.New("wxappmetrics0001", "appmetricssecret")
	defer wx.Close()
	cfg := config.Default()
	cfg.Token = "apptesttoken"
	cfg.AppID, cfg.AppSecret, cfg.APIBase = "wxappmetrics0001", "appmetricssecret", wx.URL
	cfg.SessionStorage = "memory"
	cfg.Scripts = scripts(t, `robot.text(function(m, session)
  local info, err = robot.client.get_user_info(m.source)
  session.seen = true
  return info and "ok" or ("failed " .. tostring(err))
end)`)
	st := memory.New(memory.Options{})
	defer st.Close()
	m := metrics.New()
	bot, url := serve(t, app.Options{Config: cfg, Store: st, Metrics: m})
	sim := simulator(t, simulate.Options{URL: url, Token: cfg.Token})
	const openid = "oSecretFollower42"
	if got := deliver(t, sim, openid, "hi"); got != "ok" {
		t.Fatalf("reply %q", got)
	}
	if got := deliver(t, sim, openid, "again"); got != "ok" {
		t.Fatalf("reply %q", got)
	}
	if err := bot.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}

	s := metricstest.Gather(t, m.Gatherer())
	if got := s.Value("luarobot_wechat_api_calls_total", "endpoint", "user/info", "errcode", "0"); got != 2 {
		t.Errorf("api calls{user/info,0} = %v, want 2 (%v)", got, s.Series("luarobot_wechat_api_calls_total"))
	}
	if got := s.Value("luarobot_access_token_fetches_total", "result", "ok"); got != 1 {
		t.Errorf("token fetches{ok} = %v, want 1 (%v)", got, s.Series("luarobot_access_token_fetches_total"))
	}
	if got := s.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied"); got != 2 {
		t.Errorf("deliveries = %v (%v)", got, s.Series("luarobot_deliveries_total"))
	}
	for name := range s {
		for _, series := range s.Series(name) {
			if strings.Contains(series, openid) {
				t.Errorf("%s{%s} carries the openid", name, series)
			}
		}
	}
}

// encoding_aes_key_previous from the configuration reaches the pipeline:
// during a rotation a message encrypted with the old key and one with the
// new key are both answered, each reply encrypted with its request's key
// (the simulator decrypts with its own key only, so a reply under the
// other key fails its delivery).
func TestAESKeyRotationFromTheConfiguration(t *testing.T) {
	const (
		appID   = "wxapprotation0001"
		newKey  = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		prevKey = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"
	)
	cfg := config.Default()
	cfg.Token = "apptesttoken"
	cfg.AppID, cfg.EncodingAESKey, cfg.EncodingAESKeyPrevious = appID, newKey, prevKey
	cfg.SessionStorage = "memory"
	cfg.Scripts = scripts(t, `robot.text(function(m) return "got " .. m.content end)`)
	st := memory.New(memory.Options{})
	defer st.Close()
	_, url := serve(t, app.Options{Config: cfg, Store: st})
	for _, key := range []string{prevKey, newKey} {
		sim := simulator(t, simulate.Options{URL: url, Token: cfg.Token, AppID: appID, EncodingAESKey: key})
		if got := deliver(t, sim, "oRotation", key[:4]); got != "got "+key[:4] {
			t.Errorf("under %s...: reply %q", key[:4], got)
		}
	}
	// Without the previous key in the configuration, the old key's
	// messages are refused: the setting is what lets them in.
	cfg.EncodingAESKeyPrevious = ""
	_, strictURL := serve(t, app.Options{Config: cfg, Store: st})
	sim := simulator(t, simulate.Options{URL: strictURL, Token: cfg.Token, AppID: appID, EncodingAESKey: prevKey})
	m, _ := simulate.Build(simulate.Spec{Type: "text", Text: "old", From: "oRotation"})
	raw, _ := message.Marshal(m)
	if d := sim.Deliver(context.Background(), raw); d.Status != 400 {
		t.Errorf("old key without encoding_aes_key_previous: %d %v", d.Status, d.Err)
	}
}
