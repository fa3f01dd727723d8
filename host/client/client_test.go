package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/reply"
)

func asAPIError(err error, target **client.APIError) bool { return errors.As(err, target) }

// equalJSON compares a decoded JSON body with the expected value through
// JSON, so that number types do not matter.
func equalJSON(got any, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	var x, y any
	json.Unmarshal(a, &x)
	json.Unmarshal(b, &y)
	return reflect.DeepEqual(x, y)
}

func TestNewValidates(t *testing.T) {
	for _, o := range []client.Options{
		{AppSecret: "s"},
		{AppID: "a"},
		{AppID: "a", AppSecret: "s", APIBase: "ftp://x"},
		{AppID: "a", AppSecret: "s", ProxyURL: "::"},
		{AppID: "a", AppSecret: "s", ProxyURL: "gopher://proxy:70"},
	} {
		if _, err := client.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

func TestAPIError(t *testing.T) {
	e := newEnv(t)
	e.wx.FailOnce("/cgi-bin/menu/create", 40016)
	_, err := e.c.Invoke(context.Background(), "create_menu", map[string]any{"button": []any{}})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v (%T), want *APIError", err, err)
	}
	if apiErr.Code != 40016 || apiErr.Method != "create_menu" || !strings.HasPrefix(apiErr.Msg, "invalid button size") {
		t.Errorf("APIError = %+v", apiErr)
	}
	want := "wechat create_menu: errcode 40016: invalid button size rid: fake (hint: invalid button count: a menu has 1 to 3 top-level buttons)"
	if err.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", err.Error(), want)
	}
	// The log line names the method, the errcode and the hint.
	log := e.log.String()
	for _, s := range []string{"method=create_menu", "errcode=40016", "hint=", "1 to 3 top-level buttons"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

func TestHints(t *testing.T) {
	for _, code := range []int{40001, 40164, 45009, 48001, 40016, 40017} {
		if client.Hint(code) == "" {
			t.Errorf("no hint for %d", code)
		}
	}
	if !strings.Contains(client.Hint(40164), "IP") {
		t.Errorf("40164 hint does not mention the IP whitelist: %s", client.Hint(40164))
	}
}

func TestTokenFetchErrors(t *testing.T) {
	e := newEnv(t, func(o *client.Options) { o.AppSecret = "wrong" })
	_, err := e.c.Invoke(context.Background(), "get_menu")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 40125 {
		t.Fatalf("err = %v, want errcode 40125", err)
	}
	if !strings.Contains(err.Error(), "app_secret") {
		t.Errorf("error has no hint about app_secret: %v", err)
	}
	if strings.Contains(err.Error()+e.log.String(), "wrong") {
		t.Errorf("the secret leaked into the error or the log:\n%v\n%s", err, e.log.String())
	}
	// A refused fetch is not repeated on every call for a few seconds: a
	// busy bot would burn the token quota and flood the log.
	for i := 0; i < 5; i++ {
		if _, err := e.c.Invoke(context.Background(), "get_menu"); err == nil {
			t.Fatal("no error")
		}
	}
	if n := len(e.wx.CallsTo("/cgi-bin/token")); n != 1 {
		t.Errorf("%d token requests after a refusal, want 1", n)
	}
	if n := strings.Count(e.log.String(), "errcode=40125"); n != 1 {
		t.Errorf("the refusal was logged %d times, want once:\n%s", n, e.log.String())
	}
}

func TestTransportErrorHidesSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	token := e.wx.AccessToken()
	e.wx.Close()
	_, err := e.c.Invoke(ctx, "get_menu")
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	var apiErr *client.APIError
	if errors.As(err, &apiErr) {
		t.Fatalf("transport error is an APIError: %v", err)
	}
	if !strings.HasPrefix(err.Error(), "wechat get_menu: ") {
		t.Errorf("error does not name the method: %v", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(e.log.String(), token) {
		t.Errorf("the access token leaked: %v\n%s", err, e.log.String())
	}
	// A fresh client must fetch a token first: the secret must not leak.
	c2 := e.restart(t)
	e.tokens.clear()
	_, err = c2.Invoke(ctx, "get_menu")
	if err == nil || strings.Contains(err.Error(), testSecret) || strings.Contains(e.log.String(), testSecret) {
		t.Errorf("the AppSecret leaked (or no error): %v\n%s", err, e.log.String())
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.c.AccessToken(ctx); err != nil {
		t.Fatal(err)
	}
	// A second client on the same store reuses the token, so only the slow
	// call meets the short timeout.
	e.opts.Timeout = 100 * time.Millisecond
	c := e.restart(t)
	// WeChat stalls far longer than the bound below, which leaves room
	// for a busy machine running -race.
	e.wx.Delay("/cgi-bin/menu/get", time.Minute)
	start := time.Now()
	_, err := c.Invoke(ctx, "get_menu")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("call took %v with a 100ms timeout", d)
	}
	// The caller's context ends it sooner too.
	e2 := newEnv(t)
	e2.wx.Delay("/cgi-bin/token", time.Minute)
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := e2.c.Invoke(cctx, "get_menu"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
}

func TestProxy(t *testing.T) {
	e := newEnv(t)
	var seen atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy gets the absolute URL.
		if r.URL.Host == "" {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		seen.Add(1)
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}))
	defer proxy.Close()
	opts := e.opts
	opts.ProxyURL = proxy.URL
	c, err := client.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Invoke(context.Background(), "get_ip_list"); err != nil {
		t.Fatal(err)
	}
	if n := seen.Load(); n != 2 {
		t.Fatalf("proxy saw %d requests, want 2 (token and getcallbackip)", n)
	}
}

func TestCall(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.wx.Answer("/cgi-bin/new/api", map[string]any{"big": json.Number("1234567890123456789"), "small": 42, "f": 1.5, "s": "中"})
	body := map[string]any{"text": "中文 & <b>", "url": "https://example.com/?a=1&b=2"}
	res, err := e.c.Call(ctx, "post", "/cgi-bin/new/api", url.Values{"x": {"1"}}, body)
	if err != nil {
		t.Fatal(err)
	}
	// A 64-bit integer comes back as its digits; small ones as int64.
	if res["big"] != "1234567890123456789" || res["small"] != int64(42) || res["f"] != 1.5 || res["s"] != "中" {
		t.Errorf("result = %#v", res)
	}
	call, _ := e.wx.LastCall("/cgi-bin/new/api")
	if call.Method != "POST" || call.Query.Get("x") != "1" || call.AccessToken == "" {
		t.Errorf("call = %s %v", call.Method, call.Query)
	}
	raw := string(call.RawBody)
	if want := `{"text":"中文 & <b>","url":"https://example.com/?a=1&b=2"}`; raw != want {
		t.Errorf("body = %s\nwant   %s", raw, want)
	}
	if !strings.HasPrefix(call.ContentType, "application/json") {
		t.Errorf("content type = %q", call.ContentType)
	}
	if _, err := e.c.Call(ctx, "GET", "https://evil.example/steal", nil, nil); err == nil {
		t.Error("Call accepted an absolute URL: it would send the token elsewhere")
	}
	// Raw JSON bytes are sent as they are.
	if _, err := e.c.Call(ctx, "POST", "/cgi-bin/raw", nil, json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if call, _ := e.wx.LastCall("/cgi-bin/raw"); string(call.RawBody) != `{"a":1}` {
		t.Errorf("raw body = %s", call.RawBody)
	}
	// The retry works for Call as for methods.
	e.wx.FailOnce("/cgi-bin/raw", 42001)
	if _, err := e.c.Call(ctx, "POST", "/cgi-bin/raw", nil, json.RawMessage(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Call(ctx, "GET", "/cgi-bin/menu/create", nil, nil)
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 43002 || apiErr.Method != "call /cgi-bin/menu/create" {
		t.Errorf("GET on a POST endpoint: %v", err)
	}
}

func TestArgErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		args []any
		msg  string
	}{
		{"no_such_method", nil, "no such method"},
		{"create_menu", nil, "argument #1 (menu_data) is required"},
		{"create_menu", []any{"x"}, `must be a table, got string "x"`},
		{"get_user_info", []any{"a", "b", "c"}, "takes at most 2 arguments"},
		{"delete_mass_msg", []any{"12ab"}, "must be an integer"},
		{"tag_users", []any{1, map[string]any{"a": 1}}, "must be a list"},
		{"send_mass_preview_to_user", []any{"text", "hi", "u", "email"}, `must be "openid" or "wxname"`},
		{"send_mass_msg", []any{"text", "hi", true}, "user_list"},
		{"send_template_message", []any{"u", "t", map[string]any{}, "", 3}, "miniprogram"},
	} {
		_, err := e.c.Invoke(ctx, tc.name, tc.args...)
		var argErr *client.ArgError
		if !errors.As(err, &argErr) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s%v: err = %v, want an ArgError with %q", tc.name, tc.args, err, tc.msg)
		}
	}
	if calls := e.wx.Calls(); len(calls) != 0 {
		t.Errorf("argument errors reached WeChat: %d calls", len(calls))
	}
}

func TestGoValues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Go callers may pass ints, []string and 64-bit ids as strings.
	if _, err := e.c.Invoke(ctx, "tag_users", 134, []string{"o1", "o2"}); err != nil {
		t.Fatal(err)
	}
	call, _ := e.wx.LastCall("/cgi-bin/tags/members/batchtagging")
	if string(call.RawBody) != `{"openid_list":["o1","o2"],"tagid":134}` {
		t.Errorf("body = %s", call.RawBody)
	}
	if _, err := e.c.Invoke(ctx, "delete_mass_msg", "1000000001234567890"); err != nil {
		t.Fatal(err)
	}
	call, _ = e.wx.LastCall("/cgi-bin/message/mass/delete")
	if string(call.RawBody) != `{"article_idx":0,"msg_id":1000000001234567890}` {
		t.Errorf("body = %s: a 64-bit id must keep its digits", call.RawBody)
	}
}

func TestSendReply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	replies := []struct {
		r    reply.Reply
		want string
	}{
		{&reply.Text{Content: "你好 <b>&"}, `{"msgtype":"text","text":{"content":"你好 <b>&"},"touser":"U"}`},
		{&reply.Image{MediaID: "M"}, `{"image":{"media_id":"M"},"msgtype":"image","touser":"U"}`},
		{&reply.Voice{MediaID: "M"}, `{"msgtype":"voice","touser":"U","voice":{"media_id":"M"}}`},
		{&reply.Video{MediaID: "M", Title: "T"}, `{"msgtype":"video","touser":"U","video":{"media_id":"M","title":"T"}}`},
		{&reply.Music{Title: "T", Description: "D", URL: "u", ThumbMediaID: "th"},
			`{"msgtype":"music","music":{"description":"D","hqmusicurl":"u","musicurl":"u","thumb_media_id":"th","title":"T"},"touser":"U"}`},
		{&reply.Articles{Articles: []reply.Article{{Title: "T", Description: "D", Img: "i", URL: "u"}}},
			`{"msgtype":"news","news":{"articles":[{"description":"D","picurl":"i","title":"T","url":"u"}]},"touser":"U"}`},
	}
	for _, tc := range replies {
		if err := e.c.SendReply(ctx, "U", tc.r); err != nil {
			t.Fatalf("%s: %v", tc.r.Kind(), err)
		}
		call, _ := e.wx.LastCall("/cgi-bin/message/custom/send")
		if string(call.RawBody) != tc.want {
			t.Errorf("%s: body = %s\nwant %s", tc.r.Kind(), call.RawBody, tc.want)
		}
	}
	msgs, err := e.wx.WaitMessages(ctx, len(replies))
	if err != nil || msgs[0].ToUser != "U" || msgs[0].MsgType != "text" {
		t.Fatalf("messages = %+v, %v", msgs, err)
	}
	for _, r := range []reply.Reply{&reply.TransferCustomerService{}, &reply.Success{}, nil} {
		if err := e.c.SendReply(ctx, "U", r); err == nil {
			t.Errorf("SendReply(%T) sent something", r)
		}
	}
	if n := len(e.wx.Messages()); n != len(replies) {
		t.Errorf("messages = %d, want %d", n, len(replies))
	}
}

