package fakewechat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client/fakewechat"
)

func get(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func code(m map[string]any) int {
	f, _ := m["errcode"].(float64)
	return int(f)
}

func TestTokensAndChecks(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	if c := code(get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=bad")); c != 40125 {
		t.Errorf("bad secret: %d", c)
	}
	if c := code(get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=other&secret=secret")); c != 40013 {
		t.Errorf("bad appid: %d", c)
	}
	tok := get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=secret")
	first, _ := tok["access_token"].(string)
	if first == "" || tok["expires_in"] != 7200.0 || wx.TokenFetches() != 1 || wx.AccessToken() != first {
		t.Fatalf("token answer %v, fetches %d", tok, wx.TokenFetches())
	}
	if c := code(get(t, wx.URL+"/cgi-bin/menu/get")); c != 41001 {
		t.Errorf("missing token: %d", c)
	}
	if c := code(get(t, wx.URL+"/cgi-bin/menu/get?access_token=nope")); c != 40001 {
		t.Errorf("unknown token: %d", c)
	}
	if c := code(get(t, wx.URL+"/cgi-bin/menu/create?access_token="+first)); c != 43002 {
		t.Errorf("GET on a POST endpoint: %d", c)
	}
	if c := code(post(t, wx.URL+"/cgi-bin/menu/create?access_token="+first, "not json")); c != 47001 {
		t.Errorf("bad JSON: %d", c)
	}
	if m := get(t, wx.URL+"/cgi-bin/menu/get?access_token="+first); m["menu"] == nil {
		t.Errorf("menu/get: %v", m)
	}

	// A new /cgi-bin/token fetch invalidates the old token at once.
	get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=secret")
	if c := code(get(t, wx.URL+"/cgi-bin/menu/get?access_token="+first)); c != 42001 {
		t.Errorf("replaced token: %d", c)
	}
	// stable_token hands out the same token until forced.
	current := wx.AccessToken()
	st := post(t, wx.URL+"/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"app","secret":"secret"}`)
	if st["access_token"] != current {
		t.Errorf("stable_token = %v, want %s", st, current)
	}
	st = post(t, wx.URL+"/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"app","secret":"secret","force_refresh":true}`)
	if st["access_token"] == current || wx.TokenFetches() != 4 {
		t.Errorf("forced stable_token = %v after %d fetches", st, wx.TokenFetches())
	}
	wx.ExpireToken()
	if c := code(get(t, wx.URL+"/cgi-bin/menu/get?access_token="+wx.AccessToken())); c != 42001 {
		t.Errorf("expired token: %d", c)
	}
}

func TestAnswersFailuresAndMessages(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	tok := get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=secret")["access_token"].(string)
	wx.FailOnce("/cgi-bin/tags/get", 45009)
	if c := code(get(t, wx.URL+"/cgi-bin/tags/get?access_token="+tok)); c != 45009 {
		t.Errorf("FailOnce: %d", c)
	}
	if c := code(get(t, wx.URL+"/cgi-bin/tags/get?access_token="+tok)); c != 0 {
		t.Errorf("after FailOnce: %d", c)
	}
	wx.Answer("/cgi-bin/tags/get", map[string]any{"tags": []any{}, "x": 1})
	if m := get(t, wx.URL+"/cgi-bin/tags/get?access_token="+tok); m["x"] != 1.0 {
		t.Errorf("Answer: %v", m)
	}

	done := make(chan []fakewechat.Message)
	go func() {
		msgs, err := wx.WaitMessages(context.Background(), 2)
		if err != nil {
			t.Error(err)
		}
		done <- msgs
	}()
	post(t, wx.URL+"/cgi-bin/message/custom/send?access_token="+tok, `{"touser":"U1","msgtype":"text","text":{"content":"a"}}`)
	post(t, wx.URL+"/cgi-bin/message/custom/send?access_token="+tok, `{"touser":"U2","msgtype":"image","image":{"media_id":"M"}}`)
	msgs := <-done
	if len(msgs) != 2 || msgs[0].ToUser != "U1" || msgs[1].MsgType != "image" {
		t.Errorf("messages = %+v", msgs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := wx.WaitMessages(ctx, 3); err == nil {
		t.Error("WaitMessages(3) returned without a third message")
	}
	call, ok := wx.LastCall("/cgi-bin/message/custom/send")
	if !ok || call.Method != "POST" || call.AccessToken != tok || call.Body["touser"] != "U2" {
		t.Errorf("LastCall = %+v", call)
	}
	wx.Reset()
	if len(wx.Calls()) != 0 || len(wx.Messages()) != 0 {
		t.Error("Reset kept records")
	}
}

func TestRefuseTokens(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	wx.RefuseTokens(40164)
	m := get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=secret")
	if code(m) != 40164 || !strings.Contains(m["errmsg"].(string), "invalid ip "+fakewechat.CallerIP+" ") {
		t.Errorf("token with 40164: %v", m)
	}
	m = post(t, wx.URL+"/cgi-bin/stable_token", `{"grant_type":"client_credential","appid":"app","secret":"secret"}`)
	if code(m) != 40164 {
		t.Errorf("stable_token with 40164: %v", m)
	}
	wx.RefuseTokens(0)
	if m := get(t, wx.URL+"/cgi-bin/token?grant_type=client_credential&appid=app&secret=secret"); m["access_token"] == nil {
		t.Errorf("token after RefuseTokens(0): %v", m)
	}
}

func TestClockSkew(t *testing.T) {
	wx := fakewechat.New("app", "secret")
	defer wx.Close()
	wx.SetClockSkew(-time.Hour)
	resp, err := http.Get(wx.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatal(err)
	}
	if skew := time.Until(date); skew > -59*time.Minute || skew < -61*time.Minute {
		t.Errorf("Date %v is %v from now, want about -1h", date, skew)
	}
}
