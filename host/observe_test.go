package host_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/delivery"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/wxcrypto"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// logLine returns the first log line of logs matching re, waiting up to a
// generous deadline for it (late deliveries log when their handler
// finishes).
func logLine(t *testing.T, logs *syncBuffer, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		text := logs.String()
		for _, line := range strings.Split(text, "\n") {
			if rx.MatchString(line) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matches %s:\n%s", re, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// scriptedBot answers by content, saying which "handler" answered as the
// Lua runtime does.
var scriptedBot = funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	switch msg.String("content") {
	case "hi":
		delivery.SetHandler(ctx, "hello.lua:12")
		return &reply.Text{Content: "hello"}, nil, nil
	case "fail":
		return nil, nil, errors.New("hello.lua:7: attempt to index a non-table object(nil) with key 'name'")
	case "slow":
		time.Sleep(600 * time.Millisecond)
		delivery.SetHandler(ctx, "slow.lua:3")
		return &reply.Text{Content: "finally"}, nil, nil
	case "panic":
		panic("boom")
	case "leak":
		// A store error names the session's key: the openid.
		return nil, nil, errors.New(`save session "` + msg.Source + `": disk full`)
	}
	return nil, nil, nil
})

var durationRE = `duration=[0-9.]+(µs|ms|s)`

func TestDeliveryLogLineAndMetrics(t *testing.T) {
	m := metrics.New()
	logs := &syncBuffer{}
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: scriptedBot, Metrics: m, Sender: api.send, ReplyTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	w := newWechat(t, false)
	alice := host.UserHash("oAlice")
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(alice) || alice != host.UserHash("oAlice") || alice == host.UserHash("oBob") {
		t.Fatalf("user hash %q", alice)
	}

	send := func(content string, id int64) []byte {
		t.Helper()
		code, body := serve(h, w.request("/", textXML("oAlice", content, id)))
		if code != 200 {
			t.Fatalf("%s: %d %s", content, code, body)
		}
		return body
	}
	send("hi", 1)
	logLine(t, logs, `^time=\S+ level=INFO msg=delivery type=text user=`+alice+` handler=hello.lua:12 reply=text `+durationRE+` outcome=replied$`)
	send("hi", 1) // WeChat's retry
	logLine(t, logs, `level=INFO msg=delivery type=text user=`+alice+` handler=- reply=text `+durationRE+` outcome=retry$`)
	send("nothing", 2)
	logLine(t, logs, `level=INFO msg=delivery type=text user=`+alice+` handler=- reply=success `+durationRE+` outcome=empty$`)
	send("fail", 3)
	logLine(t, logs, `level=ERROR msg=delivery type=text user=`+alice+` handler=- reply=success `+durationRE+` outcome=error error="hello.lua:7: attempt to index a non-table object\(nil\) with key 'name'"$`)
	send("panic", 4)
	logLine(t, logs, `level=ERROR msg=delivery .* outcome=error error="handler panicked: boom"$`)
	send("leak", 6)
	logLine(t, logs, `level=ERROR msg=delivery .* outcome=error error="save session \\"`+alice+`\\": disk full"$`)
	if body := send("slow", 7); string(body) != "success" {
		t.Errorf("slow: %s", body)
	}
	api.waitSent(t, 1)
	logLine(t, logs, `level=INFO msg=delivery type=text user=`+alice+` handler=slow.lua:3 reply=text duration=[0-9.]+m?s outcome=late reply_after=[0-9.]+m?s delivered=api$`)
	if strings.Contains(logs.String(), "oAlice") {
		t.Errorf("the openid is in the log:\n%s", logs)
	}

	s := metricstest.Gather(t, m.Gatherer())
	for outcome, want := range map[string]float64{"replied": 1, "retry": 1, "empty": 1, "error": 3, "late": 1} {
		if got := s.Value("luarobot_deliveries_total", "type", "text", "outcome", outcome); got != want {
			t.Errorf("deliveries{outcome=%s} = %v, want %v (%v)", outcome, got, want, s.Series("luarobot_deliveries_total"))
		}
	}
	if got := s.Value("luarobot_delivery_seconds"); got != 7 {
		t.Errorf("delivery_seconds count = %v, want 7", got)
	}
	if st := h.Stats(); st.Late != 1 {
		t.Errorf("late_replies = %d, want 1", st.Late)
	}
}