func TestOAuthAuthorizeURL(t *testing.T) {
	c, err := client.New(client.Options{AppID: "wxAPP", AppSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Invoke(context.Background(), "oauth_authorize_url", "https://example.com/cb?x=1&y=2", "snsapi_userinfo", "st")
	if err != nil {
		t.Fatal(err)
	}
	want := "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxAPP&redirect_uri=https%3A%2F%2Fexample.com%2Fcb%3Fx%3D1%26y%3D2&response_type=code&scope=snsapi_userinfo&state=st#wechat_redirect"
	if got != want {
		t.Errorf("url = %s\nwant  %s", got, want)
	}
}

// An invalid percent escape passes Call's path check but makes net/http
// fail to build the request, with a *url.Error that quotes the whole URL,
// access_token included.
func TestRequestBuildErrorHidesToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, err := e.c.AccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.c.Call(ctx, "GET", "/cgi-bin/menu/get%zz", nil, nil)
	if err == nil {
		t.Fatal("no error for an invalid URL escape")
	}
	if strings.Contains(err.Error(), token) || strings.Contains(e.log.String(), token) {
		t.Errorf("the access token leaked:\nerr: %v\nlog: %s", err, e.log.String())
	}
	if !strings.Contains(err.Error(), "call /cgi-bin/menu/get%zz") || !strings.Contains(err.Error(), "escape") {
		t.Errorf("unclear error: %v", err)
	}
}

// Call appends the query (and the token) to the path: a path with its own
// query or fragment, or with a control character, is refused before any
// request is made.
func TestCallRefusesPathsWithQueryFragmentOrControlCharacters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct{ path, msg string }{
		{"/cgi-bin/menu/get\x7f", "control character"},
		{"/cgi-bin/menu/get\n", "control character"},
		{"/cgi-bin/menu/get\x00x", "control character"},
		{"/cgi-bin/user/info?openid=o1", "query argument"},
		{"/cgi-bin/menu/get#x", "must not contain ? or #"},
	} {
		_, err := e.c.Call(ctx, "GET", tc.path, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Call(%q): err = %v, want one with %q", tc.path, err, tc.msg)
		}
	}
	if calls := e.wx.Calls(); len(calls) != 0 {
		t.Errorf("refused paths reached WeChat: %d calls", len(calls))
	}
}

