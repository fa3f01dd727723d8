package cmd

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// TestServeConsole: serve mounts the console on the admin listener. A
// console user's delivery runs the real pipeline, is counted apart in the
// metrics (console="true"), and its customer-service message stays in
// the console; the log the console shows holds no secret, the generated
// admin token included.
func TestServeConsole(t *testing.T) {
	scripts := writeScripts(t, map[string]string{"hello.lua": `
robot.text(function(m)
  if m.content == "push" then robot.send(m.source, "pushed") end
  return "echo: " .. m.content
end)`})
	cfg := testConfig(t, scripts)
	cfg.Settings = map[string]any{"api_key": "sk-serve-console-key"}
	h := startServe(t, cfg)
	if h.adminURL == "" || h.adminToken == "" {
		t.Fatalf("no admin listener or generated admin token:\n%s", h.logs)
	}
	call := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, h.adminURL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.adminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}

	code, body, hdr := call("GET", "/", "")
	if code != 200 || !strings.Contains(body, "/assets/app.js") || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("console page: %d %v\n%s", code, hdr, body)
	}
	code, body, _ = call("POST", "/api/try", `{"user":"alice","content":"push"}`)
	if code != 200 || !strings.Contains(body, `"content":"echo: push"`) || !strings.Contains(body, `"content":"pushed"`) {
		t.Fatalf("try: %d %s", code, body)
	}
	if code, body, _ = call("GET", "/api/inbox/alice?since=0", ""); code != 200 || !strings.Contains(body, `"content":"pushed"`) {
		t.Errorf("inbox: %d %s", code, body)
	}

	// A follower's message through WeChat's door, for comparison.
	sim, err := simulate.New(simulate.Options{URL: "http://" + h.addr + "/", Token: cfg.Token})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := simulate.Build(simulate.Spec{Type: "text", Text: "hi", From: "oFollower"})
	raw, _ := message.Marshal(m)
	if d := sim.Deliver(context.Background(), raw); d.Err != nil || d.Status != 200 {
		t.Fatalf("follower: %d %v", d.Status, d.Err)
	}
	code, body, _ = call("GET", "/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	fams, err := metricstest.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := fams.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied", "console", "true"); got != 1 {
		t.Errorf("console deliveries = %v; series %v", got, fams.Series("luarobot_deliveries_total"))
	}
	if got := fams.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied"); got != 1 {
		t.Errorf("follower deliveries = %v; series %v", got, fams.Series("luarobot_deliveries_total"))
	}

	code, body, _ = call("GET", "/api/log", "")
	if code != 200 || !strings.Contains(body, "no admin_token configured") {
		t.Fatalf("log: %d %s", code, body)
	}
	for _, secret := range []string{h.adminToken, cfg.Token, "sk-serve-console-key"} {
		if strings.Contains(body, secret) {
			t.Errorf("the console's log shows %q:\n%s", secret, body)
		}
	}
}
