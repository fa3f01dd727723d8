package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

// The commands of main.go's comment go through luarobot simulate, which
// takes only a token WeChat's console would: the example's must be one.
func TestTokensAreWeChatTokens(t *testing.T) {
	if err := config.CheckToken(botToken); err != nil {
		t.Errorf("botToken %q: %v (luarobot simulate --token refuses it)", botToken, err)
	}
}

func TestEmbeddedBot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handler, stop, err := newMux(ctx, "scripts", botToken, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	srv := httptest.NewServer(handler)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "application's own page") {
		t.Errorf("the application's route answered %q", page)
	}

	sim, err := simulate.New(simulate.Options{URL: srv.URL + "/wechat", Token: botToken})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]string{"ping": "pong from the embedded bot", "你好": "echo: 你好"} {
		m, _ := simulate.Build(simulate.Spec{Type: "text", Text: text})
		raw, _ := message.Marshal(m)
		d := sim.Deliver(ctx, raw)
		if d.Err != nil || !strings.Contains(simulate.Describe(d.Body), want) {
			t.Errorf("%q: %v %s, want %q", text, d.Err, d.Body, want)
		}
	}

	for path, want := range map[string]int{"/admin/healthz": 200, "/admin/readyz": 200, "/admin/metrics": 401} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/admin/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The two messages above are counted.
	if resp.StatusCode != 200 || !strings.Contains(string(body), `luarobot_deliveries_total{outcome="replied",type="text"} 2`) {
		t.Errorf("/admin/metrics with the token = %d %.200s", resp.StatusCode, body)
	}
}