// A server that answers with a redirect gets no second request: following
// it would hand the access token (query), or the AppSecret (query of
// /cgi-bin/token, body of /cgi-bin/stable_token re-sent on 307), to the
// host it names. WeChat's API never redirects.
func TestRedirectsAreNotFollowed(t *testing.T) {
	const token = "TOKEN_redirect_test"
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"STOLEN","expires_in":7200,"menu":{}}`))
	}))
	defer elsewhere.Close()

	for _, tc := range []struct {
		name, redirect   string
		stable, sameHost bool
		httpClient       bool
	}{
		{name: "api call to another host", redirect: "/cgi-bin/menu/get"},
		{name: "api call on the same host", redirect: "/cgi-bin/menu/get", sameHost: true},
		{name: "token fetch", redirect: "/cgi-bin/token"},
		{name: "stable token fetch", redirect: "/cgi-bin/stable_token", stable: true},
		{name: "caller's http.Client", redirect: "/cgi-bin/menu/get", httpClient: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reached.Store(0)
			var api *httptest.Server
			api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == tc.redirect:
					target := elsewhere.URL
					if tc.sameHost {
						target = api.URL + "/moved"
					}
					http.Redirect(w, r, target+r.URL.Path+"?"+r.URL.RawQuery, http.StatusTemporaryRedirect)
				case r.URL.Path == "/cgi-bin/token" || r.URL.Path == "/cgi-bin/stable_token":
					w.Write([]byte(`{"access_token":"` + token + `","expires_in":7200}`))
				default:
					reached.Add(1) // the same-host redirect target
					w.Write([]byte(`{"menu":{}}`))
				}
			}))
			defer api.Close()
			e := newEnv(t, func(o *client.Options) {
				o.APIBase = api.URL
				o.UseStableToken = tc.stable
			})
			c := e.c
			var hc *http.Client
			if tc.httpClient {
				hc = &http.Client{}
				e.opts.HTTPClient = hc
				c = e.restart(t)
			}
			_, err := c.Invoke(context.Background(), "get_menu")
			if err == nil {
				t.Fatal("no error: the redirect was followed")
			}
			if n := reached.Load(); n != 0 {
				t.Errorf("the redirect target got %d requests", n)
			}
			if !strings.Contains(err.Error(), "redirect") {
				t.Errorf("the error does not say what happened: %v", err)
			}
			for _, secret := range []string{token, testSecret} {
				if strings.Contains(err.Error(), secret) || strings.Contains(e.log.String(), secret) {
					t.Errorf("%q leaked:\nerr: %v\nlog: %s", secret, err, e.log.String())
				}
			}
			if hc != nil && hc.CheckRedirect != nil {
				t.Error("New changed the caller's http.Client")
			}
		})
	}
}

// Whatever text net/http builds from a server's answer, the credentials
// are cut out of it: here a Location header that cannot be parsed and
// repeats the query, which net/http quotes in its error.
func TestErrorsNeverQuoteCredentials(t *testing.T) {
	const token = "TOKEN_reflected"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/token" {
			w.Write([]byte(`{"access_token":"` + token + `","expires_in":7200}`))
			return
		}
		w.Header().Set("Location", "%zz?"+r.URL.RawQuery)
		w.WriteHeader(http.StatusFound)
	}))
	defer api.Close()
	e := newEnv(t, func(o *client.Options) { o.APIBase = api.URL })
	_, err := e.c.Invoke(context.Background(), "get_menu")
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), token) || strings.Contains(e.log.String(), token) {
		t.Errorf("the access token leaked:\nerr: %v\nlog: %s", err, e.log.String())
	}
	if !strings.Contains(err.Error(), "wechat get_menu") || !strings.Contains(err.Error(), "Location") {
		t.Errorf("the cleaned error lost its meaning: %v", err)
	}
	// A server that repeats the token in its errmsg: still an APIError.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/token" {
			w.Write([]byte(`{"access_token":"` + token + `","expires_in":7200}`))
			return
		}
		w.Write([]byte(`{"errcode":48001,"errmsg":"api unauthorized for ` + r.URL.Query().Get("access_token") + `"}`))
	}))
	defer echo.Close()
	e3 := newEnv(t, func(o *client.Options) { o.APIBase = echo.URL })
	_, err = e3.c.Invoke(context.Background(), "get_menu")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 48001 {
		t.Errorf("err = %v, want errcode 48001", err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(e3.log.String(), token) {
		t.Errorf("the access token leaked through errmsg:\nerr: %v\nlog: %s", err, e3.log.String())
	}
	// A deadline stays recognisable after the cleaning.
	e2 := newEnv(t, func(o *client.Options) { o.Timeout = 50 * time.Millisecond })
	e2.wx.Delay("/cgi-bin/token", time.Second)
	if _, err := e2.c.Invoke(context.Background(), "get_menu"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline error", err)
	}
}

// strconv.ParseInt takes "+5" and "007", which are not JSON numbers: an
// integer argument is sent as the number's canonical digits, and any other
// text is an argument error before anything is sent.
func TestIntArgumentsAreSentAsCanonicalNumbers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		arg  any
		want string
	}{
		{"+5", "5"},
		{"007", "7"},
		{"-0", "0"},
		{"-12", "-12"},
		{json.Number("+5"), "5"},
		{"1000000001234567890", "1000000001234567890"},
	} {
		if _, err := e.c.Invoke(ctx, "delete_mass_msg", tc.arg); err != nil {
			t.Errorf("delete_mass_msg(%#v): %v", tc.arg, err)
			continue
		}
		call, _ := e.wx.LastCall("/cgi-bin/message/mass/delete")
		if want := `{"article_idx":0,"msg_id":` + tc.want + `}`; string(call.RawBody) != want {
			t.Errorf("delete_mass_msg(%#v): body = %s, want %s", tc.arg, call.RawBody, want)
		}
	}
	e.wx.Reset()
	for _, arg := range []any{"5.0", " 5", "", "0x10", "1e3", "5_000", "99999999999999999999", json.Number("1.5")} {
		_, err := e.c.Invoke(ctx, "delete_mass_msg", arg)
		var argErr *client.ArgError
		if !errors.As(err, &argErr) || !strings.Contains(err.Error(), "argument #1 (msg_id) must be an integer") {
			t.Errorf("delete_mass_msg(%#v): err = %v, want an ArgError", arg, err)
		}
	}
	if n := len(e.wx.CallsTo("/cgi-bin/message/mass/delete")); n != 0 {
		t.Errorf("invalid integers reached WeChat: %d calls", n)
	}
}
