// Package fakewechat is a fake WeChat API server for tests and the
// simulator: point a client's api_base at Server.URL.
//
//	wx := fakewechat.New("wxappid", "secret")
//	defer wx.Close()
//	c, _ := client.New(client.Options{AppID: "wxappid", AppSecret: "secret", APIBase: wx.URL})
//
// It behaves like WeChat where tests need it to: it issues access tokens
// (/cgi-bin/token, /cgi-bin/stable_token) and jsapi tickets and counts the
// fetches; it checks the access token of every other call (41001 missing,
// 40001 unknown, 42001 expired) and the HTTP method of every endpoint it
// knows (43001, 43002); it parses JSON and multipart bodies. Every request
// is recorded as a Call. Each path answers something plausible by default
// (usually {"errcode":0,"errmsg":"ok"}); Answer and AnswerMedia replace that,
// FailOnce makes the next call of a path fail with an errcode, Delay slows a
// path down. For outages, SetFault makes a path (the token endpoints
// included) answer HTTP 500, garbage or nothing, FailAlways answers an
// errcode every time, and RejectTokens rejects every access token however
// fresh. Customer-service messages (/cgi-bin/message/custom/send) are
// also collected as Messages, and WaitMessages waits for them.
//
// Unlike WeChat, fetching a new token from /cgi-bin/token invalidates the
// previous one at once (WeChat keeps it for five more minutes): a client
// that fetches more often than it should is caught.
package fakewechat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Call is one request the server received.
type Call struct {
	Method      string     // HTTP method
	Path        string     // URL path
	Query       url.Values // the query, access_token included
	AccessToken string     // the access_token query parameter
	ContentType string
	RawBody     []byte         // the body as sent (multipart included)
	Body        map[string]any // the JSON body decoded (numbers as float64), nil when not JSON
	Files       map[string]File
	Form        url.Values // multipart fields that are not files
}

// File is a multipart file part.
type File struct {
	Name        string // the filename parameter
	Disposition string // the Content-Disposition header as sent
	ContentType string
	Data        []byte
}

// Message is a customer-service message the server accepted.
type Message struct {
	ToUser  string
	MsgType string
	Body    map[string]any // the whole JSON body
}

type canned struct {
	contentType string
	body        []byte
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the root to use as api_base.
	URL string
	// AppID and AppSecret are the credentials the token endpoints accept.
	AppID, AppSecret string

	srv *httptest.Server

	mu            sync.Mutex
	token         string
	tokenExpires  time.Time
	oldTokens     map[string]bool
	tokenTTL      time.Duration
	tokenFetches  int
	ticketFetches int
	seq           int
	calls         []Call
	answers       map[string]canned
	failures      map[string][]int
	delays        map[string]time.Duration
	faults        map[string]Fault
	alwaysFail    map[string]int
	rejectTokens  bool
	messages      []Message
	changed       chan struct{} // closed and replaced when a message arrives
	tokenRefusal  int           // errcode every token fetch answers; 0: none
	clockSkew     time.Duration // added to the Date header
	responder     Responder
}

// Responder answers a call in place of the server: it returns the answer
// (a JSON-encodable value) and true, or false to leave the call to the
// server's own answers. It sees every call but the token fetches, after
// the access token was checked; a customer-service message it answers
// with a non-zero errcode is not counted as sent. It runs on the server's
// goroutine for the request and must be safe for concurrent use.
type Responder func(c Call) (answer any, ok bool)

// SetResponder makes r answer the calls first (nil removes it): how a test
// harness scripts WeChat's answers endpoint by endpoint.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responder = r
}

// New starts a fake WeChat server for the account.
func New(appID, appSecret string) *Server {
	s := &Server{
		AppID:     appID,
		AppSecret: appSecret,
		oldTokens: map[string]bool{},
		tokenTTL:  7200 * time.Second,
		answers:   map[string]canned{},
		failures:  map[string][]int{},
		delays:    map[string]time.Duration{},
		changed:   make(chan struct{}),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// TokenFetches counts the access tokens handed out by /cgi-bin/token and
// /cgi-bin/stable_token.
func (s *Server) TokenFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenFetches
}

// TicketFetches counts the jsapi tickets handed out.
func (s *Server) TicketFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ticketFetches
}

