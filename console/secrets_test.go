package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoSecretInAnyAnswer: a script that does its best to leak — it logs,
// replies, sends, stores in the session and raises errors holding a
// setting and the access token — and no answer of the console, page and
// stream included, holds a secret value.
func TestNoSecretInAnyAnswer(t *testing.T) {
	e := newEnv(t)
	e.write("a_leak.lua", `
robot.filter("leak", function(msg, session)
  local t = robot.client.get_access_token()
  local token = type(t) == "table" and t.access_token or tostring(t)
  print("token " .. token .. " key " .. robot.settings.api_key)
  robot.log.warn("leaking", "x")
  robot.send(msg.source, "sent " .. token .. " " .. robot.settings.api_key)
  session.token, session.key = token, robot.settings.api_key
  return "reply " .. token .. " " .. robot.settings.api_key
end)
robot.filter("raise", function()
  error("failed with " .. robot.settings.api_key)
end)
`)
	if err := e.rt.Reload(); err != nil {
		t.Fatal(err)
	}
	secrets := secretValues()

	var bodies []string
	keep := func(what string, a answer) {
		t.Helper()
		if a.status/100 != 2 {
			t.Fatalf("%s: %d %s", what, a.status, a.body)
		}
		bodies = append(bodies, what+"\n"+a.body)
	}
	keep("try leak", e.post("/api/try", `{"user":"me","content":"leak"}`))
	accessToken := e.wx.AccessToken()
	if accessToken == "" {
		t.Fatal("no access token was issued")
	}
	secrets = append(secrets, accessToken)
	keep("try secret", e.post("/api/try", `{"user":"me","content":"secret"}`))
	keep("try raise", e.post("/api/try", `{"user":"me","content":"raise"}`))
	keep("try whoami", e.post("/api/try", `{"user":"me","content":"whoami"}`))
	keep("status", e.get("/api/status"))
	keep("inbox", e.get("/api/inbox/me?since=0"))
	keep("scripts", e.get("/api/scripts"))
	keep("log", e.get("/api/log"))
	keep("session", e.get("/api/sessions/console-me"))
	keep("page", e.do(request{method: "GET", path: "/"}))
	keep("app.js", e.do(request{method: "GET", path: "/assets/app.js"}))
	// A reload that fails names no secret either.
	e.write("b_broken.lua", "robot.text(function() return '"+apiKey+"' end\n")
	e.rt.Reload()
	keep("scripts after a broken save", e.get("/api/scripts"))
	keep("stream", answer{status: 200, body: readStream(t, e, 8)})

	// The test would pass vacuously if the leaks had not happened.
	all := strings.Join(bodies, "\n")
	for _, want := range []string{"reply [redacted] [redacted]", "failed with [redacted]", `"key":"[redacted]"`, "token [redacted] key [redacted]"} {
		if !strings.Contains(all, want) {
			t.Errorf("the answers lack %q: the script did not leak as the test expects", want)
		}
	}
	for _, body := range bodies {
		for _, s := range secrets {
			if strings.Contains(body, s) {
				what, _, _ := strings.Cut(body, "\n")
				t.Errorf("%s shows the secret %q:\n%s", what, s, body)
			}
		}
	}
}

// readStream reads n events of the log stream (or what came in 10 s).
func readStream(t *testing.T, e *env, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/log/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(res.Body)
	for events := 0; events < n && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

// TestSecretsThatLookLikeJSON: robot.settings from the environment are
// strings, so LUAROBOT_SETTINGS_DEBUG=true makes "true" a secret (and a
// TOML number makes "1000" one). Redaction must stay inside the answers'
// strings: replacing the literal true of "ok":true, or a number, made
// every answer that held one invalid JSON, and the Status and Scripts
// panels blank.
func TestSecretsThatLookLikeJSON(t *testing.T) {
	e := newEnv(t, envOptions{settings: map[string]any{"debug": "true", "cache": "null", "limit": int64(1000)}})
	e.try(`{"user":"me","content":"count"}`) // a session, with a number in it
	for i := 0; i < 1000; i++ {
		e.log.Debug("filling the ring", "i", i) // log ids up to 1000 and past
	}
	routes := []string{"/api/status", "/api/scripts", "/api/log", "/api/inbox/me", "/api/sessions/console-me"}
	for _, path := range routes {
		a := e.get(path)
		var v any
		if err := json.Unmarshal([]byte(a.body), &v); a.status != http.StatusOK || err != nil {
			t.Errorf("%s: %d, not JSON (%v): %.300s", path, a.status, err, a.body)
		}
	}
	a := e.post("/api/try", `{"user":"me","content":"secret"}`)
	var ans tryAnswer
	if err := json.Unmarshal([]byte(a.body), &ans); err != nil {
		t.Fatalf("try: not JSON (%v): %.300s", err, a.body)
	}
	if ans.Reply.Content != "key: [redacted]" {
		t.Errorf("a secret inside a string is still redacted: %q", ans.Reply.Content)
	}
	// The stream's events are JSON too.
	for _, line := range strings.Split(readStream(t, e, 3), "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var v any
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				t.Errorf("stream event: not JSON (%v): %s", err, data)
			}
		}
	}
}

// TestReplacedAccessTokenStaysRedacted: WeChat keeps an access token
// working for five minutes after a new one is fetched, and what a script
// kept of it (a session, an inbox item) is shown after the refresh. The
// token the Client replaced is still a secret; before, the console
// redacted only the current one.
func TestReplacedAccessTokenStaysRedacted(t *testing.T) {
	e := newEnv(t)
	e.write("a_token.lua", `
robot.filter("keep", function(msg, session)
  session.kept = robot.client.get_access_token()
  return "kept"
end)
robot.filter("refresh", function()
  robot.client.grant_token()
  return "refreshed"
end)
`)
	if err := e.rt.Reload(); err != nil {
		t.Fatal(err)
	}
	e.try(`{"user":"me","content":"keep"}`)
	old := e.wx.AccessToken()
	e.try(`{"user":"me","content":"refresh"}`)
	if e.wx.AccessToken() == old || old == "" {
		t.Fatalf("no new access token: %q then %q", old, e.wx.AccessToken())
	}
	a := e.get("/api/sessions/console-me")
	if a.status != http.StatusOK || strings.Contains(a.body, old) || !strings.Contains(a.body, `"kept":"[redacted]"`) {
		t.Errorf("the session shows the replaced access token: %d %s", a.status, a.body)
	}
}
