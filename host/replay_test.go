package host_test

// The replay rule: one signed query authenticates one body.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

// refusals records what OnRefused is told.
type refusals struct {
	mu      sync.Mutex
	reasons []string
}

func (r *refusals) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

func (r *refusals) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.reasons, ",")
}

// countingEcho echoes texts as "<source>: <content>" and counts its runs.
type countingEcho struct {
	mu   sync.Mutex
	runs []string
}

func (c *countingEcho) handler() funcDispatcher {
	return funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		c.mu.Lock()
		c.runs = append(c.runs, msg.Source+":"+msg.String("content"))
		c.mu.Unlock()
		return &reply.Text{Content: msg.Source + ": " + msg.String("content")}, nil, nil
	})
}

func (c *countingEcho) all() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.runs, ",")
}

// A query seen once (an nginx access log) cannot carry forged messages from
// other users; WeChat's retry of the same body is still answered.
func TestReplayedQueryWithAnotherBodyIsRefused(t *testing.T) {
	var logs syncBuffer
	var refused refusals
	bot := &countingEcho{}
	h := newHandler(t, host.Options{Dispatcher: bot.handler(), OnRefused: refused.add,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	seen := w.query(nil)
	genuine := textXML("oAlice", "hello", 5001)

	code, body := serve(h, w.requestWith("/", seen, genuine))
	if code != http.StatusOK || parseReply(t, body).Content != "oAlice: hello" {
		t.Fatalf("genuine message: %d %s", code, body)
	}
	// WeChat's retry: same query, same body. Dedup answers it.
	code, body = serve(h, w.requestWith("/", seen, genuine))
	if code != http.StatusOK || parseReply(t, body).Content != "oAlice: hello" {
		t.Fatalf("retry with the same body: %d %s", code, body)
	}
	// The attacker's forgeries: other users, other contents, new MsgIds.
	for i, forged := range [][]byte{
		textXML("oMallory", "transfer all", 6001),
		textXML("oBob", "unsubscribe me", 6002),
		textXML("oAlice", "hello", 6003), // same user and text, another MsgId
		clickXML("oCarol", "buy", time.Now().Unix()),
	} {
		code, body := serve(h, w.requestWith("/", seen, forged))
		if code != http.StatusForbidden {
			t.Errorf("forgery %d with the seen query: %d %s, want 403", i, code, body)
		}
	}
	if got := bot.all(); got != "oAlice:hello" {
		t.Errorf("handlers ran for %q, want only the genuine message", got)
	}
	if got := refused.all(); got != "replay,replay,replay,replay" {
		t.Errorf("OnRefused got %q", got)
	}
	if l := logs.String(); !strings.Contains(l, "reason=replay") || !strings.Contains(l, "replayed with another body") {
		t.Errorf("log does not name the replay:\n%s", l)
	}
	// Another query (a fresh nonce) is another message.
	if code, body := serve(h, w.request("/", textXML("oBob", "hi", 6004))); code != 200 || parseReply(t, body).Content != "oBob: hi" {
		t.Errorf("a new query: %d %s", code, body)
	}
}

// A captured request replayed unchanged is WeChat's retry only while
// WeChat retries; later (when dedup may have forgotten the message, and
// the handlers would run again) it is refused too, encrypted or not.
func TestExactReplayAfterRetryWindowIsRefused(t *testing.T) {
	for _, aes := range []bool{false, true} {
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		opts := host.Options{Dispatcher: echo, Now: clock}
		if aes {
			opts.EncodingAESKey = testAESKey
		}
		h := newHandler(t, opts)
		w := newWechat(t, aes)
		w.nowUnix = now.Unix()
		captured := w.request("/", textXML("oAlice", "pay 10", 9300))
		body, _ := io.ReadAll(captured.Body)
		replay := func() *http.Request {
			return httptest.NewRequest(http.MethodPost, captured.URL.String(), bytes.NewReader(body))
		}
		if code, _ := serve(h, replay()); code != 200 {
			t.Fatalf("aes=%v: first delivery: %d", aes, code)
		}
		mu.Lock()
		now = now.Add(10 * time.Second)
		mu.Unlock()
		if code, _ := serve(h, replay()); code != 200 {
			t.Errorf("aes=%v: WeChat's retry 10 s later: %d, want 200", aes, code)
		}
		mu.Lock()
		now = now.Add(50 * time.Second)
		mu.Unlock()
		if code, answer := serve(h, replay()); code != http.StatusForbidden {
			t.Errorf("aes=%v: the same request 60 s later: %d %s, want 403", aes, code, answer)
		}
	}
}

// An encrypted request replayed after the retry window with its envelope
// touched up (a space, a line break: msg_signature covers the Encrypt
// value, not the bytes around it) is the same message replayed, and is
// refused as the unchanged one is. Else, once dedup has forgotten the
// message (after a minute) and while the timestamp is valid (five), the
// handlers would run again for a captured request.
func TestEncryptedReplayWithTouchedEnvelopeIsRefused(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	bot := &countingEcho{}
	h := newHandler(t, host.Options{Dispatcher: bot.handler(), Now: clock, EncodingAESKey: testAESKey})
	w := newWechat(t, true)
	w.nowUnix = now.Unix()
	captured := w.request("/", textXML("oAlice", "pay 10", 9400))
	body, _ := io.ReadAll(captured.Body)
	deliver := func(b []byte) int {
		code, _ := serve(h, httptest.NewRequest(http.MethodPost, captured.URL.String(), bytes.NewReader(b)))
		return code
	}
	if code := deliver(body); code != 200 {
		t.Fatalf("first delivery: %d", code)
	}
	mu.Lock()
	now = now.Add(60 * time.Second)
	mu.Unlock()
	for _, touched := range [][]byte{
		append(append([]byte(nil), body...), '\n'),
		bytes.Replace(body, []byte("<xml>"), []byte("<xml> "), 1),
	} {
		if bytes.Equal(touched, body) {
			t.Fatal("the envelope was not touched")
		}
		if code := deliver(touched); code != http.StatusForbidden {
			t.Errorf("the captured message 60 s later in a touched envelope: %d, want 403", code)
		}
	}
	if got := bot.all(); got != "oAlice:pay 10" {
		t.Errorf("handlers ran for %q", got)
	}
}

// The binding lives in the dedup store: a second process on the same store
// (Redis in production) refuses the forgery too.
func TestReplayRefusedAcrossProcesses(t *testing.T) {
	shared := memory.New(memory.Options{})
	a := newHandler(t, host.Options{Dispatcher: echo, Dedup: shared, SharedStore: true})
	b := newHandler(t, host.Options{Dispatcher: echo, Dedup: shared, SharedStore: true})
	w := newWechat(t, false)
	seen := w.query(nil)
	if code, _ := serve(a, w.requestWith("/", seen, textXML("oAlice", "hello", 7001))); code != 200 {
		t.Fatalf("genuine message: %d", code)
	}
	if code, body := serve(b, w.requestWith("/", seen, textXML("oMallory", "forged", 7002))); code != http.StatusForbidden {
		t.Errorf("forgery sent to the other process: %d %s, want 403", code, body)
	}
}

// On a host with an AES key that still accepts plaintext (兼容模式), the
// query of an encrypted message, or of the URL check, cannot carry a plain
// forged message either.
func TestQueriesOfEncryptedMessagesAndURLCheckAreBound(t *testing.T) {
	var refused refusals
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, OnRefused: refused.add})
	aes := newWechat(t, true)
	plain := newWechat(t, false)

	seen := aes.query(nil)
	code, body := serve(h, aes.requestWith("/", seen, textXML("oAlice", "secret", 8001)))
	if code != 200 || parseReply(t, aes.open(body)).Content != "secret" {
		t.Fatalf("encrypted message: %d %s", code, body)
	}
	// The log shows signature, timestamp and nonce (msg_signature binds
	// only the encrypted body): drop encrypt_type and send plaintext.
	if code, body := serve(h, plain.requestWith("/", seen, textXML("oMallory", "forged", 8002))); code != http.StatusForbidden {
		t.Errorf("plain forgery under an encrypted message's query: %d %s, want 403", code, body)
	}

	check := plain.query(url.Values{"echostr": {"hello"}})
	req := plain.requestWith("/", check, nil)
	req.Method = http.MethodGet
	if code, body := serve(h, req); code != 200 || string(body) != "hello" {
		t.Fatalf("URL check: %d %s", code, body)
	}
	check.Del("echostr")
	if code, body := serve(h, plain.requestWith("/", check, textXML("oMallory", "forged", 8003))); code != http.StatusForbidden {
		t.Errorf("plain forgery under the URL check's query: %d %s, want 403", code, body)
	}
	if got := refused.all(); got != "replay,replay" {
		t.Errorf("OnRefused got %q", got)
	}
}

