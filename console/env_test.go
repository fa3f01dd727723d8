package console_test

import (
	"context"
	"fmt"
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

	"github.com/luarobot/luarobot/console"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/logring"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store/memory"
)

// The secrets of the test host: no answer of the console may hold one.
const (
	adminToken = "Adm1nTokenForTheConsole"
	botToken   = "BotToken1234"
	appSecret  = "AppSecret0123456789abcdef"
	aesKey     = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	apiKey     = "sk-settings-api-key-42"
	appID      = "wx0123456789abcdef"
)

func secretValues() []string { return []string{adminToken, botToken, appSecret, aesKey, apiKey} }

// clock is the console's clock in tests: the login throttle's minute
// passes at once.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a whole host behind a console: the scripts of testdata/bot (a
// copy the test may change), the Lua runtime, the pipeline with a memory
// store, the fake WeChat API, the log ring and the inbox.
type env struct {
	t        testing.TB
	dir      string
	srv      *httptest.Server
	rt       *luaapi.Runtime
	host     *host.Handler
	sessions *memory.Store
	wx       *fakewechat.Server
	api      *client.Client
	ring     *logring.Ring
	log      *slog.Logger
	clock    *clock
	mux      http.Handler // the admin listener's handler, for requests the server cannot make (other peers)
	extra    []string     // more secret values (envOptions.settings)
	routes   []string     // the patterns the console mounted
}

type envOptions struct {
	noSessions bool
	watch      bool // hot reload, as serve runs it
	// edit changes the bot's script before it loads.
	edit func(src string) string
	// relative serves the scripts folder as "scripts", relative to a
	// temporary working folder (screenshots show no temporary path).
	relative bool
	// settings are more of robot.settings: their values are secrets too.
	settings map[string]any
}

func newEnv(t testing.TB, eo ...envOptions) *env {
	t.Helper()
	var o envOptions
	if len(eo) > 0 {
		o = eo[0]
	}
	e := &env{t: t, dir: t.TempDir(), clock: &clock{t: time.Now()}}
	settings := map[string]any{"api_key": apiKey}
	for k, v := range o.settings {
		settings[k] = v
		e.extra = append(e.extra, fmt.Sprint(v))
	}
	src, err := os.ReadFile("testdata/bot/bot.lua")
	if err != nil {
		t.Fatal(err)
	}
	if o.edit != nil {
		src = []byte(o.edit(string(src)))
	}
	if o.relative {
		t.Chdir(e.dir)
		e.dir = "scripts"
		os.Mkdir(e.dir, 0o755)
	}
	e.write("bot.lua", string(src))

	e.wx = fakewechat.New(appID, appSecret)
	t.Cleanup(e.wx.Close)
	e.sessions = memory.New(memory.Options{})
	t.Cleanup(func() { e.sessions.Close() })
	e.ring = logring.New(logring.Options{Level: slog.LevelDebug, Secrets: e.secrets})
	e.log = slog.New(e.ring.Handler(nil))
	e.api, err = client.New(client.Options{AppID: appID, AppSecret: appSecret, APIBase: e.wx.URL, Tokens: e.sessions,
		Timeout: 5 * time.Second, MediaDir: t.TempDir(), Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}

	ib := inbox.New(inbox.Options{})
	send := ib.Wrap(e.api.SendReply)
	e.rt, err = luaapi.New(luaapi.Options{Dir: e.dir, Logger: e.log, Client: e.api, Values: e.sessions,
		Send: send, Settings: settings, HandlerTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rt.Close() })
	if o.watch {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); e.rt.Watch(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		deadline := time.Now().Add(10 * time.Second)
		for !logged(e.ring, "watching the scripts") {
			if time.Now().After(deadline) {
				t.Fatal("the scripts folder is not watched after 10 s")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var sessions = e.sessions
	// replyTimeout is far more than WeChat's 5s: every other reply of these
	// tests must come back passive, and a race-built run on a busy 2-core
	// machine may take seconds to give one. The "slow" handler of
	// testdata/bot sleeps past it.
	const replyTimeout = 10 * time.Second
	hopts := host.Options{Token: botToken, AppID: appID, EncodingAESKey: aesKey, Dispatcher: e.rt, Sender: send,
		ReplyTimeout: replyTimeout, HandlerTimeout: 30 * time.Second, Logger: e.log}
	if !o.noSessions {
		hopts.Sessions = sessions
	}
	e.host, err = host.New(hopts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.host.Close(ctx)
	})

	copts := console.Options{Pipeline: e.host, Counters: e.host, Scripts: e.rt, Log: e.ring, Inbox: ib,
		Credentials: e.api, Mode: "aes", Logger: e.log, Now: e.clock.Now,
		Secrets: e.secrets}
	if !o.noSessions {
		copts.Sessions = sessions
	}
	c, err := console.New(copts)
	if err != nil {
		t.Fatal(err)
	}
	mux := &recordingMux{Handler: newMux(t, adminToken)}
	c.Mount(mux)
	e.routes = mux.patterns
	e.mux = mux.Handler
	e.srv = httptest.NewServer(mux.Handler)
	t.Cleanup(e.srv.Close)
	t.Cleanup(c.Close) // before the server closes: it waits for open streams
	return e
}

// logged reports whether the ring has a line with message msg.
func logged(ring *logring.Ring, msg string) bool {
	for _, e := range ring.Since(0, 0, slog.LevelDebug) {
		if e.Msg == msg {
			return true
		}
	}
	return false
}

// secrets are the values to redact: the configuration's and the Client's
// credentials of the moment.
func (e *env) secrets() []string {
	s := append(secretValues(), e.extra...)
	if e.api != nil {
		s = append(s, e.api.Secrets()...)
	}
	return s
}

// write saves a script of the test's scripts folder.
func (e *env) write(name, content string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// request is one call of the console; opts set headers.
type request struct {
	method, path, body string
	bearer             string // Authorization: Bearer
	cookie             *http.Cookie
	origin             string // "-" for none; "" for the console's own
	form               bool   // body is a form
	header             map[string]string
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(r request) answer {
	e.t.Helper()
	req, err := http.NewRequest(r.method, e.srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if r.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+r.bearer)
	}
	if r.cookie != nil {
		req.AddCookie(r.cookie)
	}
	switch r.origin {
	case "":
		req.Header.Set("Origin", e.srv.URL)
	case "-":
	default:
		req.Header.Set("Origin", r.origin)
	}
	if r.form {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 60 * time.Second}
	res, err := cl.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: string(b)}
}

// get and post call the API with the admin token.
func (e *env) get(path string) answer {
	return e.do(request{method: "GET", path: path, bearer: adminToken})
}

func (e *env) post(path, body string) answer {
	return e.do(request{method: "POST", path: path, body: body, bearer: adminToken})
}

// login logs in with the admin token and returns the session cookie.
func (e *env) login() *http.Cookie {
	e.t.Helper()
	a := e.do(request{method: "POST", path: "/login", body: "token=" + adminToken, form: true})
	if a.status != http.StatusOK {
		e.t.Fatalf("login: %d %s", a.status, a.body)
	}
	res := http.Response{Header: a.header}
	for _, c := range res.Cookies() {
		if c.Name == "luarobot_console" {
			return c
		}
	}
	e.t.Fatalf("login set no cookie: %v", a.header)
	return nil
}
