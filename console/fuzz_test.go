package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// serveFuzz sends one request to the console's handler, authenticated
// with the bearer token from 192.0.2.1, and returns the recorder.
func serveFuzz(e *env, method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://127.0.0.1:8889/", strings.NewReader(body))
	req.URL.RawPath = ""
	u, err := url.Parse(target)
	if err != nil {
		panic(fmt.Sprintf("serveFuzz(%q): %v", target, err)) // the caller sends only what parses
	}
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
	req.RequestURI = target
	req.RemoteAddr = "192.0.2.1:40000"
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, req)
	return w
}

// checkAnswer checks what every console API answer promises: no 5xx but
// 503 (the bot did not take the message), a JSON body with an error
// message on failure, and no secret anywhere.
func checkAnswer(t *testing.T, e *env, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	body := w.Body.String()
	if w.Code/100 == 3 || w.Code == http.StatusNotFound && body == "404 page not found\n" {
		return // the path reached no console route (an empty or "/" segment): the admin mux answered
	}
	if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d: %s", what, w.Code, body)
	}
	if w.Code != http.StatusNoContent && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("%s: status %d with Content-Type %q: %s", what, w.Code, w.Header().Get("Content-Type"), body)
	}
	if w.Code != http.StatusNoContent && !json.Valid([]byte(body)) {
		t.Fatalf("%s: status %d, not JSON: %s", what, w.Code, body)
	}
	if w.Code >= 400 {
		var ans struct{ Error string }
		if json.Unmarshal([]byte(body), &ans) != nil || ans.Error == "" {
			t.Fatalf("%s: status %d without an error message: %s", what, w.Code, body)
		}
	}
	for _, s := range e.secrets() {
		if strings.Contains(body, s) {
			t.Fatalf("%s: the answer shows the secret %q: %s", what, s, body)
		}
	}
}

