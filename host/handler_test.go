package host_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/wxcrypto"
)

func TestEchostrHandshake(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo})
	w := newWechat(t, false)
	q := w.query(url.Values{"echostr": {"5837397520"}})
	code, body := serve(h, httptest.NewRequest(http.MethodGet, "/?"+q.Encode(), nil))
	if code != http.StatusOK || string(body) != "5837397520" {
		t.Errorf("handshake = %d %q, want 200 and the echostr", code, body)
	}
	// echostr is the caller's text: a browser must not sniff it as HTML.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?"+w.query(url.Values{"echostr": {"<script>x</script>"}}).Encode(), nil))
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("echostr answer headers = %v, want text/plain and nosniff", rec.Header())
	}
}

// slowPager is an error page that takes its time, counting how many
// renderings run at once.
type slowPager struct {
	funcDispatcher
	running, most *atomic.Int32
}

func (p slowPager) ErrorPage(ctx context.Context, url string) (string, bool) {
	n := p.running.Add(1)
	defer p.running.Add(-1)
	for {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-time.After(200 * time.Millisecond):
	case <-ctx.Done():
	}
	return "<p>custom</p>", true
}

// Unsigned requests cost an attacker nothing: however many arrive at once,
// robot.error_page renders one at a time and the others get the built-in
// page, so they cannot occupy the Lua states that answer WeChat.
func TestErrorPagesOneAtATime(t *testing.T) {
	var running, most atomic.Int32
	h := newHandler(t, host.Options{Dispatcher: slowPager{echo, &running, &most}})
	var wg sync.WaitGroup
	var custom, builtin atomic.Int32
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := serve(h, httptest.NewRequest(http.MethodGet, "/?signature=bad&timestamp=1&nonce=2", nil))
			switch {
			case code != http.StatusForbidden:
				t.Errorf("status %d", code)
			case strings.Contains(string(body), "custom"):
				custom.Add(1)
			case strings.Contains(string(body), "WeChat"):
				builtin.Add(1)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || custom.Load() < 1 || custom.Load()+builtin.Load() != 20 {
		t.Errorf("custom pages rendered at once: %d (want 1); custom %d, built-in %d of 20", most.Load(), custom.Load(), builtin.Load())
	}
}

type pagerDispatcher struct{ funcDispatcher }

func (pagerDispatcher) ErrorPage(_ context.Context, url string) (string, bool) {
	return "<p>custom " + url + "</p>", true
}

func TestBadSignatureGetsErrorPage(t *testing.T) {
	w := newWechat(t, false)
	q := w.query(url.Values{"echostr": {"x"}})
	q.Set("signature", strings.Repeat("0", 40))
	target := "/?" + q.Encode()

	code, body := serve(newHandler(t, host.Options{Dispatcher: echo}), httptest.NewRequest(http.MethodGet, target, nil))
	if code != http.StatusForbidden || !strings.Contains(string(body), "WeChat") {
		t.Errorf("bad signature = %d %q, want 403 and the error page", code, body)
	}
	code, body = serve(newHandler(t, host.Options{Dispatcher: pagerDispatcher{echo}}), httptest.NewRequest(http.MethodGet, target, nil))
	if code != http.StatusForbidden || !strings.HasPrefix(string(body), "<p>custom http://example.com/?") {
		t.Errorf("custom error page = %d %q", code, body)
	}
}

// TestTextRoundTrip sends a signed text in each mode and reads the reply.
func TestTextRoundTrip(t *testing.T) {
	contents := map[string]string{
		"plain":      "hello",
		"cdata end":  "a ]]> b",
		"markup":     "<&> \"quoted\" 'x'",
		"emoji":      "😀👍🏽 中文",
		"long zh":    strings.Repeat("长", 682), // 2,046 bytes: the longest text that fits one message
		"ctrl chars": "bell\a tab\t",
	}
	for _, mode := range []string{"plain", "compat", "safe"} {
		for name, content := range contents {
			t.Run(mode+"/"+name, func(t *testing.T) {
				aesOpts := host.Options{Dispatcher: echo}
				w := newWechat(t, mode != "plain")
				w.compat = mode == "compat"
				if mode != "plain" {
					aesOpts.EncodingAESKey = testAESKey
				}
				h := newHandler(t, aesOpts)
				code, body := serve(h, w.request("/", textXML("user1", content, 1234567890123456789)))
				if code != http.StatusOK {
					t.Fatalf("status %d: %s", code, body)
				}
				r := parseReply(t, w.open(body))
				want := strings.ReplaceAll(content, "\a", "") // XML cannot carry it
				if r.MsgType != "text" || r.Content != want || r.ToUserName != "user1" || r.FromUserName != "gh_account" {
					t.Errorf("reply = %+v, want text %q to user1", r, want)
				}
				if d := time.Now().Unix() - r.CreateTime; d < 0 || d > 5 {
					t.Errorf("CreateTime %d is not now", r.CreateTime)
				}
			})
		}
	}
}

func TestEveryReplyTypeRenders(t *testing.T) {
	replies := []reply.Reply{
		&reply.Text{Content: "t"},
		&reply.Image{MediaID: "m1"},
		&reply.Voice{MediaID: "m2"},
		&reply.Video{MediaID: "m3", Title: "v", Description: "d"},
		&reply.Music{Title: "s", Description: "d", URL: "http://x/a.mp3"},
		&reply.Articles{Articles: []reply.Article{{Title: "a", Description: "b", Img: "http://x/i.png", URL: "http://x"}}},
		&reply.TransferCustomerService{Account: "kf@gh"},
	}
	for _, r := range replies {
		t.Run(r.Kind(), func(t *testing.T) {
			d := funcDispatcher(func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) { return r, nil, nil })
			h := newHandler(t, host.Options{Dispatcher: d})
			w := newWechat(t, false)
			code, body := serve(h, w.request("/", textXML("u", "x", 1)))
			if code != http.StatusOK || parseReply(t, body).MsgType != r.Kind() {
				t.Errorf("%d %s", code, body)
			}
		})
	}
}

