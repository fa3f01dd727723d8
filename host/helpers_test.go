package host_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
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

const (
	testToken  = "luarobot-test-token"
	testAppID  = "wx0123456789abcdef"
	testAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
)

// wechat builds requests as WeChat's servers do.
type wechat struct {
	t       testing.TB
	token   string
	cipher  *wxcrypto.Cipher // nil: plain mode
	compat  bool             // 兼容模式: plaintext fields beside <Encrypt>
	nonce   atomic.Int64
	nowUnix int64 // 0: time.Now
}

func newWechat(t testing.TB, aes bool) *wechat {
	w := &wechat{t: t, token: testToken}
	if aes {
		c, err := wxcrypto.NewCipher(testAESKey, testAppID)
		if err != nil {
			t.Fatal(err)
		}
		w.cipher = c
	}
	return w
}

// query signs a request.
func (w *wechat) query(extra url.Values) url.Values {
	ts := w.nowUnix
	if ts == 0 {
		ts = time.Now().Unix()
	}
	q := url.Values{}
	q.Set("timestamp", strconv.FormatInt(ts, 10))
	q.Set("nonce", strconv.FormatInt(1000+w.nonce.Add(1), 10))
	q.Set("signature", wxcrypto.Signature(w.token, q.Get("timestamp"), q.Get("nonce")))
	for k, v := range extra {
		q[k] = v
	}
	return q
}

// request returns a signed POST of the message XML, encrypted when the
// wechat is in AES mode.
func (w *wechat) request(path string, msgXML []byte) *http.Request {
	return w.requestWith(path, w.query(nil), msgXML)
}

// requestWith is request under a given signed query: a query seen in an
// access log, reused.
func (w *wechat) requestWith(path string, signed url.Values, msgXML []byte) *http.Request {
	q := url.Values{}
	for k, v := range signed {
		q[k] = v
	}
	body := msgXML
	if w.cipher != nil {
		enc, err := w.cipher.Encrypt(msgXML)
		if err != nil {
			w.t.Fatal(err)
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wxcrypto.MsgSignature(w.token, q.Get("timestamp"), q.Get("nonce"), enc))
		if w.compat {
			// 兼容模式 sends the plaintext too, with <Encrypt> added.
			body = bytes.Replace(msgXML, []byte("</xml>"), []byte("<Encrypt><![CDATA["+enc+"]]></Encrypt></xml>"), 1)
		} else {
			body = []byte("<xml><ToUserName><![CDATA[gh_account]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
		}
	}
	req := httptest.NewRequest(http.MethodPost, path+"?"+q.Encode(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	return req
}

// open decodes a reply body: decrypts it in AES mode (checking its
// msg_signature) and returns the plain XML or "success".
func (w *wechat) open(body []byte) []byte {
	w.t.Helper()
	if w.cipher == nil || string(body) == "success" {
		return body
	}
	var env struct {
		Encrypt      string
		MsgSignature string
		TimeStamp    string
		Nonce        string
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		w.t.Fatalf("encrypted reply is not XML: %v\n%s", err, body)
	}
	if got := wxcrypto.MsgSignature(w.token, env.TimeStamp, env.Nonce, env.Encrypt); got != env.MsgSignature {
		w.t.Fatalf("reply msg_signature %s, want %s", env.MsgSignature, got)
	}
	plain, err := w.cipher.Decrypt(env.Encrypt)
	if err != nil {
		w.t.Fatalf("decrypt reply: %v", err)
	}
	return plain
}

// textXML is a text message as WeChat posts it (a "]]>" in the content
// split across two CDATA sections).
func textXML(from, content string, msgID int64) []byte {
	content = strings.ReplaceAll(content, "]]>", "]]]]><![CDATA[>")
	return []byte(fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		from, time.Now().Unix(), content, msgID))
}

func clickXML(from, key string, createTime int64) []byte {
	return []byte(fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[%s]]></EventKey></xml>`,
		from, createTime, key))
}

// replyFields reads a passive reply.
type replyFields struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	MsgType      string
	Content      string
	MediaID      string `xml:"Image>MediaId"`
}

func parseReply(t testing.TB, body []byte) replyFields {
	t.Helper()
	var r replyFields
	if err := xml.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply is not XML: %v\n%s", err, body)
	}
	return r
}

// serve runs one request through h and returns status and body.
func serve(h http.Handler, req *http.Request) (int, []byte) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, body
}

// funcDispatcher adapts a function to host.Dispatcher.
type funcDispatcher func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error)

func (f funcDispatcher) Dispatch(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	return f(ctx, msg, session)
}

// echo answers every text with its content.
var echo = funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	if msg.Type != "text" {
		return nil, nil, nil
	}
	return &reply.Text{Content: msg.String("content")}, nil, nil
})

func newHandler(t testing.TB, opts host.Options) *host.Handler {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	if opts.AppID == "" {
		opts.AppID = testAppID
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := host.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// apiRecorder is a Sender that records what goes through the API.
type apiRecorder struct {
	mu   sync.Mutex
	sent []string // "openid:kind:content"
	ch   chan struct{}
}

func newAPIRecorder() *apiRecorder { return &apiRecorder{ch: make(chan struct{}, 100)} }

func (a *apiRecorder) send(ctx context.Context, openid string, r reply.Reply) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	desc := openid + ":" + r.Kind()
	if t, ok := r.(*reply.Text); ok {
		desc += ":" + t.Content
	}
	a.sent = append(a.sent, desc)
	a.ch <- struct{}{}
	return nil
}

func (a *apiRecorder) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.sent...)
}

// waitSent waits until n messages went through the API.
func (a *apiRecorder) waitSent(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for len(a.all()) < n {
		select {
		case <-a.ch:
		case <-deadline:
			t.Fatalf("waited for %d API sends, got %v", n, a.all())
		}
	}
	return a.all()
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
