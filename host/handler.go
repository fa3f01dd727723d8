package host

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/wxcrypto"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store"
)

// Options configures a Handler. Token and Dispatcher are required.
type Options struct {
	// Token is the token set in the WeChat admin console.
	Token string
	// AppID and EncodingAESKey enable encrypted messages (兼容模式 and
	// 安全模式). AppID also scopes the retry-dedup keys.
	AppID          string
	EncodingAESKey string
	// EncodingAESKeyPrevious is the key EncodingAESKey replaced: during a
	// rotation in the admin console messages under either key are
	// accepted, and each reply is encrypted with its request's key.
	EncodingAESKeyPrevious string

	// Dispatcher runs the bot's handlers.
	Dispatcher Dispatcher
	// Sessions stores the users' sessions; nil disables sessions.
	Sessions store.Sessions
	// Dedup remembers deliveries so that WeChat's retries are answered
	// once; nil keeps them in memory (fine for a single process).
	Dedup store.Dedup
	// SharedStore says that Sessions and Dedup are shared by several host
	// processes (Redis): the handlers of one user are then serialised
	// across processes too, through a lease in Dedup.
	SharedStore bool
	// Sender delivers a reply through the customer-service API when the
	// handlers miss the reply deadline, and the rest of a long text. Nil
	// means late replies are logged and dropped.
	Sender SendFunc

	// ReplyTimeout is how long WeChat's request waits for the handlers
	// before it is answered "success" (default 4s).
	ReplyTimeout time.Duration
	// HandlerTimeout bounds a handler run; the dispatcher is given a
	// context that ends then (default 30s).
	HandlerTimeout time.Duration
	// TimestampTolerance refuses requests whose timestamp is further from
	// now (default 300s; negative disables).
	TimestampTolerance time.Duration
	// MaxBody limits the request body (default 1 MiB).
	MaxBody int64
	// Callers, when set, is the callback IP allowlist: requests from any
	// other address get 403 before anything else is read (callers.go).
	Callers *Callers

	// RefusePlaintext, with EncodingAESKey set, refuses unencrypted
	// messages with 403 (安全模式 only; the config key accept_plaintext =
	// false). The zero value accepts them, as 兼容模式 does.
	RefusePlaintext bool
	// StoreErrorReply is the answer of a delivery whose session could not
	// be loaded or saved: the handlers' reply is withheld then, because it
	// may tell the user about a change that was not kept. Empty answers
	// "success" (nothing is shown); any other text is sent as a text reply,
	// e.g. "系统繁忙，请稍后再试".
	StoreErrorReply string
	// MaxReplyParts caps the messages one long text becomes, the passive
	// answer included; the rest is dropped with a log line (default 5).
	MaxReplyParts int
	// OnRefused, when set, is called once for each request refused before
	// the handlers ran, with the reason: one of the Reason* constants (the
	// reason label of luarobot_requests_refused_total). It must be fast and
	// safe for concurrent use. Deliveries turned away during shutdown are
	// not refusals.
	OnRefused func(reason string)
	// Metrics counts deliveries (luarobot_deliveries_total and
	// luarobot_delivery_seconds); nil counts nothing.
	Metrics *metrics.Metrics
	// LogUserIDs writes openids in the delivery log line instead of their
	// short hashes (log_user_ids).
	LogUserIDs bool

	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Handler is the http.Handler WeChat calls. It is safe for concurrent use.
type Handler struct {
	opts   Options
	keys   *wxcrypto.Keys
	log    *slog.Logger
	engine *engine
	// errorPages admits one robot.error_page call at a time: unsigned
	// requests cost nothing to send, and each may hold a Lua state for
	// errorPageTimeout. The others get the built-in page.
	errorPages chan struct{}
}

// New checks the options and builds a Handler. Close it to wait for the
// replies still being delivered in the background.
func New(opts Options) (*Handler, error) {
	if opts.Token == "" {
		return nil, errors.New("host: token is required")
	}
	if opts.Dispatcher == nil {
		return nil, errors.New("host: a Dispatcher is required")
	}
	if opts.ReplyTimeout <= 0 {
		opts.ReplyTimeout = 4 * time.Second
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 30 * time.Second
	}
	if opts.TimestampTolerance == 0 {
		opts.TimestampTolerance = 300 * time.Second
	} else if opts.TimestampTolerance < 0 {
		opts.TimestampTolerance = 0
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxReplyParts <= 0 {
		opts.MaxReplyParts = DefaultMaxReplyParts
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts, log: opts.Logger, errorPages: make(chan struct{}, 1)}
	if opts.EncodingAESKey != "" {
		k, err := wxcrypto.NewKeys(opts.EncodingAESKey, opts.EncodingAESKeyPrevious, opts.AppID)
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		h.keys = k
	} else if opts.EncodingAESKeyPrevious != "" {
		return nil, errors.New("host: EncodingAESKeyPrevious without EncodingAESKey")
	}
	h.engine = newEngine(&h.opts)
	return h, nil
}

// Stats returns the reply engine's counters.
func (h *Handler) Stats() Stats { return h.engine.stats.snapshot() }

// Wait blocks until the work that deliveries answered so far left running
// in the background is done — handlers past reply_timeout, late replies,
// the rest of long texts — or returns ctx's error. Unlike Close it accepts
// new deliveries meanwhile: a test harness calls it between deliveries to
// see everything one of them caused.
func (h *Handler) Wait(ctx context.Context) error { return h.engine.wait(ctx) }

// Close waits, until ctx ends, for handlers and late replies still running
// in the background.
func (h *Handler) Close(ctx context.Context) error { return h.engine.close(ctx) }

// requestError is a refused request: the status, the reason (a Reason*
// constant) and what the log and the client are told.
type requestError struct {
	status int
	reason string
	msg    string
	err    error
}

func (e *requestError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func refuse(status int, reason, msg string, err error) *requestError {
	return &requestError{status: status, reason: reason, msg: msg, err: err}
}

// ServeHTTP runs the pipeline: caller → verify → read → decrypt → bind the
// query to the body (replay.go) → parse → answer (dedup, dispatch,
// deadline) → render → encrypt.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The reply deadline counts from here: reading and decrypting the body
	// spend WeChat's time too.
	start := time.Now()
	if c := h.opts.Callers; c != nil {
		if caller := c.Caller(r); !c.Allowed(caller) {
			h.refuseCaller(w, r, caller)
			return
		}
	}
	q, err := wxcrypto.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.fail(w, r, refuse(http.StatusBadRequest, ReasonMalformed, "bad query string", err))
		return
	}
	if !wxcrypto.VerifySignature(h.opts.Token, q.Timestamp, q.Nonce, q.Signature) {
		h.forbidden(w, r, ReasonSignature, "signature does not match the token")
		return
	}
	if err := wxcrypto.CheckTimestamp(q.Timestamp, h.opts.Now(), h.opts.TimestampTolerance); err != nil {
		h.forbidden(w, r, ReasonTimestamp, "timestamp refused: "+err.Error())
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// The URL check of the admin console: echo echostr back. Its query
		// is bound too, so that it cannot carry a forged message later.
		ctx, cancel := h.engine.deliveryContext(r.Context(), start)
		h.bindQuery(ctx, q, h.echoBinding(q.Echostr))
		cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// echostr is whatever the signed query carries: never let a
		// browser take it for HTML.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		io.WriteString(w, q.Echostr)
	case http.MethodPost:
		if err := h.serveMessage(w, r, q, start); err != nil {
			h.fail(w, r, err)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		h.fail(w, r, refuse(http.StatusMethodNotAllowed, ReasonMethod, "method not allowed", nil))
	}
}

func (h *Handler) serveMessage(w http.ResponseWriter, r *http.Request, q wxcrypto.Query, start time.Time) *requestError {
	// A fresh buffer per request: the parsed message keeps pointing into
	// it (Raw), after the answer too when the handlers run late.
	body, rerr := h.readBody(r)
	if rerr != nil {
		return rerr
	}

	encrypted := q.EncryptType == "aes"
	raw := body
	signed := body           // what the signatures authenticate (replay.go)
	var key *wxcrypto.Cipher // the key the request came under, for the reply
	if encrypted {
		var rerr *requestError
		if raw, signed, key, rerr = h.decrypt(body, q); rerr != nil {
			return rerr
		}
	}
	// The store calls of the delivery, the replay record's and the
	// engine's, share one context.
	ctx, cancel := h.engine.deliveryContext(r.Context(), start)
	defer cancel()
	// One signed query authenticates one body (replay.go).
	if rerr := h.checkReplay(ctx, q, signed, encrypted); rerr != nil {
		return rerr
	}
	msg, err := message.Parse(raw)
	if err != nil {
		return refuse(http.StatusBadRequest, ReasonMalformed, "malformed message", err)
	}

	out, err := h.engine.answerIn(r.Context(), ctx, start, msg)
	if err != nil {
		return refuse(http.StatusServiceUnavailable, "", "shutting down", err)
	}
	// Whatever follows (the rest of a long text) goes after the answer
	// has left.
	defer out.finish(true)
	if f, ok := w.(http.Flusher); ok {
		defer f.Flush()
	}
	if out.body == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "success")
		return nil
	}
	resp := out.body
	if encrypted {
		resp = h.encrypt(key, out.body)
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	w.Write(resp)
	return nil
}

// readBody reads the body, refusing more than MaxBody bytes.
func (h *Handler) readBody(r *http.Request) ([]byte, *requestError) {
	if r.ContentLength > h.opts.MaxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("body of %d bytes is over max_body (%d)", r.ContentLength, h.opts.MaxBody), nil)
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // +1: room to see EOF without growing
	}
	body, err := readAll(&io.LimitedReader{R: r.Body, N: h.opts.MaxBody + 1}, make([]byte, 0, size))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, ReasonMalformed, "reading the body", err)
	}
	if int64(len(body)) > h.opts.MaxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, fmt.Sprintf("body is over max_body (%d bytes)", h.opts.MaxBody), nil)
	}
	if len(body) == 0 {
		return nil, refuse(http.StatusBadRequest, ReasonMalformed, "empty body", nil)
	}
	return body, nil
}

