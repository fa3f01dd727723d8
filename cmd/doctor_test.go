package cmd

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/bolt"
)

const (
	doctorToken  = "doctorToken1"
	doctorAppID  = "wxdoctor000000001"
	doctorSecret = "doctor-secret"
)

type nobody struct{}

func (nobody) Dispatch(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) {
	return nil, nil, nil
}

// doctorSetup is a working setup: scripts that load, a fake WeChat that
// issues tokens, and a bot behind http://bot.example/wechat.
type doctorSetup struct {
	wx      *fakewechat.Server
	bot     *httptest.Server
	scripts string
	db      string
}

func newDoctorSetup(t *testing.T) *doctorSetup {
	t.Helper()
	wx := fakewechat.New(doctorAppID, doctorSecret)
	t.Cleanup(wx.Close)
	h, err := host.New(host.Options{Token: doctorToken, Dispatcher: nobody{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wechat", h)
	bot := httptest.NewServer(mux)
	t.Cleanup(bot.Close)
	return &doctorSetup{
		wx:      wx,
		bot:     bot,
		scripts: writeScripts(t, map[string]string{"hello.lua": `robot.text(function(m) return "hi" end)`}),
		db:      filepath.Join(t.TempDir(), "luarobot.db"),
	}
}

func (s *doctorSetup) args(extra ...string) []string {
	return append([]string{
		"--token", doctorToken, "--app_id", doctorAppID, "--app_secret", doctorSecret,
		"--api_base", s.wx.URL, "--scripts", s.scripts, "--db", s.db,
		"--public_url", "http://bot.example/wechat", "--admin_addr", "off",
	}, extra...)
}

// runDoctor runs the doctor with public URLs reaching the setup's bot; it
// returns the output, one line per check, and the exit code.
func (s *doctorSetup) run(t *testing.T, args ...string) (map[string]string, string, int) {
	t.Helper()
	var out bytes.Buffer
	d := &doctor{out: &out, http: clientTo("bot.example", s.bot.Listener.Addr().String())}
	err := d.run(context.Background(), args)
	code := 0
	var exit exitError
	switch {
	case errors.As(err, &exit):
		code = int(exit)
	case err != nil:
		t.Fatalf("doctor: %v", err)
	}
	checks := map[string]string{}
	for _, l := range lines(out.String()) {
		if strings.HasPrefix(l, "      ") {
			continue // a detail line
		}
		status, rest, _ := strings.Cut(l, " ")
		name := strings.TrimSpace(rest)
		for _, n := range []string{"configuration", "store", "scripts", "access token", "public URL", "clock"} {
			if strings.HasPrefix(name, n) {
				checks[n] = status
			}
		}
	}
	return checks, out.String(), code
}

func TestDoctorGoodSetup(t *testing.T) {
	s := newDoctorSetup(t)
	checks, out, code := s.run(t, s.args()...)
	if code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	for _, name := range []string{"configuration", "store", "scripts", "access token", "public URL", "clock"} {
		if checks[name] != "ok" {
			t.Errorf("%s: %q, want ok\n%s", name, checks[name], out)
		}
	}
	if len(lines(out)) != 6 {
		t.Errorf("want one line per check:\n%s", out)
	}
	for _, want := range []string{"1 scripts load, 1 handlers", "http://bot.example/wechat passes WeChat's URL check", "issued an access token"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// stable_token without force_refresh: a serving host's token stays valid.
	calls := s.wx.CallsTo("/cgi-bin/stable_token")
	if len(calls) != 1 || calls[0].Body["force_refresh"] != false || len(s.wx.CallsTo("/cgi-bin/token")) != 0 {
		t.Errorf("token calls: stable %v, token %d", calls, len(s.wx.CallsTo("/cgi-bin/token")))
	}
}

func TestDoctorIPNotWhitelisted(t *testing.T) {
	s := newDoctorSetup(t)
	s.wx.RefuseTokens(40164)
	checks, out, code := s.run(t, s.args()...)
	if code != 1 || checks["access token"] != "FAIL" || checks["scripts"] != "ok" {
		t.Errorf("exit %d, checks %v:\n%s", code, checks, out)
	}
	want := "errcode 40164: WeChat saw the request come from 203.0.113.9, which is not on the account's IP whitelist; add 203.0.113.9 under 公众号后台 → 设置与开发 → 基本配置 → IP白名单"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestDoctorWrongCredentials(t *testing.T) {
	s := newDoctorSetup(t)
	_, out, code := s.run(t, s.args("--app_secret", "wrong")...)
	if code != 1 || !strings.Contains(out, "errcode 40125: WeChat refused app_secret") {
		t.Errorf("wrong secret: exit %d\n%s", code, out)
	}
	_, out, code = s.run(t, s.args("--app_id", "wxunknown00000000")...)
	if code != 1 || !strings.Contains(out, `errcode 40013: WeChat does not know app_id "wxunknown00000000"`) {
		t.Errorf("wrong app_id: exit %d\n%s", code, out)
	}
}

func TestDoctorBrokenScript(t *testing.T) {
	s := newDoctorSetup(t)
	s.scripts = writeScripts(t, map[string]string{
		"a.lua": `robot.subscibe(function() end)`,
		"b.lua": "robot.text(function()\n  return 1 +\nend)",
		"c.lua": `robot.text(function() return "fine" end)`,
	})
	checks, out, code := s.run(t, s.args()...)
	if code != 1 || checks["scripts"] != "FAIL" || checks["access token"] != "ok" {
		t.Errorf("exit %d, checks %v:\n%s", code, checks, out)
	}
	for _, want := range []string{
		"2 of 3 files do not load",
		"a.lua:1: robot.subscibe does not exist (did you mean robot.subscribe?)",
		"b.lua:3: syntax error near 'end'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorRedirectingPublicURL(t *testing.T) {
	s := newDoctorSetup(t)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://bot.example"+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	defer redirect.Close()
	s.bot = redirect
	checks, out, code := s.run(t, s.args()...)
	if code != 1 || checks["public URL"] != "FAIL" {
		t.Errorf("exit %d, checks %v:\n%s", code, checks, out)
	}
	want := "http://bot.example/wechat answers 301, a redirect to https://bot.example/wechat?"
	if !strings.Contains(out, want) || !strings.Contains(out, "WeChat does not follow redirects; give the URL it redirects to (https://bot.example/wechat) in the console and public_url") {
		t.Errorf("output lacks the redirect and its fix:\n%s", out)
	}
}

func TestDoctorPublicURLChecks(t *testing.T) {
	s := newDoctorSetup(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--public_url", "http://bot.example/wrong"}, "http://bot.example/wrong answers HTTP 404: nothing serves the bot at this path"},
		{[]string{"--token", "otherToken1"}, "refused the signature (HTTP 403): the token used here probably differs from the host's"},
		{[]string{"--public_url", "https://bot.example:8443/wechat"}, "WeChat calls only port 80 (http) and 443 (https)"},
	} {
		checks, out, code := s.run(t, s.args(c.args...)...)
		if code != 1 || checks["public URL"] != "FAIL" || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, checks %v, want %q:\n%s", c.args, code, checks, c.want, out)
		}
	}
	checks, out, _ := s.run(t, s.args("--public_url", "")...)
	if checks["public URL"] != "skip" {
		t.Errorf("without public_url: %v\n%s", checks, out)
	}
}

func TestDoctorClockSkew(t *testing.T) {
	s := newDoctorSetup(t)
	s.wx.SetClockSkew(-10 * time.Minute)
	checks, out, code := s.run(t, s.args()...)
	if code != 1 || checks["clock"] != "FAIL" || !strings.Contains(out, "this machine's clock is 10m") || !strings.Contains(out, "every message would be refused") {
		t.Errorf("exit %d, checks %v:\n%s", code, checks, out)
	}
	s.wx.SetClockSkew(30 * time.Second)
	checks, out, code = s.run(t, s.args()...)
	// The Date header has a resolution of a second: 29s to 31s.
	if code != 0 || checks["clock"] != "warn" || !strings.Contains(out, "s behind") {
		t.Errorf("30s behind: exit %d, checks %v:\n%s", code, checks, out)
	}
}

func TestDoctorConfigurationError(t *testing.T) {
	s := newDoctorSetup(t)
	_, out, code := s.run(t, s.args("--token", "has space")...)
	if code != 1 || !strings.HasPrefix(out, "FAIL  configuration  token: must be letters and digits only") || len(lines(out)) != 1 {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// Beside a serving host the bbolt file is locked: the doctor does not wait
// for it, and asks the host's /readyz instead.
func TestDoctorStoreInUse(t *testing.T) {
	s := newDoctorSetup(t)
	held, err := bolt.Open(bolt.Options{Path: s.db})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	readyz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	defer readyz.Close()
	addr := readyz.Listener.Addr().String()

	start := time.Now()
	checks, out, _ := s.run(t, s.args("--admin_addr", addr, "--public_url", "")...)
	if checks["store"] != "ok" || !strings.Contains(out, "is in use by a serving host; its http://"+addr+"/readyz says ok") {
		t.Errorf("checks %v:\n%s", checks, out)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("doctor took %v: did it wait for the lock?", elapsed)
	}
	// The token check still ran (and the public URL, without a token in
	// the store, is skipped rather than failed).
	if checks["access token"] != "ok" {
		t.Errorf("checks %v", checks)
	}

	readyz.Close()
	checks, out, code := s.run(t, s.args("--admin_addr", addr, "--public_url", "")...)
	if code != 1 || checks["store"] != "FAIL" || !strings.Contains(out, "and nothing answers http://"+addr+"/readyz") {
		t.Errorf("host gone: exit %d, checks %v:\n%s", code, checks, out)
	}
	checks, out, _ = s.run(t, s.args("--admin_addr", "off", "--public_url", "")...)
	if checks["store"] != "warn" || !strings.Contains(out, "admin_addr is off") {
		t.Errorf("admin off: checks %v:\n%s", checks, out)
	}
}

// The doctor holds the bbolt file only while it reads it: a host that
// starts while the doctor waits on the network (a public URL that is slow
// to answer) gets the file, rather than "locked by another process".
func TestDoctorDoesNotHoldTheBoltFile(t *testing.T) {
	s := newDoctorSetup(t)
	st, err := bolt.Open(bolt.Options{Path: s.db})
	if err != nil {
		t.Fatal(err)
	}
	// The host was started without a token: the doctor signs with the
	// one it generated.
	if err := st.SaveToken(context.Background(), app.TokenKey, store.Token{Value: doctorToken}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	var openErr error
	bot := s.bot.Config.Handler
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A host starting now, as serve opens the file.
		held, err := bolt.Open(bolt.Options{Path: s.db, LockTimeout: 2 * time.Second})
		if err == nil {
			held.Close()
		}
		openErr = err
		bot.ServeHTTP(w, r)
	}))
	defer slow.Close()
	s.bot = slow
	checks, out, _ := s.run(t, s.args("--token", "")...)
	if checks["store"] != "ok" || checks["public URL"] != "ok" {
		t.Fatalf("checks %v:\n%s", checks, out)
	}
	if openErr != nil {
		t.Errorf("a host starting during the doctor's public URL check: %v", openErr)
	}
}