func TestNoAnswerIsSuccess(t *testing.T) {
	for name, d := range map[string]funcDispatcher{
		"nil reply": func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) { return nil, nil, nil },
		"success reply": func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) {
			return &reply.Success{}, nil, nil
		},
		"handler error": func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) {
			return nil, nil, errors.New("bot.lua:3: attempt to index a nil value")
		},
		"panic": func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHandler(t, host.Options{Dispatcher: d})
			for mode, w := range map[string]*wechat{"plain": newWechat(t, false)} {
				code, body := serve(h, w.request("/", textXML("u", "x", 7)))
				if code != http.StatusOK || string(body) != "success" {
					t.Errorf("%s: %d %q, want 200 success", mode, code, body)
				}
			}
		})
	}
}

// TestHostileInput: every broken request gets a 4xx, never a 500 or a panic.
func TestHostileInput(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, MaxBody: 64 << 10})
	plain := newWechat(t, false)
	aes := newWechat(t, true)
	otherApp, _ := wxcrypto.NewCipher(testAESKey, "wxSomeoneElse00000")

	encReq := func(encrypt string) *http.Request {
		q := aes.query(nil)
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wxcrypto.MsgSignature(testToken, q.Get("timestamp"), q.Get("nonce"), encrypt))
		return httptest.NewRequest(http.MethodPost, "/?"+q.Encode(), strings.NewReader("<xml><Encrypt><![CDATA["+encrypt+"]]></Encrypt></xml>"))
	}
	bomb := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&lol2;</Content></xml>`
	old := newWechat(t, false)
	old.nowUnix = time.Now().Add(-10 * time.Minute).Unix()
	wrongApp, _ := otherApp.Encrypt(textXML("u", "x", 1))

	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"malformed xml", plain.request("/", []byte("<xml><ToUserName>")), 400},
		{"not xml", plain.request("/", []byte("hello")), 400},
		{"empty body", plain.request("/", nil), 400},
		{"entity bomb", plain.request("/", []byte(bomb)), 400},
		{"missing fields", plain.request("/", []byte("<xml><MsgType>text</MsgType></xml>")), 400},
		{"body over max_body", plain.request("/", bytes.Repeat([]byte("x"), 65<<10)), 413},
		{"old timestamp", old.request("/", textXML("u", "x", 1)), 403},
		{"bad base64", encReq("!!!not base64!!!"), 400},
		{"bad block size", encReq("AAAA"), 400},
		{"bad padding", encReq(strings.Repeat("A", 44)), 400},
		{"wrong app id", encReq(wrongApp), 400},
		{"bad msg_signature", func() *http.Request {
			r := aes.request("/", textXML("u", "x", 1))
			q := r.URL.Query()
			q.Set("msg_signature", strings.Repeat("f", 40))
			r.URL.RawQuery = q.Encode()
			return r
		}(), 403},
		{"bad query escape", httptest.NewRequest(http.MethodPost, "/?signature=%zz", strings.NewReader("<xml/>")), 400},
		{"no signature", httptest.NewRequest(http.MethodPost, "/", strings.NewReader("<xml/>")), 403},
		{"wrong method", func() *http.Request {
			q := plain.query(nil)
			return httptest.NewRequest(http.MethodDelete, "/?"+q.Encode(), nil)
		}(), 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := serve(h, tt.req)
			if code != tt.want {
				t.Errorf("status %d, want %d (%s)", code, tt.want, body)
			}
		})
	}
}

func TestTimestampToleranceZeroDisables(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo, TimestampTolerance: -1})
	w := newWechat(t, false)
	w.nowUnix = 1
	if code, body := serve(h, w.request("/", textXML("u", "hi", 1))); code != 200 || !bytes.Contains(body, []byte("hi")) {
		t.Errorf("with the check disabled an old timestamp got %d %s", code, body)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	if _, err := host.New(host.Options{Dispatcher: echo}); err == nil {
		t.Error("New without a token succeeded")
	}
	if _, err := host.New(host.Options{Token: "t"}); err == nil {
		t.Error("New without a dispatcher succeeded")
	}
	_, err := host.New(host.Options{Token: "t", Dispatcher: echo, AppID: "wx", EncodingAESKey: "short"})
	if err == nil || !strings.Contains(err.Error(), "43") {
		t.Errorf("New with a short AES key: %v", err)
	}
}

func TestServeHTTPMountsInAMux(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/wechat", newHandler(t, host.Options{Dispatcher: echo}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	w := newWechat(t, false)
	req := w.request("/wechat", textXML("u", "via mux", 99))
	resp, err := http.Post(srv.URL+req.URL.RequestURI(), "text/xml", req.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if r := parseReply(t, buf.Bytes()); r.Content != "via mux" {
		t.Errorf("reply %+v", r)
	}
	if resp.Header.Get("Content-Length") != strconv.Itoa(buf.Len()) {
		t.Errorf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), buf.Len())
	}
}

// TestLyingContentLength: the body is read whole, whatever its declared
// length: shorter, longer, unknown (-1), and a body over max_body is
// refused even when its declared length is small.
func TestLyingContentLength(t *testing.T) {
	d := funcDispatcher(func(_ context.Context, m *message.Message, _ []byte) (reply.Reply, []byte, error) {
		return &reply.Text{Content: "got " + m.String("content")}, nil, nil
	})
	h := newHandler(t, host.Options{Dispatcher: d, MaxBody: 4096})
	w := newWechat(t, false)
	for i, cl := range []int64{-1, 1, 50, 0} {
		content := strings.Repeat("x", 300)
		req := w.request("/", textXML("u", content, int64(100+i)))
		req.ContentLength = cl
		code, body := serve(h, req)
		if code != http.StatusOK {
			t.Fatalf("Content-Length %d: %d %s", cl, code, body)
		}
		if got := parseReply(t, body).Content; got != "got "+content {
			t.Fatalf("Content-Length %d: reply %q", cl, got)
		}
	}
	req := w.request("/", textXML("u", strings.Repeat("y", 5000), 200))
	req.ContentLength = 10
	if code, body := serve(h, req); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("5 KB body declared as 10 bytes: %d %s", code, body)
	}
	req = w.request("/", textXML("u", "z", 201))
	req.ContentLength = 1 << 40
	if code, body := serve(h, req); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared 1 TB: %d %s", code, body)
	}
}