// AccessToken returns the token that is valid now ("" before the first
// fetch).
func (s *Server) AccessToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// ExpireToken expires the current token: calls with it get 42001.
func (s *Server) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenExpires = time.Now().Add(-time.Second)
}

// SetTokenTTL sets the expires_in of the tokens and tickets issued from now
// on (7200 s by default).
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// Answer makes path answer v (a JSON-encodable value, or []byte of JSON)
// instead of its default.
func (s *Server) Answer(path string, v any) {
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			panic("fakewechat: Answer: " + err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[path] = canned{contentType: "application/json; charset=utf-8", body: data}
}

// AnswerMedia makes path answer the bytes with the content type (a media
// download).
func (s *Server) AnswerMedia(path, contentType string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[path] = canned{contentType: contentType, body: data}
}

// FailOnce makes the next call of path (after its token check) answer
// errcode; calling it again queues another failure.
func (s *Server) FailOnce(path string, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[path] = append(s.failures[path], errcode)
}

// Delay makes every call of path wait d before it is answered.
func (s *Server) Delay(path string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays[path] = d
}

// Fault is a way for an endpoint to fail that an errcode cannot express.
type Fault int

const (
	NoFault         Fault = iota
	FaultHTTP500          // HTTP 500 with an HTML page, as a failing gateway answers
	FaultBadJSON          // HTTP 200 with a body that is not JSON
	FaultDisconnect       // the connection is closed without an answer
)

// SetFault makes every call of path (the token endpoints too) fail that way
// until SetFault(path, NoFault). The calls are still recorded.
func (s *Server) SetFault(path string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string]Fault{}
	}
	s.faults[path] = f
}

// FailAlways makes every call of path (the token endpoints too) answer
// errcode, until FailAlways(path, 0).
func (s *Server) FailAlways(path string, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alwaysFail == nil {
		s.alwaysFail = map[string]int{}
	}
	s.alwaysFail[path] = errcode
}

// RejectTokens makes every call that carries an access token answer 40001,
// however fresh the token, while on: WeChat's answer when the AppSecret was
// reset, or when another deployment keeps fetching new tokens. The token
// endpoints still issue tokens.
func (s *Server) RejectTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectTokens = on
}

// Calls returns every request received so far, token fetches included.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the requests received for path.
func (s *Server) CallsTo(path string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// LastCall returns the latest request for path.
func (s *Server) LastCall(path string) (Call, bool) {
	calls := s.CallsTo(path)
	if len(calls) == 0 {
		return Call{}, false
	}
	return calls[len(calls)-1], true
}

// Messages returns the customer-service messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// WaitMessages waits until at least n customer-service messages arrived
// and returns them all, or returns what arrived with ctx's error.
func (s *Server) WaitMessages(ctx context.Context, n int) ([]Message, error) {
	for {
		s.mu.Lock()
		msgs, changed := append([]Message(nil), s.messages...), s.changed
		s.mu.Unlock()
		if len(msgs) >= n {
			return msgs, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return msgs, fmt.Errorf("fakewechat: %d of %d customer-service messages: %w", len(msgs), n, ctx.Err())
		}
	}
}

// CallerIP is the address the fake says it saw in a 40164 (IP not on the
// whitelist) errmsg, as WeChat does: "invalid ip 203.0.113.9 ipv6
// ::ffff:203.0.113.9, not in whitelist rid: ...".
const CallerIP = "203.0.113.9"

// RefuseTokens makes every access-token fetch (/cgi-bin/token and
// /cgi-bin/stable_token) answer errcode, as WeChat does for an IP not on
// the whitelist (40164), a wrong AppSecret (40125) or AppID (40013) that it
// cannot tell from the request; 0 lets them through again.
func (s *Server) RefuseTokens(errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenRefusal = errcode
}

// SetClockSkew makes the server's Date header run d ahead of this
// machine's clock (behind when negative), for clock checks.
func (s *Server) SetClockSkew(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clockSkew = d
}

// Reset forgets the recorded calls and messages (tokens stay valid).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
	s.messages = nil
}