// readAll appends what r has to buf until EOF. Unlike bytes.Buffer's
// ReadFrom, which wants 512 bytes free before each read, it grows buf only
// when buf is full: a body of the declared Content-Length fits the buffer
// readBody makes for it, and costs no second allocation and copy.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// decrypt opens an encrypted message and returns it with what its
// msg_signature authenticates (the Encrypt value, see encryptedBinding) and
// the key that opened it (the current one, or the previous during a
// rotation).
func (h *Handler) decrypt(body []byte, q wxcrypto.Query) (plain, signed []byte, key *wxcrypto.Cipher, _ *requestError) {
	if h.keys == nil {
		return nil, nil, nil, refuse(http.StatusBadRequest, ReasonDecrypt, "encrypted message, but encoding_aes_key is not configured", nil)
	}
	env, err := wxcrypto.ParseEnvelope(body)
	if err != nil {
		return nil, nil, nil, refuse(http.StatusBadRequest, ReasonMalformed, "malformed encrypted envelope", err)
	}
	if !wxcrypto.VerifyMsgSignature(h.opts.Token, q.Timestamp, q.Nonce, env.Encrypt, q.MsgSignature) {
		return nil, nil, nil, refuse(http.StatusForbidden, ReasonSignature, "msg_signature does not match the token", errBadSignature)
	}
	plain, key, err = h.keys.Decrypt(env.Encrypt)
	if err != nil {
		return nil, nil, nil, refuse(http.StatusBadRequest, ReasonDecrypt, "cannot decrypt the message", err)
	}
	return plain, encryptedBinding(env.Encrypt), key, nil
}