// accept_plaintext = false: 安全模式 only.
func TestRefusePlaintext(t *testing.T) {
	var logs syncBuffer
	var refused refusals
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, RefusePlaintext: true,
		OnRefused: refused.add, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if code, body := serve(h, newWechat(t, false).request("/", textXML("oAlice", "plain", 9001))); code != http.StatusForbidden {
		t.Errorf("plaintext message: %d %s, want 403", code, body)
	}
	aes := newWechat(t, true)
	if code, body := serve(h, aes.request("/", textXML("oAlice", "sealed", 9002))); code != 200 || parseReply(t, aes.open(body)).Content != "sealed" {
		t.Errorf("encrypted message: %d %s", code, body)
	}
	// 兼容模式 bodies carry the plaintext beside <Encrypt>; they are
	// encrypted messages all the same.
	aes.compat = true
	if code, body := serve(h, aes.request("/", textXML("oAlice", "both", 9003))); code != 200 || parseReply(t, aes.open(body)).Content != "both" {
		t.Errorf("兼容模式 message: %d %s", code, body)
	}
	if got := refused.all(); got != "plaintext" {
		t.Errorf("OnRefused got %q", got)
	}
	if !strings.Contains(logs.String(), "reason=plaintext") || !strings.Contains(logs.String(), "accept_plaintext is false") {
		t.Errorf("log does not say why:\n%s", logs.String())
	}
	// Without an AES key the option has no meaning: config refuses it, and
	// the handler ignores it.
	h2 := newHandler(t, host.Options{Dispatcher: echo, RefusePlaintext: true})
	if code, _ := serve(h2, newWechat(t, false).request("/", textXML("oAlice", "plain", 9004))); code != 200 {
		t.Errorf("plain host with RefusePlaintext: %d", code)
	}
}

