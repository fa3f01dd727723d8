package cmd

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

const (
	simToken  = "simToken123"
	simAppID  = "wxsim000000000001"
	simAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	otherKey  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg"
)

// echoBot answers a text with its content and an event with its type and
// key, and remembers who spoke.
type echoBot struct{ users []string }

func (e *echoBot) Dispatch(_ context.Context, m *message.Message, _ []byte) (reply.Reply, []byte, error) {
	e.users = append(e.users, m.Source)
	if m.Type == "text" {
		return &reply.Text{Content: "echo: " + m.String("content")}, nil, nil
	}
	return &reply.Text{Content: m.Type + " " + m.EventKey + " " + m.String("label")}, nil, nil
}

func startBot(t *testing.T, aesKey string) (*httptest.Server, *echoBot) {
	t.Helper()
	bot := &echoBot{}
	h, err := host.New(host.Options{Token: simToken, AppID: simAppID, EncodingAESKey: aesKey, Dispatcher: bot})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, bot
}

// simulateOut runs simulate with args and input; it returns the output
// and the exit code run would give.
func simulateOut(t *testing.T, input string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	err := simulateRun(context.Background(), args, strings.NewReader(input), &out)
	var exit exitError
	var usage usageError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), int(exit)
	case errors.As(err, &usage):
		return out.String() + err.Error(), 2
	}
	return out.String() + err.Error(), 1
}