// encrypt wraps a reply in the encrypted envelope with a fresh nonce,
// under key: the one its request came under.
func (h *Handler) encrypt(key *wxcrypto.Cipher, plain []byte) []byte {
	enc, err := key.Encrypt(plain)
	if err != nil {
		// crypto/rand failing is not something a request can fix.
		panic(fmt.Sprintf("host: encrypt reply: %v", err))
	}
	ts := strconv.FormatInt(h.opts.Now().Unix(), 10)
	nonce := newNonce()
	sig := wxcrypto.MsgSignature(h.opts.Token, ts, nonce, enc)
	return wxcrypto.AppendEnvelope(nil, enc, sig, ts, nonce)
}

// errorPageTimeout bounds robot.error_page for one refused request.
const errorPageTimeout = time.Second

// errBadSignature marks a refusal that gets the error page, as a bad
// signature on the query does.
var errBadSignature = errors.New("bad signature")

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, e *requestError) {
	if errors.Is(e.err, errBadSignature) {
		h.forbidden(w, r, e.reason, e.msg)
		return
	}
	h.refused(e.reason)
	h.log.Warn("request refused", "status", e.status, "reason", e.reason, "error", e.Error(), "remote", r.RemoteAddr, "uri", r.URL.RequestURI())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	io.WriteString(w, e.msg+"\n")
}

// forbidden answers a request that failed authentication with the error
// page, which scripts can replace (robot.error_page).
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, reason, why string) {
	h.refused(reason)
	h.log.Warn("request refused", "status", http.StatusForbidden, "reason", reason, "error", why, "remote", r.RemoteAddr, "uri", r.URL.RequestURI())
	url := requestURL(r)
	page := ""
	if pager, ok := h.opts.Dispatcher.(ErrorPager); ok {
		// Unauthenticated requests must not tie up the handlers' Lua
		// states: the custom page gets a moment, one request at a time,
		// then the built-in one answers.
		select {
		case h.errorPages <- struct{}{}:
			ctx, cancel := context.WithTimeout(r.Context(), errorPageTimeout)
			if p, ok := pager.ErrorPage(ctx, url); ok {
				page = p
			}
			cancel()
			<-h.errorPages
		default:
		}
	}
	if page == "" {
		page = defaultErrorPage(url)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, page)
}

// requestURL is the absolute URL of the request, as WeRoBot gives its error
// page; behind a proxy, X-Forwarded-Proto tells the scheme.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// defaultErrorPage is shown to a browser that opens the bot's URL: it is
// not an error of the bot, so the page says what the URL is for.
func defaultErrorPage(url string) string {
	return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>LuaRoBot</title></head>
<body><h1>LuaRoBot</h1>
<p>This is the address of a WeChat Official Account bot. It answers WeChat's servers only; the request to <code>` +
		html.EscapeString(url) + `</code> was not signed by WeChat.</p>
</body></html>
`
}
