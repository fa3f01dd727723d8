package simulate_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/simulate"
)

func newSim(t *testing.T, url, token string) *simulate.Simulator {
	t.Helper()
	s, err := simulate.New(simulate.Options{URL: url, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	h, err := host.New(host.Options{Token: "tok", Dispatcher: &echo{}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wechat", h)
	mux.Handle("/page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>welcome</html>")) }))
	mux.Handle("/old", http.RedirectHandler("/wechat", http.StatusMovedPermanently))
	mux.Handle("/broken", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", 502) }))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()

	if err := newSim(t, srv.URL+"/wechat", "tok").Verify(context.Background()); err != nil {
		t.Errorf("good URL: %v", err)
	}
	for _, c := range []struct {
		url, token string
		status     int
		want       string
	}{
		{srv.URL + "/wechat", "other", 403, "refused the signature (HTTP 403): " + simulate.TokenHint},
		{srv.URL + "/nothing", "tok", 404, "answers HTTP 404: nothing serves the bot at this path"},
		{srv.URL + "/old", "tok", 301, "answers 301, a redirect to /wechat: WeChat does not follow redirects; give the URL it redirects to (" + srv.URL + "/wechat)"},
		{srv.URL + "/page", "tok", 200, `answers 200 but not the echostr ("<html>welcome</html>"): something other than the bot answers this URL`},
		{srv.URL + "/broken", "tok", 502, "answers HTTP 502 (\"bad gateway\"): the server behind the URL fails"},
		{tls.URL + "/wechat", "tok", 0, "TLS: the certificate of " + strings.TrimPrefix(tls.URL, "https://") + " is not signed by a known authority: WeChat needs a certificate from a public CA"},
		{"https://" + strings.TrimPrefix(srv.URL, "http://") + "/wechat", "tok", 0, "does not speak TLS on that port"},
		{"http://" + closed + "/wechat", "tok", 0, "nothing listens at " + closed + " (connection refused)"},
	} {
		err := newSim(t, c.url, c.token).Verify(context.Background())
		var ve *simulate.VerifyError
		if !errors.As(err, &ve) || ve.Status != c.status || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (status %v), want %d and %q", c.url, err, ve, c.status, c.want)
		}
	}
}

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		line string
		want simulate.Line
		err  string
	}{
		{"你好", simulate.Line{Send: true, Spec: simulate.Spec{Type: "text", Text: "你好"}}, ""},
		{"  ", simulate.Line{}, ""},
		{"//start", simulate.Line{Send: true, Spec: simulate.Spec{Type: "text", Text: "/start"}}, ""},
		{"/click music", simulate.Line{Send: true, Spec: simulate.Spec{Type: "click", Key: "music"}}, ""},
		{"/subscribe", simulate.Line{Send: true, Spec: simulate.Spec{Type: "subscribe"}}, ""},
		{"/subscribe 42", simulate.Line{Send: true, Spec: simulate.Spec{Type: "subscribe", Key: "qrscene_42"}}, ""},
		{"/view https://example.com/", simulate.Line{Send: true, Spec: simulate.Spec{Type: "view", Key: "https://example.com/"}}, ""},
		{"/scan 7", simulate.Line{Send: true, Spec: simulate.Spec{Type: "scan", Key: "7"}}, ""},
		{"/image", simulate.Line{Send: true, Spec: simulate.Spec{Type: "image"}}, ""},
		{"/help", simulate.Line{Help: true}, ""},
		{"/QUIT", simulate.Line{Quit: true}, ""},
		{"/click", simulate.Line{}, "/click KEY: want one key"},
		{"/location 39.9", simulate.Line{}, "want latitude and longitude"},
		{"/location north 116", simulate.Line{}, `"north" is not a number`},
		// ParseFloat's other numbers would reach the handlers as text.
		{"/location NaN 116", simulate.Line{}, `"NaN" is not a number`},
		{"/location 39.9 0x1p3", simulate.Line{}, `"0x1p3" is not a number`},
		{"/clik x", simulate.Line{}, "unknown command /clik"},
	} {
		got, err := simulate.ParseLine(c.line)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want error %q", c.line, err, c.err)
			}
			continue
		}
		if err != nil || got.Send != c.want.Send || got.Help != c.want.Help || got.Quit != c.want.Quit ||
			got.Spec.Type != c.want.Spec.Type || got.Spec.Text != c.want.Spec.Text || got.Spec.Key != c.want.Spec.Key {
			t.Errorf("%q: %+v %v, want %+v", c.line, got, err, c.want)
		}
	}
	loc, err := simulate.ParseLine("/location 39.9 116.4 天安门 广场")
	if err != nil || loc.Spec.Fields["location_x"] != "39.9" || loc.Spec.Fields["label"] != "天安门 广场" {
		t.Errorf("/location: %+v %v", loc, err)
	}
	// Every command builds a message the simulator can send.
	for _, name := range simulate.LineCommands() {
		if name == "help" || name == "quit" {
			continue
		}
		l, err := simulate.ParseLine("/" + name + " x")
		if name == "location" || name == "unsubscribe" {
			l, err = simulate.ParseLine(map[string]string{"location": "/location 1 2", "unsubscribe": "/unsubscribe"}[name])
		}
		if err != nil {
			t.Errorf("/%s: %v", name, err)
			continue
		}
		if _, err := simulate.Build(l.Spec); err != nil {
			t.Errorf("/%s builds no message: %v", name, err)
		}
	}
}