func TestSimulateWithoutMessagePrintsUsage(t *testing.T) {
	out, code := simulateOut(t, "", "--token", simToken)
	if code != 2 || !strings.HasPrefix(out, "Usage: luarobot simulate") || !strings.Contains(out, "--verify") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestSimulateVerify(t *testing.T) {
	srv, _ := startBot(t, "")
	out, code := simulateOut(t, "", "--verify", "--token", simToken, "--url", srv.URL+"/")
	if code != 0 || !strings.HasPrefix(out, "URL check passed: "+srv.URL+"/ echoed the echostr") {
		t.Errorf("exit %d: %s", code, out)
	}
	out, code = simulateOut(t, "", "--verify", "--token", "otherToken", "--url", srv.URL+"/")
	if code != 1 || !strings.Contains(out, "URL check failed: "+srv.URL+"/ refused the signature (HTTP 403): the token used here probably differs from the host's") {
		t.Errorf("wrong token: exit %d: %s", code, out)
	}
	redirect := httptest.NewServer(http.RedirectHandler("https://example.com/wechat", http.StatusFound))
	defer redirect.Close()
	out, code = simulateOut(t, "", "--verify", "--token", simToken, "--url", redirect.URL+"/")
	if code != 1 || !strings.Contains(out, "answers 302, a redirect to https://example.com/wechat: WeChat does not follow redirects") {
		t.Errorf("redirect: exit %d: %s", code, out)
	}
	addr := closedAddr(t)
	out, code = simulateOut(t, "", "--verify", "--token", simToken, "--url", "http://"+addr+"/")
	if code != 1 || !strings.Contains(out, "nothing listens at "+addr+" (connection refused): is luarobot serve running there?") {
		t.Errorf("no host: exit %d: %s", code, out)
	}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A failed delivery says what it probably means.
func TestSimulateExplainsFailures(t *testing.T) {
	plain, _ := startBot(t, "")
	out, code := simulateOut(t, "", "--token", "otherToken", "--url", plain.URL+"/", "hi")
	if code != 1 || !strings.Contains(out, "HTTP 403") || !strings.Contains(out, "hint: the token used here probably differs from the host's") {
		t.Errorf("wrong token: exit %d:\n%s", code, out)
	}
	aes, _ := startBot(t, simAESKey)
	out, code = simulateOut(t, "", "--token", simToken, "--app_id", simAppID, "--encoding_aes_key", otherKey, "--url", aes.URL+"/", "hi")
	if code != 1 || !strings.Contains(out, "HTTP 400") || !strings.Contains(out, "hint: the encoding_aes_key (or app_id) used here probably differs from the host's") {
		t.Errorf("wrong AES key: exit %d:\n%s", code, out)
	}
	out, code = simulateOut(t, "", "--token", simToken, "--app_id", simAppID, "--encoding_aes_key", otherKey, "--url", plain.URL+"/", "hi")
	if code != 1 || !strings.Contains(out, "HTTP 400") || !strings.Contains(out, "hint: the host has no encoding_aes_key") {
		t.Errorf("encrypted message to a host without a key: exit %d:\n%s", code, out)
	}
	out, code = simulateOut(t, "", "--token", simToken, "--app_id", simAppID, "--encoding_aes_key", simAESKey, "--url", aes.URL+"/", "hi")
	if code != 0 || !strings.Contains(out, "echo: hi") || !strings.Contains(out, "(aes mode)") {
		t.Errorf("right AES key: exit %d:\n%s", code, out)
	}
	addr := closedAddr(t)
	out, code = simulateOut(t, "", "--token", simToken, "--url", "http://"+addr+"/", "hi")
	if code != 1 || !strings.Contains(out, "hint: nothing listens at "+addr+" (connection refused)") {
		t.Errorf("no host: exit %d:\n%s", code, out)
	}
}

func TestSimulateConversation(t *testing.T) {
	srv, bot := startBot(t, "")
	input := "你好\n/click music\n/click music\n/clik x\n/location 39.9 116.4 天安门\n//start\n\n/help\n/quit\nnot sent\n"
	out, code := simulateOut(t, input, "-i", "--from", "oAlice", "--token", simToken, "--url", srv.URL+"/")
	if code != 0 {
		t.Errorf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Talking to " + srv.URL + "/ (plain mode) as oAlice",
		"echo: 你好",
		"click_event music",
		"unknown command /clik (did you mean /click?); /help lists the commands",
		"location  天安门",
		"echo: /start",
		"/location X Y [LABEL]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Two clicks of one key are two events, not WeChat's retry of one.
	if n := strings.Count(out, "click_event music"); n != 2 {
		t.Errorf("%d click answers, want 2:\n%s", n, out)
	}
	if strings.Contains(out, "not sent") || len(bot.users) != 5 {
		t.Errorf("messages after /quit, or a message lost: %d delivered\n%s", len(bot.users), out)
	}
	for _, u := range bot.users {
		if u != "oAlice" {
			t.Errorf("delivered as %q", u)
		}
	}
}

// A 403 is not always the token: a host whose callback_ips leave this
// machine out, or one in 安全模式 only, refuses with its own reason, and
// simulate (and doctor's public URL check, which shares the code) must
// not send the operator off to compare tokens.
func TestSimulateForbiddenIsNotAlwaysTheToken(t *testing.T) {
	callers, err := host.NewCallers(context.Background(), host.CallersOptions{Allow: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(host.Options{Token: simToken, Dispatcher: &echoBot{}, Callers: callers})
	if err != nil {
		t.Fatal(err)
	}
	fenced := httptest.NewServer(h)
	defer fenced.Close()
	for _, args := range [][]string{{"hi"}, {"--verify"}} {
		out, code := simulateOut(t, "", append([]string{"--token", simToken, "--url", fenced.URL + "/"}, args...)...)
		if code != 1 || strings.Contains(out, "token") || !strings.Contains(out, "callback_ips") {
			t.Errorf("%v, caller not in callback_ips: exit %d:\n%s", args, code, out)
		}
	}

	h, err = host.New(host.Options{Token: simToken, AppID: simAppID, EncodingAESKey: simAESKey, RefusePlaintext: true, Dispatcher: &echoBot{}})
	if err != nil {
		t.Fatal(err)
	}
	safe := httptest.NewServer(h)
	defer safe.Close()
	out, code := simulateOut(t, "", "--token", simToken, "--url", safe.URL+"/", "hi")
	if code != 1 || strings.Contains(out, "token") || !strings.Contains(out, "hint: the host takes encrypted messages only") {
		t.Errorf("plain message to a 安全模式 host: exit %d:\n%s", code, out)
	}
}