// errmsgs are WeChat's texts for the errcodes the fake answers.
var errmsgs = map[int]string{
	-1:    "system error",
	40001: "invalid credential, access_token is invalid or not latest",
	40002: "invalid grant_type",
	40013: "invalid appid",
	40014: "invalid access_token",
	40016: "invalid button size",
	40017: "invalid button type",
	40125: "invalid appsecret",
	40164: "invalid ip " + CallerIP + " ipv6 ::ffff:" + CallerIP + ", not in whitelist",
	41001: "access_token missing",
	41005: "media data missing",
	42001: "access_token expired",
	43001: "require GET method",
	43002: "require POST method",
	45009: "reach max api daily quota limit",
	47001: "data format error",
	48001: "api unauthorized",
}

// ErrorBody is WeChat's answer for an errcode: {"errcode": code, "errmsg":
// WeChat's text for it}.
func ErrorBody(code int) map[string]any { return errBody(code) }

// errcodeOf reads the errcode of an answer (0 when it has none).
func errcodeOf(v any) float64 {
	data, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	var a struct {
		Errcode float64 `json:"errcode"`
	}
	json.Unmarshal(data, &a)
	return a.Errcode
}

func errBody(code int) map[string]any {
	msg, ok := errmsgs[code]
	if !ok {
		msg = "fake error"
	}
	return map[string]any{"errcode": code, "errmsg": msg + " rid: fake"}
}

var ok = map[string]any{"errcode": 0, "errmsg": "ok"}

// noToken lists the endpoints called without an access token.
var noToken = map[string]bool{
	"/cgi-bin/token":            true,
	"/cgi-bin/stable_token":     true,
	"/cgi-bin/showqrcode":       true,
	"/sns/oauth2/access_token":  true,
	"/sns/oauth2/refresh_token": true,
	"/sns/userinfo":             true,
	"/sns/auth":                 true,
	"/connect/oauth2/authorize": true,
}

// methods is the HTTP method WeChat requires per endpoint.
var methods = func() map[string]string {
	m := map[string]string{}
	for _, p := range []string{
		"/cgi-bin/token", "/cgi-bin/getcallbackip", "/cgi-bin/ticket/getticket",
		"/cgi-bin/menu/get", "/cgi-bin/menu/delete", "/cgi-bin/get_current_selfmenu_info",
		"/customservice/kfaccount/del", "/cgi-bin/customservice/getkflist", "/cgi-bin/customservice/getonlinekflist",
		"/cgi-bin/groups/get", "/cgi-bin/user/info", "/cgi-bin/user/get", "/cgi-bin/showqrcode",
		"/cgi-bin/media/get", "/cgi-bin/material/get_materialcount", "/cgi-bin/tags/get",
		"/sns/oauth2/access_token", "/sns/oauth2/refresh_token", "/sns/userinfo", "/sns/auth",
		"/cgi-bin/get_api_domain_ip", "/wxaapi/newtmpl/getcategory", "/wxaapi/newtmpl/getpubtemplatekeywords",
		"/wxaapi/newtmpl/getpubtemplatetitles", "/wxaapi/newtmpl/gettemplate",
	} {
		m[p] = "GET"
	}
	for _, p := range []string{
		"/cgi-bin/stable_token",
		"/cgi-bin/menu/create", "/cgi-bin/menu/addconditional", "/cgi-bin/menu/delconditional", "/cgi-bin/menu/trymatch",
		"/customservice/kfaccount/add", "/customservice/kfaccount/update", "/customservice/kfaccount/uploadheadimg",
		"/cgi-bin/message/custom/send",
		"/cgi-bin/message/mass/sendall", "/cgi-bin/message/mass/send", "/cgi-bin/message/mass/delete",
		"/cgi-bin/message/mass/preview", "/cgi-bin/message/mass/get", "/cgi-bin/message/mass/speed/get",
		"/cgi-bin/groups/create", "/cgi-bin/groups/getid", "/cgi-bin/groups/update", "/cgi-bin/groups/members/update",
		"/cgi-bin/groups/members/batchupdate", "/cgi-bin/groups/delete",
		"/cgi-bin/user/info/updateremark", "/cgi-bin/user/info/batchget", "/cgi-bin/qrcode/create",
		"/cgi-bin/media/upload", "/cgi-bin/media/uploadimg", "/cgi-bin/media/uploadnews",
		"/cgi-bin/material/add_news", "/cgi-bin/material/add_material", "/cgi-bin/material/get_material",
		"/cgi-bin/material/del_material", "/cgi-bin/material/update_news", "/cgi-bin/material/batchget_material",
		"/cgi-bin/tags/create", "/cgi-bin/tags/update", "/cgi-bin/tags/delete", "/cgi-bin/user/tag/get",
		"/cgi-bin/tags/members/batchtagging", "/cgi-bin/tags/members/batchuntagging", "/cgi-bin/tags/getidlist",
		"/cgi-bin/message/template/send", "/cgi-bin/template/api_set_industry", "/cgi-bin/template/api_add_template",
		"/cgi-bin/message/mass/speed/set", "/cgi-bin/callback/check", "/cgi-bin/clear_quota", "/cgi-bin/openapi/quota/get",
		"/wxaapi/newtmpl/addtemplate", "/wxaapi/newtmpl/deltemplate", "/cgi-bin/message/subscribe/bizsend",
	} {
		m[p] = "POST"
	}
	return m
}()