// log_user_ids writes the openid; console users are counted apart.
func TestDeliveryUserIDsAndConsole(t *testing.T) {
	m := metrics.New()
	logs := &syncBuffer{}
	h := newHandler(t, host.Options{Dispatcher: scriptedBot, Metrics: m, LogUserIDs: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	w := newWechat(t, false)
	serve(h, w.request("/", textXML("oAlice", "hi", 1)))
	serve(h, w.request("/", textXML("console-alice", "hi", 2)))
	logLine(t, logs, `msg=delivery type=text user=oAlice handler=hello.lua:12 `)
	logLine(t, logs, `msg=delivery type=text user=console-alice handler=hello.lua:12 `)
	s := metricstest.Gather(t, m.Gatherer())
	if s.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied") != 1 ||
		s.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied", "console", "true") != 1 {
		t.Errorf("series: %v", s.Series("luarobot_deliveries_total"))
	}
}

// late_replies counts the replies the user got: a late reply the API
// refused is a failure, not a late reply.
func TestLateRepliesCountOnlyDelivered(t *testing.T) {
	logs := &syncBuffer{}
	failing := func(ctx context.Context, openid string, r reply.Reply) error {
		return errors.New("errcode 45015: response out of time limit")
	}
	h := newHandler(t, host.Options{Dispatcher: scriptedBot, Sender: failing, ReplyTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	w := newWechat(t, false)
	serve(h, w.request("/", textXML("oAlice", "slow", 1)))
	logLine(t, logs, `msg=delivery .* outcome=late .* delivered=no$`)
	if st := h.Stats(); st.Late != 0 || st.Failures != 1 {
		t.Errorf("stats %+v: want no late reply and one failure", st)
	}
}

func TestRefusalsAreCounted(t *testing.T) {
	m := metrics.New()
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, MaxBody: 4096, OnRefused: m.Refused})
	w := newWechat(t, false)

	bad := w.request("/", textXML("oAlice", "hi", 1))
	q := bad.URL.Query()
	q.Set("signature", "0000")
	bad.URL.RawQuery = q.Encode()
	serve(h, bad)

	old := newWechat(t, false)
	old.nowUnix = time.Now().Add(-time.Hour).Unix()
	serve(h, old.request("/", textXML("oAlice", "hi", 2)))

	put := w.request("/", textXML("oAlice", "hi", 3))
	put.Method = http.MethodPut
	serve(h, put)

	serve(h, w.request("/", []byte("<xml><MsgType>")))
	serve(h, w.request("/", textXML("oAlice", strings.Repeat("x", 5000), 4)))

	// Signed with the token, encrypted with another key: it cannot be
	// decrypted.
	other, err := wxcrypto.NewCipher("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefg", testAppID)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := &wechat{t: t, token: testToken, cipher: other}
	serve(h, wrongKey.request("/", textXML("oAlice", "hi", 5)))

	// Only 192.0.2.0/24 may call: the test's 192.0.2.1 may, 198.51.100.7
	// may not.
	callers, err := host.NewCallers(context.Background(), host.CallersOptions{Allow: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	guarded := newHandler(t, host.Options{Dispatcher: echo, Callers: callers, OnRefused: m.Refused})
	stranger := w.request("/", textXML("oAlice", "hi", 7))
	stranger.RemoteAddr = "198.51.100.7:4000"
	if code, _ := serve(guarded, stranger); code != http.StatusForbidden {
		t.Errorf("a caller outside callback_ips: %d", code)
	}
	if code, _ := serve(guarded, w.request("/", textXML("oAlice", "hi", 8))); code != 200 {
		t.Errorf("a caller in callback_ips: %d", code)
	}

	// 安全模式 only: a plain message is refused. And a signed query seen
	// before with another body is a replay.
	strict := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, RefusePlaintext: true, OnRefused: m.Refused})
	serve(strict, w.request("/", textXML("oAlice", "hi", 9)))
	first := w.request("/", textXML("oAlice", "hi", 10))
	replayed := httptest.NewRequest(http.MethodPost, first.URL.String(), strings.NewReader(string(textXML("oMallory", "forged", 11))))
	if code, _ := serve(h, first); code != 200 {
		t.Fatalf("first: %d", code)
	}
	if code, _ := serve(h, replayed); code != http.StatusForbidden {
		t.Errorf("a replayed query with another body: %d", code)
	}

	// A good message is no refusal.
	serve(h, w.request("/", textXML("oAlice", "hi", 6)))

	s := metricstest.Gather(t, m.Gatherer())
	for reason, want := range map[string]float64{
		"signature": 1, "timestamp": 1, "method": 1, "malformed": 1, "body_too_large": 1, "decrypt": 1,
		"callback_ip": 1, "replay": 1, "plaintext": 1,
	} {
		if got := s.Value("luarobot_requests_refused_total", "reason", reason); got != want {
			t.Errorf("refused{reason=%s} = %v, want %v", reason, got, want)
		}
	}
}
