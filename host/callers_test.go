package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

func newCallers(t *testing.T, opts host.CallersOptions) *host.Callers {
	t.Helper()
	c, err := host.NewCallers(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// callerCase is one request: its peer, its forwarding headers, and whether
// it gets through.
type callerCase struct {
	remote  string
	xff     []string
	realIP  string
	allowed bool
}

// runCallerCases sends a signed text per case through a handler with the
// allowlist and checks the status, that the handlers ran only for allowed
// callers, and that each refusal is logged with its reason.
func runCallerCases(t *testing.T, callers *host.Callers, cases []callerCase) {
	t.Helper()
	var logs bytes.Buffer
	var ran atomic.Int64
	counting := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		ran.Add(1)
		return echo(ctx, msg, session)
	})
	h := newHandler(t, host.Options{Dispatcher: counting, Callers: callers,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	for i, c := range cases {
		req := w.request("/", textXML("u1", "hi", int64(1000+i)))
		req.RemoteAddr = c.remote
		for _, v := range c.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		if c.realIP != "" {
			req.Header.Set("X-Real-IP", c.realIP)
		}
		before := ran.Load()
		logs.Reset()
		status, body := serve(h, req)
		switch {
		case c.allowed && status != 200:
			t.Errorf("%s %q %q: status %d (%s), want it through", c.remote, c.xff, c.realIP, status, body)
		case !c.allowed && status != 403:
			t.Errorf("%s %q %q: status %d, want 403", c.remote, c.xff, c.realIP, status)
		case !c.allowed && ran.Load() != before:
			t.Errorf("%s %q %q: the handlers ran for a refused caller", c.remote, c.xff, c.realIP)
		case !c.allowed && !strings.Contains(logs.String(), "reason=callback_ip"):
			t.Errorf("%s: the log does not say why: %s", c.remote, logs.String())
		}
	}
}

// TestCallbackIPsWithoutProxy: only the listed addresses get through, and
// forwarding headers are not believed from anyone.
func TestCallbackIPsWithoutProxy(t *testing.T) {
	callers := newCallers(t, host.CallersOptions{Allow: []string{"203.0.113.0/24", "2001:db8::1"}})
	runCallerCases(t, callers, []callerCase{
		{remote: "203.0.113.7:5000", allowed: true},
		{remote: "[2001:db8::1]:443", allowed: true},
		{remote: "[::ffff:203.0.113.9]:443", allowed: true},
		{remote: "198.51.100.1:5000"},
		{remote: "[2001:db8::2]:443"},
		{remote: "198.51.100.1:5000", xff: []string{"203.0.113.7"}},
		{remote: "198.51.100.1:5000", realIP: "203.0.113.7"},
		{remote: "127.0.0.1:5000", xff: []string{"203.0.113.7"}},
		{remote: "not an address"},
	})

	// A refused caller gets 403 before anything is read: no signature, no
	// error page, no body.
	h := newHandler(t, host.Options{Dispatcher: echo, Callers: callers})
	req, _ := http.NewRequest("GET", "/?echostr=x", nil)
	req.RemoteAddr = "198.51.100.1:5000"
	if status, body := serve(h, req); status != 403 || !strings.Contains(string(body), "may not call the bot") {
		t.Errorf("unsigned GET from outside: %d %s", status, body)
	}
}

// TestCallbackIPsBehindProxy: behind a trusted proxy, the caller is the
// right-most address of X-Forwarded-For that is not a trusted proxy, so a
// client cannot slip an allowed address in front.
func TestCallbackIPsBehindProxy(t *testing.T) {
	callers := newCallers(t, host.CallersOptions{Allow: []string{"203.0.113.0/24"}, TrustedProxies: []string{"10.0.0.0/8", "::1"}})
	runCallerCases(t, callers, []callerCase{
		{remote: "10.0.0.5:40000", xff: []string{"203.0.113.7"}, allowed: true},
		{remote: "[::1]:40000", xff: []string{"203.0.113.7"}, allowed: true},
		{remote: "10.0.0.5:40000", xff: []string{"198.51.100.1, 203.0.113.7, 10.0.0.9"}, allowed: true},
		{remote: "10.0.0.5:40000", xff: []string{"198.51.100.1", "203.0.113.7"}, allowed: true},
		{remote: "10.0.0.5:40000", xff: []string{"10.0.0.8, 10.0.0.9"}},
		{remote: "10.0.0.5:40000", xff: []string{"203.0.113.7, 198.51.100.1"}},
		{remote: "10.0.0.5:40000", xff: []string{"203.0.113.7", "198.51.100.1"}},
		{remote: "10.0.0.5:40000", xff: []string{"203.0.113.7, garbage"}},
		{remote: "10.0.0.5:40000", xff: []string{"203.0.113.7:1234"}, allowed: true},
		{remote: "10.0.0.5:40000", xff: []string{"[2001:db8::7]:1234, 10.0.0.9"}},
		{remote: "10.0.0.5:40000", realIP: "203.0.113.8", allowed: true},
		{remote: "10.0.0.5:40000", realIP: "198.51.100.1"},
		// nginx sets X-Real-IP, a load balancer behind it appends nginx's
		// address: every hop is a proxy, X-Real-IP names the client.
		{remote: "10.0.0.5:40000", xff: []string{"10.0.0.9"}, realIP: "203.0.113.8", allowed: true},
		{remote: "10.0.0.5:40000", xff: []string{"10.0.0.9"}, realIP: "198.51.100.1"},
		{remote: "10.0.0.5:40000"},
		{remote: "198.51.100.1:5000", xff: []string{"203.0.113.7"}},
		{remote: "198.51.100.1:5000", realIP: "203.0.113.7"},
	})
	r, _ := http.NewRequest("POST", "/", nil)
	r.RemoteAddr = "10.0.0.5:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
	if got := callers.Caller(r); got != netip.MustParseAddr("203.0.113.7") {
		t.Errorf("Caller = %v", got)
	}
}

// wechatIPs fetches WeChat's list from a fake WeChat, as cmd/serve wires it.
func wechatIPs(t *testing.T, wx *fakewechat.Server) func(context.Context) ([]string, error) {
	t.Helper()
	c, err := client.New(client.Options{AppID: wx.AppID, AppSecret: wx.AppSecret, APIBase: wx.URL,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c.CallbackIPs
}

func failingFetch(context.Context) ([]string, error) { return nil, errors.New("WeChat is unreachable") }

// TestCallbackIPsWeChat: "wechat" is the list from getcallbackip, kept in
// the store; a restart uses the stored list when WeChat cannot be asked,
// and start-up stops when there is none.
func TestCallbackIPsWeChat(t *testing.T) {
	wx := fakewechat.New("wxcallers", "secret")
	defer wx.Close()
	wx.Answer("/cgi-bin/getcallbackip", map[string]any{"ip_list": []string{"101.226.62.77", "101.226.103.0/25", "not-an-ip"}})
	st := memory.New(memory.Options{})
	callers := newCallers(t, host.CallersOptions{Allow: []string{"wechat", "127.0.0.1"}, FetchWeChatIPs: wechatIPs(t, wx), Store: st})
	for addr, want := range map[string]bool{"101.226.62.77": true, "101.226.103.100": true, "101.226.103.200": false,
		"127.0.0.1": true, "1.1.1.1": false} {
		if got := callers.Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Allowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if len(wx.CallsTo("/cgi-bin/getcallbackip")) != 1 {
		t.Errorf("getcallbackip called %d times", len(wx.CallsTo("/cgi-bin/getcallbackip")))
	}
	runCallerCases(t, callers, []callerCase{{remote: "101.226.62.77:5000", allowed: true}, {remote: "8.8.8.8:5000"}})

	// A restart within the day uses the stored list without asking WeChat.
	again := newCallers(t, host.CallersOptions{Allow: []string{"wechat"}, FetchWeChatIPs: failingFetch, Store: st})
	if !again.Allowed(netip.MustParseAddr("101.226.62.77")) {
		t.Error("a restart did not use the stored list")
	}
	// A day later WeChat is asked; when it does not answer, the stored list
	// (however old) still serves, with a warning.
	var logs bytes.Buffer
	later := newCallers(t, host.CallersOptions{Allow: []string{"wechat"}, FetchWeChatIPs: failingFetch, Store: st,
		Now: func() time.Time { return time.Now().Add(49 * time.Hour) }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if !later.Allowed(netip.MustParseAddr("101.226.62.77")) || !strings.Contains(logs.String(), "using the stored one") {
		t.Errorf("an old stored list was not used: %s", logs.String())
	}

	// No list at all: start-up stops, saying why.
	for name, opts := range map[string]host.CallersOptions{
		"unreachable":   {Allow: []string{"wechat"}, FetchWeChatIPs: failingFetch, Store: memory.New(memory.Options{})},
		"no store":      {Allow: []string{"wechat"}, FetchWeChatIPs: failingFetch},
		"empty list":    {Allow: []string{"wechat"}, FetchWeChatIPs: func(context.Context) ([]string, error) { return []string{"x"}, nil }},
		"api error":     {Allow: []string{"wechat"}, FetchWeChatIPs: wechatIPs(t, errorWeChat(t))},
		"no credential": {Allow: []string{"wechat"}},
		"bad cidr":      {Allow: []string{"10.0.0.0/33"}},
		"bad proxy":     {Allow: []string{"10.0.0.0/8"}, TrustedProxies: []string{"localhost"}},
	} {
		if _, err := host.NewCallers(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "callback_ips") && !strings.Contains(err.Error(), "trusted_proxies") {
			t.Errorf("%s: %v, want an error naming the key", name, err)
		}
	}
}

// errorWeChat is a fake WeChat whose getcallbackip answers an errcode.
func errorWeChat(t *testing.T) *fakewechat.Server {
	wx := fakewechat.New("wxcallers", "secret")
	t.Cleanup(wx.Close)
	wx.Answer("/cgi-bin/getcallbackip", map[string]any{"errcode": 48001, "errmsg": "api unauthorized"})
	return wx
}

// TestCallbackIPsRefresh: Run fetches the list again when it is due,
// uses it and stores it.
func TestCallbackIPsRefresh(t *testing.T) {
	wx := fakewechat.New("wxcallers", "secret")
	defer wx.Close()
	st := memory.New(memory.Options{})
	callers := newCallers(t, host.CallersOptions{Allow: []string{"wechat"}, FetchWeChatIPs: wechatIPs(t, wx), Store: st,
		Refresh: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	wx.Answer("/cgi-bin/getcallbackip", map[string]any{"ip_list": []string{"203.0.113.50"}})
	stop := runCallers(callers)
	defer stop()

	deadline := time.Now().Add(20 * time.Second)
	for !callers.Allowed(netip.MustParseAddr("203.0.113.50")) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not refresh the list")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if callers.Allowed(netip.MustParseAddr("101.226.62.77")) {
		t.Error("the old list is still used after the refresh")
	}
	stored, _ := st.LoadToken(context.Background(), host.DefaultWeChatIPsKey)
	if !strings.Contains(stored.Value, "203.0.113.50") {
		t.Errorf("stored list %q", stored.Value)
	}
}

// A failed refresh keeps the list in use (and tries again an hour later).
func TestCallbackIPsFailedRefresh(t *testing.T) {
	wx := fakewechat.New("wxcallers", "secret")
	defer wx.Close()
	var logs syncLog
	callers := newCallers(t, host.CallersOptions{Allow: []string{"wechat"}, FetchWeChatIPs: wechatIPs(t, wx),
		Refresh: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	wx.Answer("/cgi-bin/getcallbackip", map[string]any{"errcode": -1, "errmsg": "system error"})
	stop := runCallers(callers)
	defer stop()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "keeping the current one") {
		if time.Now().After(deadline) {
			t.Fatalf("no failed refresh logged: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !callers.Allowed(netip.MustParseAddr("101.226.62.77")) {
		t.Error("a failed refresh dropped the list in use")
	}
	if !strings.Contains(logs.String(), "retry_in=1h0m0s") {
		t.Errorf("log %s", logs.String())
	}
}

// runCallers runs the refresh loop until the returned stop is called.
func runCallers(c *host.Callers) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// syncLog is a log buffer the refresh goroutine writes while the test reads.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestCallbackIPsForwardingHeadersDisagree: a proxy sets one of the two
// headers and passes the other through from the client as sent (nginx does,
// for any header it is not told to set). The caller cannot put an allowed
// address in the header the proxy leaves alone: when both are there, they
// must name the same caller (or X-Real-IP a trusted proxy, as a proxy in
// front of the last one writes it).
func TestCallbackIPsForwardingHeadersDisagree(t *testing.T) {
	callers := newCallers(t, host.CallersOptions{Allow: []string{"203.0.113.0/24"}, TrustedProxies: []string{"10.0.0.0/8"}})
	runCallerCases(t, callers, []callerCase{
		// nginx with proxy_set_header X-Real-IP $remote_addr only: the
		// X-Forwarded-For is the client's own.
		{remote: "10.0.0.5:40000", realIP: "198.51.100.1", xff: []string{"203.0.113.7"}},
		// A proxy that appends X-Forwarded-For only: X-Real-IP is the
		// client's own.
		{remote: "10.0.0.5:40000", realIP: "203.0.113.7", xff: []string{"198.51.100.1"}},
		// Both set by the proxy: they agree.
		{remote: "10.0.0.5:40000", realIP: "203.0.113.7", xff: []string{"203.0.113.7"}, allowed: true},
		{remote: "10.0.0.5:40000", realIP: "203.0.113.7", xff: []string{"198.51.100.1, 203.0.113.7"}, allowed: true},
		// Two proxies: the inner one's X-Real-IP names the outer one.
		{remote: "10.0.0.5:40000", realIP: "10.0.0.9", xff: []string{"203.0.113.7, 10.0.0.9"}, allowed: true},
		{remote: "10.0.0.5:40000", realIP: "garbage", xff: []string{"203.0.113.7"}},
	})
}
