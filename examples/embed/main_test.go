package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

func TestEmbeddedBot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	handler, stop, err := newMux(ctx, "scripts", "embed-example-token")
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

	sim, err := simulate.New(simulate.Options{URL: srv.URL + "/wechat", Token: "embed-example-token"})
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
}