// ttlDedup records the TTL of each query binding.
type ttlDedup struct {
	*memory.Store
	mu   sync.Mutex
	ttls []time.Duration
}

func (d *ttlDedup) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	if strings.HasPrefix(key, "query|") {
		d.mu.Lock()
		d.ttls = append(d.ttls, ttl)
		d.mu.Unlock()
		if len(v) > 32 {
			return false, nil, errors.New("the body itself was stored, not its digest")
		}
	}
	return d.Store.AddDedup(ctx, key, v, ttl)
}

// The binding is kept as long as the timestamp is accepted; a digest is
// stored, never the body.
func TestReplayBindingLifetime(t *testing.T) {
	for _, c := range []struct {
		tolerance time.Duration
		ahead     int64
		want      time.Duration
	}{
		{0, 0, 300 * time.Second}, // the default tolerance
		{60 * time.Second, 0, 60 * time.Second},
		{60 * time.Second, 20, 80 * time.Second}, // a timestamp ahead of our clock stays valid longer
		{-1, 0, 300 * time.Second},               // tolerance off: still 300 s
	} {
		d := &ttlDedup{Store: memory.New(memory.Options{})}
		now := time.Unix(1_700_000_000, 0)
		h := newHandler(t, host.Options{Dispatcher: echo, Dedup: d, TimestampTolerance: c.tolerance, Now: func() time.Time { return now }})
		w := newWechat(t, false)
		w.nowUnix = now.Unix() + c.ahead
		long := strings.Repeat("long text ", 100)
		if code, _ := serve(h, w.request("/", textXML("oAlice", long, 9100))); code != 200 {
			t.Fatalf("tolerance %v: %d", c.tolerance, code)
		}
		if len(d.ttls) != 1 || d.ttls[0] != c.want {
			t.Errorf("tolerance %v, timestamp %ds ahead: binding TTLs %v, want [%v]", c.tolerance, c.ahead, d.ttls, c.want)
		}
	}
}

// failingQueries fails every query binding, as a Redis outage does.
type failingQueries struct{ *memory.Store }

func (f failingQueries) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	if strings.HasPrefix(key, "query|") {
		return false, nil, errors.New("redis 127.0.0.1:6379: add dedup: connection refused")
	}
	return f.Store.AddDedup(ctx, key, v, ttl)
}

// A store that fails does not take the bot down: the message is answered
// and the log says the binding was not checked.
func TestReplayCheckWithFailingStoreAnswers(t *testing.T) {
	var logs syncBuffer
	h := newHandler(t, host.Options{Dispatcher: echo, Dedup: failingQueries{memory.New(memory.Options{})},
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	if code, body := serve(h, w.request("/", textXML("oAlice", "still here", 9200))); code != 200 || parseReply(t, body).Content != "still here" {
		t.Errorf("answer with the store failing: %d %s", code, body)
	}
	if !strings.Contains(logs.String(), "binding to its body is not checked") {
		t.Errorf("log does not say the check was skipped:\n%s", logs.String())
	}
}
