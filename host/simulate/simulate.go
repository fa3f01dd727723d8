// Package simulate plays WeChat's server against a running LuaRoBot (or
// any WeChat bot): it signs a message, encrypts it when an EncodingAESKey
// is configured, posts it, retries like WeChat does, and decodes the reply.
// `luarobot simulate` is built on it.
package simulate

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

// Options configure a Simulator.
type Options struct {
	// URL is the bot's endpoint, e.g. http://127.0.0.1:8888/.
	URL string
	// Token signs requests; AppID and EncodingAESKey, when set, make the
	// simulator encrypt (安全模式) and decrypt the reply.
	Token          string
	AppID          string
	EncodingAESKey string
	// Timeout is how long one delivery waits, as WeChat does (5s).
	Timeout    time.Duration
	HTTPClient *http.Client
	// Now is the clock of the signed timestamps (default time.Now): a
	// host on a fake clock checks them against its own.
	Now func() time.Time
}

// Simulator sends messages to a bot as WeChat does.
type Simulator struct {
	opts   Options
	cipher *wxcrypto.Cipher
	client *http.Client
	mu     sync.Mutex
	nonce  int64
}

// New checks the options.
func New(opts Options) (*Simulator, error) {
	if opts.Token == "" {
		return nil, errors.New("simulate: a token is required (the one the host uses)")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("simulate: %q is not an http URL", opts.URL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Simulator{opts: opts, client: opts.HTTPClient, nonce: time.Now().UnixNano() % 1e9}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if opts.EncodingAESKey != "" {
		if s.cipher, err = wxcrypto.NewCipher(opts.EncodingAESKey, opts.AppID); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
	}
	return s, nil
}

// Encrypted reports whether messages are sent in 安全模式.
func (s *Simulator) Encrypted() bool { return s.cipher != nil }

// Delivery is the outcome of one POST.
type Delivery struct {
	// Attempt is 1 for the first delivery, 2.. for retries.
	Attempt int
	Status  int
	// Body is the answer, decrypted when it was encrypted.
	Body    []byte
	Elapsed time.Duration
	Err     error
}

// Deliver signs (and encrypts) one message XML, posts it and decodes the
// answer.
func (s *Simulator) Deliver(ctx context.Context, msgXML []byte) Delivery {
	start := time.Now()
	d := s.deliver(ctx, msgXML)
	d.Elapsed = time.Since(start)
	return d
}

func (s *Simulator) deliver(ctx context.Context, msgXML []byte) Delivery {
	q := s.signedQuery()
	ts, nonce := q.Get("timestamp"), q.Get("nonce")
	q.Set("openid", openIDOf(msgXML))
	body := msgXML
	if s.cipher != nil {
		enc, err := s.cipher.Encrypt(msgXML)
		if err != nil {
			return Delivery{Err: err}
		}
		q.Set("encrypt_type", "aes")
		q.Set("msg_signature", wxcrypto.MsgSignature(s.opts.Token, ts, nonce, enc))
		body = []byte("<xml><ToUserName><![CDATA[" + toUserOf(msgXML) + "]]></ToUserName><Encrypt><![CDATA[" + enc + "]]></Encrypt></xml>")
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target(q), bytes.NewReader(body))
	if err != nil {
		return Delivery{Err: err}
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Delivery{Err: fmt.Errorf("no answer within %s (WeChat would retry)", s.opts.Timeout)}
		}
		return Delivery{Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Delivery{Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	d := Delivery{Status: resp.StatusCode, Body: raw}
	if resp.StatusCode == http.StatusOK && s.cipher != nil && len(raw) > 0 && string(raw) != "success" {
		d.Body, d.Err = s.open(raw, q)
	}
	return d
}

// signedQuery returns timestamp, a fresh nonce and their signature.
func (s *Simulator) signedQuery() url.Values {
	s.mu.Lock()
	s.nonce++
	nonce := strconv.FormatInt(s.nonce, 10)
	s.mu.Unlock()
	ts := strconv.FormatInt(s.opts.Now().Unix(), 10)
	return url.Values{
		"signature": {wxcrypto.Signature(s.opts.Token, ts, nonce)},
		"timestamp": {ts},
		"nonce":     {nonce},
	}
}

// target is the bot's URL with q added to its query string.
func (s *Simulator) target(q url.Values) string {
	if strings.Contains(s.opts.URL, "?") {
		return s.opts.URL + "&" + q.Encode()
	}
	return s.opts.URL + "?" + q.Encode()
}

// open checks and decrypts an encrypted answer.
func (s *Simulator) open(raw []byte, q url.Values) ([]byte, error) {
	var env struct {
		Encrypt      string
		MsgSignature string
		TimeStamp    string
		Nonce        string
	}
	if err := xml.Unmarshal(raw, &env); err != nil {
		return raw, fmt.Errorf("encrypted answer is not XML: %w", err)
	}
	if env.Encrypt == "" {
		return raw, errors.New("the answer to an encrypted message is not encrypted")
	}
	if !wxcrypto.VerifyMsgSignature(s.opts.Token, env.TimeStamp, env.Nonce, env.Encrypt, env.MsgSignature) {
		return raw, errors.New("the answer's msg_signature does not verify")
	}
	plain, err := s.cipher.Decrypt(env.Encrypt)
	if err != nil {
		return raw, fmt.Errorf("decrypting the answer: %w", err)
	}
	return plain, nil
}

// Handshake performs the URL check of WeChat's admin console: a signed GET
// whose echostr the bot must echo back. It is Verify, kept for callers
// that only need pass or fail.
func (s *Simulator) Handshake(ctx context.Context) error {
	return s.Verify(ctx)
}

// Send delivers msgXML, then retries more times, each retry interval after
// the previous one was sent, without waiting for earlier answers — as
// WeChat resends a message whose answer is late. Deliveries come back in
// attempt order.
func (s *Simulator) Send(ctx context.Context, msgXML []byte, retries int, interval time.Duration) []Delivery {
	out := make([]Delivery, retries+1)
	var wg sync.WaitGroup
	for i := range out {
		if i > 0 {
			select {
			case <-time.After(interval):
			case <-ctx.Done():
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = s.Deliver(ctx, msgXML)
			out[i].Attempt = i + 1
		}()
	}
	wg.Wait()
	return out
}

func openIDOf(msgXML []byte) string { return elementText(msgXML, "FromUserName") }
func toUserOf(msgXML []byte) string { return elementText(msgXML, "ToUserName") }

// elementText is the text of the first element called name, for the few
// header fields the envelope repeats.
func elementText(doc []byte, name string) string {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			var s string
			if d.DecodeElement(&s, &se) == nil {
				return s
			}
			return ""
		}
	}
}