// uploads lists the endpoints that take a multipart "media" file.
var uploads = map[string]bool{
	"/cgi-bin/media/upload": true, "/cgi-bin/media/uploadimg": true, "/cgi-bin/material/add_material": true,
	"/customservice/kfaccount/uploadheadimg": true,
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	skew, refusal := s.clockSkew, s.tokenRefusal
	s.mu.Unlock()
	if skew != 0 {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
	}
	call, err := record(r)
	if err != nil {
		writeError(w, 47001)
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	delay := s.delays[call.Path]
	fault, always := s.faults[call.Path], s.alwaysFail[call.Path]
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	switch fault {
	case FaultHTTP500:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "<html><body><h1>500 Internal Server Error</h1></body></html>")
		return
	case FaultBadJSON:
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token": "ACCESS_TOK`)
		return
	case FaultDisconnect:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection without an answer
	}
	if always != 0 {
		writeError(w, always)
		return
	}

	if want, known := methods[call.Path]; known && want != call.Method {
		if want == "GET" {
			writeError(w, 43001)
		} else {
			writeError(w, 43002)
		}
		return
	}
	if refusal != 0 && (call.Path == "/cgi-bin/token" || call.Path == "/cgi-bin/stable_token") {
		writeJSON(w, errBody(refusal))
		return
	}
	switch call.Path {
	case "/cgi-bin/token":
		writeJSON(w, s.issueToken(call.Query.Get("grant_type"), call.Query.Get("appid"), call.Query.Get("secret"), true))
		return
	case "/cgi-bin/stable_token":
		grant, _ := call.Body["grant_type"].(string)
		appid, _ := call.Body["appid"].(string)
		secret, _ := call.Body["secret"].(string)
		force, _ := call.Body["force_refresh"].(bool)
		writeJSON(w, s.issueToken(grant, appid, secret, force))
		return
	}
	if !noToken[call.Path] {
		if code := s.checkToken(call.AccessToken); code != 0 {
			writeError(w, code)
			return
		}
	}
	s.mu.Lock()
	var fail int
	if q := s.failures[call.Path]; len(q) > 0 {
		fail, s.failures[call.Path] = q[0], q[1:]
	}
	answer, hasAnswer := s.answers[call.Path]
	responder := s.responder
	s.mu.Unlock()
	if fail != 0 {
		writeError(w, fail)
		return
	}
	if responder != nil {
		if v, ok := responder(call); ok {
			if call.Path == "/cgi-bin/message/custom/send" && errcodeOf(v) == 0 {
				s.addMessage(call)
			}
			writeJSON(w, v)
			return
		}
	}
	if call.Method == "POST" && call.Body == nil && call.Files == nil && methods[call.Path] == "POST" {
		writeError(w, 47001)
		return
	}
	if uploads[call.Path] && call.Files["media"].Data == nil {
		writeError(w, 41005)
		return
	}
	if call.Path == "/cgi-bin/message/custom/send" {
		s.addMessage(call)
	}
	if hasAnswer {
		w.Header().Set("Content-Type", answer.contentType)
		w.Write(answer.body)
		return
	}
	s.answerDefault(w, call)
}

// record reads the request into a Call.
func record(r *http.Request) (Call, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return Call{}, err
	}
	c := Call{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.Query(),
		AccessToken: r.URL.Query().Get("access_token"),
		ContentType: r.Header.Get("Content-Type"),
		RawBody:     data,
	}
	if len(data) == 0 {
		return c, nil
	}
	mt, params, _ := mime.ParseMediaType(c.ContentType)
	if mt == "multipart/form-data" {
		mr := multipart.NewReader(bytes.NewReader(data), params["boundary"])
		c.Files, c.Form = map[string]File{}, url.Values{}
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return c, err
			}
			body, err := io.ReadAll(p)
			if err != nil {
				return c, err
			}
			if p.FileName() != "" {
				c.Files[p.FormName()] = File{Name: p.FileName(), Disposition: p.Header.Get("Content-Disposition"),
					ContentType: p.Header.Get("Content-Type"), Data: body}
			} else {
				c.Form.Add(p.FormName(), string(body))
			}
		}
		return c, nil
	}
	if err := json.Unmarshal(data, &c.Body); err != nil {
		return c, err
	}
	return c, nil
}

func (s *Server) issueToken(grant, appid, secret string, force bool) map[string]any {
	switch {
	case grant != "client_credential":
		return errBody(40002)
	case appid != s.AppID:
		return errBody(40013)
	case secret != s.AppSecret:
		return errBody(40125)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if force || s.token == "" || !now.Before(s.tokenExpires) {
		if s.token != "" {
			s.oldTokens[s.token] = true
		}
		s.seq++
		s.token = fmt.Sprintf("ACCESS_TOKEN_%d", s.seq)
		s.tokenExpires = now.Add(s.tokenTTL)
	}
	s.tokenFetches++
	return map[string]any{"access_token": s.token, "expires_in": int(time.Until(s.tokenExpires).Round(time.Second) / time.Second)}
}

func (s *Server) checkToken(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case token == "":
		return 41001
	case s.rejectTokens:
		return 40001
	case token == s.token && time.Now().Before(s.tokenExpires):
		return 0
	case token == s.token || s.oldTokens[token]:
		return 42001
	}
	return 40001
}

func (s *Server) addMessage(call Call) {
	m := Message{Body: call.Body}
	m.ToUser, _ = call.Body["touser"].(string)
	m.MsgType, _ = call.Body["msgtype"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) next() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return s.seq
}

// fakeJPEG is enough of a JPEG for a content check.
var fakeJPEG = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00fake image\xff\xd9")

func (s *Server) answerDefault(w http.ResponseWriter, c Call) {
	now := time.Now().Unix()
	switch c.Path {
	case "/cgi-bin/ticket/getticket":
		s.mu.Lock()
		s.ticketFetches++
		s.seq++
		t, ttl := fmt.Sprintf("JSAPI_TICKET_%d", s.seq), int(s.tokenTTL/time.Second)
		s.mu.Unlock()
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "ticket": t, "expires_in": ttl})
	case "/cgi-bin/getcallbackip":
		writeJSON(w, map[string]any{"ip_list": []string{"101.226.62.77", "101.226.62.78"}})
	case "/cgi-bin/get_api_domain_ip":
		writeJSON(w, map[string]any{"ip_list": []string{"101.89.47.18", "101.91.34.103"}})
	case "/cgi-bin/callback/check":
		writeJSON(w, map[string]any{"dns": []any{map[string]any{"ip": "111.161.64.40", "real_operator": "UNICOM"}},
			"ping": []any{map[string]any{"ip": "111.161.64.40", "from_operator": "UNICOM", "package_loss": "0%", "time": "23.079ms"}}})
	case "/cgi-bin/clear_quota":
		if c.Body["appid"] != s.AppID {
			writeError(w, 40013)
			return
		}
		writeJSON(w, ok)
	case "/cgi-bin/openapi/quota/get":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "quota": map[string]any{"daily_limit": 10000000, "used": 1, "remain": 9999999}})
	case "/wxaapi/newtmpl/addtemplate":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "priTmplId": "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU"})
	case "/wxaapi/newtmpl/getcategory":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "data": []any{map[string]any{"id": 616, "name": "公交"}}})
	case "/wxaapi/newtmpl/getpubtemplatekeywords":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "count": 1,
			"data": []any{map[string]any{"kid": 1, "name": "物品名称", "example": "名称", "rule": "thing"}}})
	case "/wxaapi/newtmpl/getpubtemplatetitles":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "count": 1,
			"data": []any{map[string]any{"tid": 99, "title": "付款成功通知", "type": 2, "categoryId": c.Query.Get("ids")}}})
	case "/wxaapi/newtmpl/gettemplate":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "data": []any{map[string]any{
			"priTmplId": "9Aw5ZV1j9xdWTFEkqCpZ7mIBbSC34khK55OtzUPl0rU", "title": "付款成功通知",
			"content": "商品名称:{{thing1.DATA}}", "example": "商品名称:咖啡", "type": 2}}})
	case "/cgi-bin/menu/get":
		writeJSON(w, map[string]any{"menu": map[string]any{"button": []any{}}})
	case "/cgi-bin/menu/addconditional":
		writeJSON(w, map[string]any{"menuid": "208379533"})
	case "/cgi-bin/menu/trymatch":
		writeJSON(w, map[string]any{"button": []any{}})
	case "/cgi-bin/get_current_selfmenu_info":
		writeJSON(w, map[string]any{"is_menu_open": 1, "selfmenu_info": map[string]any{"button": []any{}}})
	case "/cgi-bin/customservice/getkflist":
		writeJSON(w, map[string]any{"kf_list": []any{}})
	case "/cgi-bin/customservice/getonlinekflist":
		writeJSON(w, map[string]any{"kf_online_list": []any{}})
	case "/cgi-bin/message/mass/sendall", "/cgi-bin/message/mass/send":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "send job submission success", "msg_id": 34182, "msg_data_id": 206227730})
	case "/cgi-bin/message/mass/get":
		writeJSON(w, map[string]any{"msg_id": c.Body["msg_id"], "msg_status": "SEND_SUCCESS"})
	case "/cgi-bin/message/mass/speed/get":
		writeJSON(w, map[string]any{"speed": 3, "realspeed": 15})
	case "/cgi-bin/message/template/send":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "msgid": 200228332})
	case "/cgi-bin/template/api_add_template":
		writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "template_id": "Doclyl5uP7Aciu-qZ7mJNPtWkbkYnWBWVja26EGbNyk"})
	case "/cgi-bin/groups/create":
		writeJSON(w, map[string]any{"group": map[string]any{"id": 107, "name": member(c.Body, "group", "name")}})
	case "/cgi-bin/groups/get":
		writeJSON(w, map[string]any{"groups": []any{map[string]any{"id": 0, "name": "未分组", "count": 1}}})
	case "/cgi-bin/groups/getid":
		writeJSON(w, map[string]any{"groupid": 0})
	case "/cgi-bin/user/info":
		writeJSON(w, map[string]any{"subscribe": 1, "openid": c.Query.Get("openid"), "nickname": "测试用户", "language": c.Query.Get("lang")})
	case "/cgi-bin/user/info/batchget":
		list := []any{}
		users, _ := c.Body["user_list"].([]any)
		for _, u := range users {
			m, _ := u.(map[string]any)
			list = append(list, map[string]any{"subscribe": 1, "openid": m["openid"], "language": m["lang"]})
		}
		writeJSON(w, map[string]any{"user_info_list": list})
	case "/cgi-bin/user/get":
		writeJSON(w, map[string]any{"total": 2, "count": 2, "data": map[string]any{"openid": []string{"OPENID1", "OPENID2"}}, "next_openid": "OPENID2"})
	case "/cgi-bin/qrcode/create":
		writeJSON(w, map[string]any{"ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
			"expire_seconds": 60, "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"})
	case "/cgi-bin/showqrcode", "/cgi-bin/media/get", "/cgi-bin/material/get_material":
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(fakeJPEG)
	case "/cgi-bin/media/upload":
		writeJSON(w, map[string]any{"type": c.Query.Get("type"), "media_id": fmt.Sprintf("MEDIA_ID_%d", s.next()), "created_at": now})
	case "/cgi-bin/media/uploadimg":
		writeJSON(w, map[string]any{"url": "http://mmbiz.qpic.cn/mmbiz/fake/0"})
	case "/cgi-bin/material/add_material":
		writeJSON(w, map[string]any{"media_id": fmt.Sprintf("MATERIAL_ID_%d", s.next()), "url": "http://mmbiz.qpic.cn/mmbiz/fake/0"})
	case "/cgi-bin/material/add_news":
		writeJSON(w, map[string]any{"media_id": fmt.Sprintf("NEWS_ID_%d", s.next())})
	case "/cgi-bin/media/uploadnews":
		writeJSON(w, map[string]any{"type": "news", "media_id": fmt.Sprintf("NEWS_ID_%d", s.next()), "created_at": now})
	case "/cgi-bin/material/get_materialcount":
		writeJSON(w, map[string]any{"voice_count": 0, "video_count": 0, "image_count": 0, "news_count": 0})
	case "/cgi-bin/material/batchget_material":
		writeJSON(w, map[string]any{"total_count": 0, "item_count": 0, "item": []any{}})
	case "/cgi-bin/tags/create":
		writeJSON(w, map[string]any{"tag": map[string]any{"id": 134, "name": member(c.Body, "tag", "name")}})
	case "/cgi-bin/tags/get":
		writeJSON(w, map[string]any{"tags": []any{map[string]any{"id": 2, "name": "星标组", "count": 0}}})
	case "/cgi-bin/user/tag/get":
		writeJSON(w, map[string]any{"count": 0, "data": map[string]any{"openid": []any{}}, "next_openid": ""})
	case "/cgi-bin/tags/getidlist":
		writeJSON(w, map[string]any{"tagid_list": []any{}})
	case "/sns/oauth2/access_token":
		code := c.Query.Get("code")
		if c.Query.Get("appid") != s.AppID || c.Query.Get("secret") != s.AppSecret {
			writeError(w, 40125)
			return
		}
		writeJSON(w, map[string]any{"access_token": "OAUTH_TOKEN_" + code, "expires_in": 7200,
			"refresh_token": "REFRESH_TOKEN_" + code, "openid": "OPENID_" + code, "scope": "snsapi_userinfo"})
	case "/sns/oauth2/refresh_token":
		rt := c.Query.Get("refresh_token")
		writeJSON(w, map[string]any{"access_token": "OAUTH_TOKEN_" + strings.TrimPrefix(rt, "REFRESH_TOKEN_"), "expires_in": 7200,
			"refresh_token": rt, "openid": "OPENID", "scope": "snsapi_userinfo"})
	case "/sns/userinfo":
		writeJSON(w, map[string]any{"openid": c.Query.Get("openid"), "nickname": "测试用户", "sex": 1, "privilege": []any{}})
	default:
		writeJSON(w, ok)
	}
}

// member reads obj[a][b] of a JSON body, nil when absent.
func member(obj map[string]any, a, b string) any {
	m, _ := obj[a].(map[string]any)
	return m[b]
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; encoding=utf-8")
	writeBody(w, v)
}

// writeError answers an errcode as WeChat does on its media endpoints: JSON
// labelled text/plain, so a client must not trust the header alone.
func writeError(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "text/plain")
	writeBody(w, errBody(code))
}

func writeBody(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