// FuzzTry: POST /api/try takes any body. A body that is not a try request
// is a 400 naming what is wrong; one that is gets the bot's answer to a
// console user (console-<name>, never a real follower), and no answer
// shows a secret. The same input as a stored session (what a corrupted
// store holds) is shown by GET /api/sessions/{openid} as JSON.
func FuzzTry(f *testing.F) {
	e := newEnv(f)
	for _, s := range []string{
		`{"user":"alice","content":"hi"}`, `{"user":"alice","type":"click","key":"news"}`,
		`{"user":"console-bob","type":"location","fields":{"label":"上海","location_x":31.2,"scale":15}}`,
		`{"user":"x","type":"subscribe_msg_popup","fields":{"subscribes":[{"template_id":"t","popup_scene":2}]}}`,
		`{"user":"x","type":"shakearoundusershake","fields":{"chosen_beacon":{"uuid":"u","major":1},"around_beacons":[{"distance":1e400}]}}`,
		`{"user":"x","type":"text","content":"secret"}`, `{"user":"x","content":"下单"}`,
		`{"user":"oRealUser\u0000","content":"hi"}`, `{"user":"x","type":"text","fields":{"content":{"a":[1]}}}`,
		`{"user":"x","type":"device_text","fields":{"content":"AP8="}}`, `{"user":"x","extra":1}`, `[]`, `{"user":"x"} {"user":"y"}`,
		`{"user":"x","type":"scan","key":"qrscene_1","msg_id":"1"}`, `{"user":"x","fields":{"content":null,"a":true}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "slow") {
			return // the test bot sleeps 3 s on "slow"
		}
		w := serveFuzz(e, "POST", "/api/try", "application/json", body)
		checkAnswer(t, e, "POST /api/try "+body, w)
		if w.Code == http.StatusOK {
			var ans tryAnswer
			if err := json.Unmarshal(w.Body.Bytes(), &ans); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(ans.User, "console-") || len(ans.User) <= len("console-") {
				t.Fatalf("a try as %q: %s", ans.User, w.Body)
			}
			if ans.Reply.Type == "" {
				t.Fatalf("a try without a reply type: %s", w.Body)
			}
		}

		// The same bytes as a stored session.
		if err := e.sessions.SaveSession(context.Background(), "oFuzz", []byte(body)); err != nil {
			t.Fatal(err)
		}
		w = serveFuzz(e, "GET", "/api/sessions/oFuzz", "", "")
		checkAnswer(t, e, "GET /api/sessions/oFuzz holding "+body, w)
		if w.Code != http.StatusOK && len(body) > 0 {
			t.Fatalf("a stored session %q: status %d", body, w.Code)
		}
	})
}

// FuzzQueries: the query of GET /api/log (and the stream's), of GET
// /api/inbox/{user} and the openid of /api/sessions/{openid} come from the
// browser: whatever they are, the answer is 200 or a 4xx naming the
// parameter, in JSON. (?wait= is left out: it would hold the request;
// the internal FuzzWaitParam checks it.)
func FuzzQueries(f *testing.F) {
	e := newEnv(f)
	for _, s := range []string{"since=0&level=debug", "since=99999999999999999999", "since=-1", "level=WARN+4", "level=nope",
		"since=1e3", "since=%zz", "level=error&level=info", "since=18446744073709551615"} {
		f.Add(s, "alice", "oUser")
	}
	f.Add("", "console-", "a b")
	f.Add("", "../etc", "%2e%2e")
	f.Fuzz(func(t *testing.T, query, user, openid string) {
		if _, err := url.Parse("/api/log?" + query); err != nil || strings.Contains(query, "#") {
			return // not a request line a client sends
		}
		q, err := url.ParseQuery(query)
		if err == nil {
			q.Del("wait")
			query = q.Encode()
		} else if strings.Contains(strings.ToLower(query), "wait") {
			return
		}
		w := serveFuzz(e, "GET", "/api/log?"+query, "", "")
		checkAnswer(t, e, "GET /api/log?"+query, w)
		if w.Code != http.StatusOK && w.Code != http.StatusBadRequest {
			t.Fatalf("GET /api/log?%s: status %d", query, w.Code)
		}
		if w.Code == http.StatusBadRequest {
			if msg := w.Body.String(); !strings.Contains(msg, "since") && !strings.Contains(msg, "level") {
				t.Fatalf("GET /api/log?%s: 400 without naming the parameter: %s", query, msg)
			}
		}
		path := "/api/inbox/" + url.PathEscape(user) + "?" + query
		w = serveFuzz(e, "GET", path, "", "")
		checkAnswer(t, e, "GET "+path, w)
		if w.Code != http.StatusOK && w.Code/100 != 4 && w.Code/100 != 3 {
			t.Fatalf("GET %s: status %d", path, w.Code)
		}
		for _, method := range []string{"GET", "DELETE"} {
			path := "/api/sessions/" + url.PathEscape(openid)
			w := serveFuzz(e, method, path, "", "")
			checkAnswer(t, e, method+" "+path, w)
			if w.Code != http.StatusOK && w.Code != http.StatusNoContent && w.Code/100 != 4 && w.Code/100 != 3 {
				t.Fatalf("%s %s: status %d", method, path, w.Code)
			}
		}
	})
}

// FuzzLogin: POST /login reads a form from anyone. It logs in exactly
// when the form's token is the admin token (and the address is not
// throttled), and never answers 5xx.
func FuzzLogin(f *testing.F) {
	e := newEnv(f)
	f.Add([]byte{1}, "token="+adminToken, "application/x-www-form-urlencoded")
	f.Add([]byte{2}, "token=wrong", "application/x-www-form-urlencoded")
	f.Add([]byte{3}, "token="+adminToken+"%00", "application/x-www-form-urlencoded")
	f.Add([]byte{4}, "token=a&token="+adminToken, "application/x-www-form-urlencoded")
	f.Add([]byte{5}, "token="+adminToken, "multipart/form-data; boundary=x")
	f.Add([]byte{6}, "%zz", "application/x-www-form-urlencoded")
	f.Add([]byte{7}, "", "text/plain")
	f.Fuzz(func(t *testing.T, who []byte, body, contentType string) {
		var b [16]byte
		copy(b[:8], who)
		b[0], b[1] = 0x20, 0x01 // 2001:xxxx:...: a /64 of its own per input, never the API's 192.0.2.1
		req := httptest.NewRequest("POST", "http://127.0.0.1:8889/login", strings.NewReader(body))
		req.RemoteAddr = netip.AddrPortFrom(netip.AddrFrom16(b), 1).String()
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", "http://127.0.0.1:8889")
		req.Header.Set("Accept", "application/json")
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("login %q: status %d: %s", body, w.Code, w.Body)
		}
		form, err := url.ParseQuery(body)
		right := err == nil && contentType == "application/x-www-form-urlencoded" && form.Get("token") == adminToken
		loggedIn := w.Code == http.StatusOK && strings.Contains(fmt.Sprint(w.Result().Cookies()), "=")
		if loggedIn && !right {
			t.Fatalf("logged in with %q (%s): %s", body, contentType, w.Body)
		}
		if right && !loggedIn && w.Code != http.StatusTooManyRequests {
			t.Fatalf("the admin token did not log in: %d %s", w.Code, w.Body)
		}
		for _, s := range e.secrets() {
			if strings.Contains(w.Body.String(), s) {
				t.Fatalf("the login answer shows a secret: %s", w.Body)
			}
		}
	})
}
