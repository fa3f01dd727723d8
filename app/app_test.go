package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/store/memory"
)

func scripts(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bot.lua"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// serve assembles a bot from opts as luarobot serve does and serves it on
// a test server until the test ends; it returns the bot and the URL WeChat
// would call.
func serve(t *testing.T, opts app.Options) (*app.Bot, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	bot, err := app.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bot.Handler)
	t.Cleanup(func() {
		srv.Close()
		bot.Close(context.Background())
	})
	return bot, srv.URL + "/"
}

// simulator plays WeChat's server against the URL in opts.
func simulator(t *testing.T, opts simulate.Options) *simulate.Simulator {
	t.Helper()
	sim, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return sim
}

// A bot assembled with a clock and an HTTP transport of the caller's: the
// reply's timestamp, os.time and robot.http all go through them.
func TestNew(t *testing.T) {
	now := time.Unix(1_900_000_000, 0) // far from the real time: the signature window follows the clock
	clock := func() time.Time { return now }
	cfg := config.Default()
	cfg.Token = "apptesttoken"
	cfg.Scripts = scripts(t, `robot.text(function(m)
  local res = robot.http.get("https://api.example.com/x")
  return os.time() .. " " .. res.body
end)`)
	cfg.SessionStorage = "memory"
	st := memory.New(memory.Options{Now: clock})
	defer st.Close()
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("faked")), Request: r}, nil
	})
	bot, err := app.New(context.Background(), app.Options{Config: cfg, Store: st, Now: clock, HTTPTransport: transport,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bot.Handler)
	defer srv.Close()
	sim, err := simulate.New(simulate.Options{URL: srv.URL + "/", Token: cfg.Token, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := simulate.Build(simulate.Spec{Type: "text", Text: "hi", Time: now.Unix()})
	raw, _ := message.Marshal(msg)
	d := sim.Deliver(context.Background(), raw)
	if d.Err != nil || d.Status != 200 {
		t.Fatalf("%d %v %s", d.Status, d.Err, d.Body)
	}
	p, err := reply.Parse(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v := reply.ViewOf(p.Reply); v.Content != "1900000000 faked" {
		t.Errorf("reply %+v", v)
	}
	if err := bot.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := bot.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Without a token the bot uses the one kept in the store, the same after
// a restart.
func TestGeneratedToken(t *testing.T) {
	cfg := config.Default()
	cfg.Scripts = scripts(t, `robot.text(function() return "x" end)`)
	st := memory.New(memory.Options{})
	defer st.Close()
	var tokens []string
	for range 2 {
		bot, err := app.New(context.Background(), app.Options{Config: cfg, Store: st, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, bot.Config.Token)
		bot.Close(context.Background())
	}
	if err := config.CheckToken(tokens[0]); err != nil || tokens[0] != tokens[1] {
		t.Errorf("tokens %q: %v", tokens, err)
	}
}

// A script that does not load is New's error, naming it.
func TestNewFails(t *testing.T) {
	cfg := config.Default()
	cfg.Token = "apptesttoken"
	cfg.Scripts = scripts(t, "robot.text(\n")
	st := memory.New(memory.Options{})
	defer st.Close()
	if _, err := app.New(context.Background(), app.Options{Config: cfg, Store: st, Logger: slog.New(slog.DiscardHandler)}); err == nil || !strings.HasPrefix(err.Error(), "bot.lua:") {
		t.Errorf("got %v", err)
	}
	if _, err := app.New(context.Background(), app.Options{Config: cfg}); err == nil {
		t.Error("New without a store succeeded")
	}
}

// max_reply_parts bounds what one script can fan out to one user, both
// ways a long text leaves a bot: a handler's reply (the passive answer and
// the rest through the customer-service API) and one robot.send. Before
// the cap, a 4 MiB reply was 2,047 customer-service calls and a 1 MiB
// robot.send 512.
func TestMaxReplyPartsFromLua(t *testing.T) {
	wx := fakewechat.New("wxparts000000000001", "secret")
	defer wx.Close()
	cfg := config.Default()
	cfg.Token = "apptesttoken"
	cfg.AppID, cfg.AppSecret, cfg.APIBase = "wxparts000000000001", "secret", wx.URL
	cfg.MaxReplyParts = 3
	cfg.SessionStorage = "memory"
	cfg.Scripts = scripts(t, `robot.text(function(m)
  local mib = string.rep("x", 1048576)
  if m.content == "send" then
    assert(robot.send(m.source, mib))
    return "sent"
  end
  return table.concat({mib, mib, mib, mib})
end)`)
	st := memory.New(memory.Options{})
	defer st.Close()
	var logs strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	bot, url := serve(t, app.Options{Config: cfg, Store: st, Logger: log, DownloadDir: t.TempDir()})
	sim := simulator(t, simulate.Options{URL: url, Token: cfg.Token})
	const customSend = "/cgi-bin/message/custom/send"
	for _, c := range []struct {
		text    string
		passive string // the start of the passive answer
		api     int    // customer-service calls
	}{
		{"long", "xxxx", 2}, // the passive answer and 2 more: 3 parts
		{"send", "sent", 3}, // 3 parts, all through the API
	} {
		wx.Reset()
		msg, _ := simulate.Build(simulate.Spec{Type: "text", From: "oFanout", Text: c.text})
		raw, _ := message.Marshal(msg)
		d := sim.Deliver(context.Background(), raw)
		if d.Err != nil || d.Status != 200 {
			t.Fatalf("%s: %d %v %.200s", c.text, d.Status, d.Err, d.Body)
		}
		p, err := reply.Parse(d.Body)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		if v := reply.ViewOf(p.Reply); !strings.HasPrefix(v.Content, c.passive) {
			t.Errorf("%s: passive answer %.40q", c.text, v.Content)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := bot.Wait(ctx); err != nil { // the rest of the long text
			t.Fatal(err)
		}
		cancel()
		if n := len(wx.CallsTo(customSend)); n != c.api {
			t.Errorf("%s: %d customer-service calls, want %d (max_reply_parts = 3)", c.text, n, c.api)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(logs.String(), "long text cut to max_reply_parts"); n != 2 {
		t.Errorf("%d log lines for the dropped rests, want 2:\n%s", n, logs.String())
	}
}

// lockedWriter is a Writer that the host's goroutines may share.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
