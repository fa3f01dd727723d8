package safehttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// names is a fake DNS: host → addresses. A name it does not know is not
// found, so no test asks the real DNS.
type names map[string][]string

func (n names) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range n[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// upstream is a local server that records what reaches it.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	port string
}

func newUpstream(t *testing.T, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(u.Close)
	_, u.port, _ = net.SplitHostPort(u.Listener.Addr().String())
	return u
}

// at is the upstream's URL under another host name.
func (u *upstream) at(host, path string) string { return "http://" + host + ":" + u.port + path }

func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func do(c *Client, method, u string) (*Response, error) {
	return c.Do(context.Background(), &Request{Method: method, URL: u})
}

// The request as sent: method, query merged into the URL's own, headers,
// body, Host and the default User-Agent; the response read in full with
// its status, headers and body. A non-2xx status is a response.
func TestRequestAndResponse(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("X-Answer", "42")
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "short and stout")
	})
	// The Host header names a host, which http_allow must allow too.
	c := newClient(t, Options{Allow: []string{"api.test", "virtual.test"}, Resolver: names{"api.test": {"127.0.0.1"}}.resolve})
	res, err := c.Do(context.Background(), &Request{
		Method: "put",
		URL:    up.at("api.test", "/v1/items?fixed=1"),
		Query:  url.Values{"city": {"北京"}, "n": {"1", "2"}},
		Header: http.Header{"X-Key": {"k1"}, "host": {"virtual.test"}},
		Body:   []byte(`{"a":1}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "PUT" || got.URL.RawQuery != "fixed=1&city=%E5%8C%97%E4%BA%AC&n=1&n=2" || got.Host != "virtual.test" ||
		got.Header.Get("X-Key") != "k1" || got.Header.Get("User-Agent") != "LuaRoBot" || string(gotBody) != `{"a":1}` {
		t.Errorf("upstream got %s %s host %s headers %v body %q", got.Method, got.URL, got.Host, got.Header, gotBody)
	}
	if res.Status != 418 || res.Header.Get("X-Answer") != "42" || len(res.Header.Values("Set-Cookie")) != 2 || string(res.Body) != "short and stout" {
		t.Errorf("response: %d %v %q", res.Status, res.Header, res.Body)
	}

	// A GET without a body sends none; a User-Agent set is kept.
	if _, err := c.Do(context.Background(), &Request{URL: up.at("api.test", "/"), Header: http.Header{"User-Agent": {"mine"}}}); err != nil {
		t.Fatal(err)
	}
	if got.Method != "GET" || got.ContentLength != 0 || got.Header.Get("User-Agent") != "mine" {
		t.Errorf("GET: %s length %d UA %q", got.Method, got.ContentLength, got.Header.Get("User-Agent"))
	}
}

// Every special class is refused when reached through a DNS name under
// "*" — at the dial, so nothing is connected — and allowed when the name or
// the address is listed.
func TestRefusedThroughDNS(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "inside") })
	dns := names{
		"loop.test": {"127.0.0.1"}, "ten.test": {"10.0.0.1"}, "one72.test": {"172.16.0.1"}, "one92.test": {"192.168.1.1"},
		"linklocal.test": {"169.254.1.1"}, "metadata.test": {"169.254.169.254"}, "cgnat.test": {"100.64.0.1"},
		"zero.test": {"0.0.0.0"}, "v6loop.test": {"::1"}, "v6unspec.test": {"::"}, "ula.test": {"fc00::1"},
		"v6ll.test": {"fe80::1"}, "mapped.test": {"::ffff:10.0.0.1"}, "mappedloop.test": {"::ffff:127.0.0.1"},
		"nat64.test": {"64:ff9b::a9fe:a9fe"},
	}
	c := newClient(t, Options{Resolver: dns.resolve, Timeout: 5 * time.Second})
	for host, addrs := range dns {
		_, err := do(c, "GET", up.at(host, "/secret"))
		class := SpecialClass(netip.MustParseAddr(addrs[0]))
		want := "GET " + up.at(host, "/secret") + ": " + host + " resolves to " + netip.MustParseAddr(addrs[0]).Unmap().String() + ", " + class + "; not allowed by http_allow"
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", host, err, want)
		}
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("%s: %T is not a *RefusedError", host, err)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Fatalf("the upstream was reached %d times", n)
	}

	// Named exactly, or covered by an IP or CIDR: allowed. A wildcard
	// never is.
	for _, allow := range [][]string{{"loop.test"}, {"127.0.0.1"}, {"127.0.0.0/8"}, {"::ffff:127.0.0.1"}} {
		c := newClient(t, Options{Allow: allow, Resolver: dns.resolve})
		res, err := do(c, "GET", up.at("loop.test", "/"))
		if err != nil || string(res.Body) != "inside" {
			t.Errorf("allow %v: %v", allow, err)
		}
	}
	for _, allow := range [][]string{{"*.test"}, {"*"}, {"other.test", "10.0.0.0/8"}} {
		c := newClient(t, Options{Allow: allow, Resolver: dns.resolve})
		if _, err := do(c, "GET", up.at("loop.test", "/")); err == nil || !strings.Contains(err.Error(), "a loopback address; not allowed by http_allow") {
			t.Errorf("allow %v: %v", allow, err)
		}
	}
	// A name no pattern allows is refused before DNS: the resolver is
	// never asked.
	asked := false
	c = newClient(t, Options{Allow: []string{"api.example.com"}, Resolver: func(ctx context.Context, host string) ([]netip.Addr, error) {
		asked = true
		return nil, errors.New("asked")
	}})
	if _, err := do(c, "GET", "https://evil.example/"); err == nil || err.Error() != "GET https://evil.example/: evil.example is not allowed by http_allow" || asked {
		t.Errorf("evil.example: %v (resolver asked: %v)", err, asked)
	}
}

// IP literals in the URL: the message of the design.
func TestRefusedLiterals(t *testing.T) {
	c := newClient(t, Options{})
	cases := map[string]string{
		"http://10.0.0.1/":                    "GET http://10.0.0.1/: 10.0.0.1 is a private address; not allowed by http_allow",
		"http://10.0.0.1":                     "GET http://10.0.0.1/: 10.0.0.1 is a private address; not allowed by http_allow",
		"http://127.0.0.1:8889/metrics":       "GET http://127.0.0.1:8889/metrics: 127.0.0.1 is a loopback address; not allowed by http_allow",
		"http://169.254.169.254/latest/meta":  "GET http://169.254.169.254/latest/meta: 169.254.169.254 is a cloud metadata address; not allowed by http_allow",
		"http://[::1]:80/":                    "GET http://[::1]:80/: ::1 is a loopback address; not allowed by http_allow",
		"http://[::ffff:192.168.0.1]/":        "GET http://[::ffff:192.168.0.1]/: ::ffff:192.168.0.1 (192.168.0.1) is a private address; not allowed by http_allow",
		"http://0.0.0.0:22/":                  `GET http://0.0.0.0:22/: 0.0.0.0 is a "this network" address; not allowed by http_allow`,
		"http://100.100.100.200/latest/meta":  "GET http://100.100.100.200/latest/meta: 100.100.100.200 is a cloud metadata address; not allowed by http_allow",
		"http://[fe80::1%25eth0]/":            "GET http://[fe80::1%25eth0]/: fe80::1%eth0 (fe80::1) is a link-local address; not allowed by http_allow",
		"http://user:pass@10.0.0.1/?key=SECR": "GET http://user@10.0.0.1/: 10.0.0.1 is a private address; not allowed by http_allow",
	}
	for u, want := range cases {
		if _, err := do(c, "GET", u); err == nil || err.Error() != want {
			t.Errorf("%s:\n got %v\nwant %s", u, err, want)
		}
	}
}

// A redirect is checked as the first request is: an allowed host that
// redirects inside is refused, and the inside is not reached.
func TestRefusedThroughRedirect(t *testing.T) {
	var secret atomic.Int64
	up := newUpstream(t, nil)
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-name":
			http.Redirect(w, r, up.at("inside.test", "/secret?token=x"), http.StatusFound)
		case "/to-ip":
			http.Redirect(w, r, "http://127.0.0.1:"+up.port+"/secret", http.StatusFound)
		case "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
		case "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/secret":
			secret.Add(1)
		}
	})
	dns := names{"public.test": {"127.0.0.1"}, "inside.test": {"127.0.0.1"}}
	// public.test is named (so it may be reached although it is local
	// here); inside.test is not.
	c := newClient(t, Options{Allow: []string{"*", "public.test"}, Resolver: dns.resolve})
	cases := map[string]string{
		"/to-name":     "redirected to " + up.at("inside.test", "/secret") + ": inside.test resolves to 127.0.0.1, a loopback address; not allowed by http_allow",
		"/to-ip":       "redirected to http://127.0.0.1:" + up.port + "/secret: 127.0.0.1 is a loopback address; not allowed by http_allow",
		"/to-metadata": "redirected to http://169.254.169.254/latest/meta-data/: 169.254.169.254 is a cloud metadata address; not allowed by http_allow",
		"/to-file":     "redirected to file:///etc/passwd: only redirects to http and https URLs are followed",
	}
	for path, want := range cases {
		_, err := do(c, "POST", up.at("public.test", path))
		if err == nil || err.Error() != "POST "+up.at("public.test", path)+": "+want {
			t.Errorf("%s:\n got %v\nwant POST %s: %s", path, err, up.at("public.test", path), want)
		}
	}
	if secret.Load() != 0 {
		t.Error("a redirect reached the inside")
	}
}

// Up to 5 redirects are followed; the sixth is an error.
func TestRedirectLimit(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/%d", &n)
		if n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/%d", n-1), http.StatusFound)
			return
		}
		fmt.Fprint(w, "arrived")
	})
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}})
	if res, err := do(c, "GET", up.URL+"/5"); err != nil || string(res.Body) != "arrived" {
		t.Errorf("5 redirects: %v", err)
	}
	if _, err := do(c, "GET", up.URL+"/6"); err == nil || !strings.HasSuffix(err.Error(), ": stopped after 5 redirects") {
		t.Errorf("6 redirects: %v", err)
	}
}

// Secrets the script put in the query or the URL's password never show in
// an error; a redirect to another host drops the Authorization header.
func TestSecretsStayPut(t *testing.T) {
	var auth []string
	var mu sync.Mutex
	up := newUpstream(t, nil)
	up.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Host+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, up.at("other.test", "/landed"), http.StatusFound)
		}
	})
	c := newClient(t, Options{Allow: []string{"127.0.0.1", "api.test", "other.test"}, Resolver: names{"api.test": {"127.0.0.1"}, "other.test": {"127.0.0.1"}}.resolve})
	if _, err := c.Do(context.Background(), &Request{URL: up.at("api.test", "/hop"), Header: http.Header{"Authorization": {"Bearer SECRET"}}}); err != nil {
		t.Fatal(err)
	}
	if len(auth) != 2 || auth[0] != "api.test:"+up.port+" Bearer SECRET" || auth[1] != "other.test:"+up.port+" " {
		t.Errorf("Authorization seen: %q", auth)
	}
	// Nothing listens on a closed port.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	_, err := do(c, "GET", "http://user:SECRET@"+closed+"/path?key=SECRET#SECRET")
	if err == nil || strings.Contains(err.Error(), "SECRET") || err.Error() != "GET http://user@"+closed+"/path: dial tcp: connection refused" {
		t.Errorf("connection refused: %v", err)
	}
}

// What a request may not be: a scheme other than http(s), a bad method, a
// header that would inject a line.
func TestInvalidRequests(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}})
	cases := []struct {
		req  Request
		want string
	}{
		{Request{URL: "file:///etc/passwd"}, "GET file:///etc/passwd: only http and https URLs can be fetched, not file:"},
		{Request{URL: "gopher://127.0.0.1:70/_stats"}, "only http and https URLs can be fetched, not gopher:"},
		{Request{URL: "ftp://example.com/"}, "not ftp:"},
		{Request{URL: "example.com/path"}, "the URL has no scheme"},
		{Request{URL: "http:///path"}, "the URL has no host"},
		{Request{URL: "http://exa mple.com/?key=SECRET"}, `GET "http://exa mple.com/": not a URL: invalid character " " in host name`},
		{Request{Method: "CONNECT", URL: up.URL}, `method "CONNECT" is not supported`},
		{Request{Method: "TRACE", URL: up.URL}, `method "TRACE" is not supported`},
		{Request{Method: "GET /x HTTP/1.1\r\n", URL: up.URL}, `is not supported`},
		{Request{URL: up.URL, Header: http.Header{"X-A": {"v\r\nX-Injected: 1"}}}, `header "X-A": the value has a line break (CR or LF), which a header value cannot hold`},
		{Request{URL: up.URL, Header: http.Header{"X-A": {"v\nGET / HTTP/1.1"}}}, `line break`},
		{Request{URL: up.URL, Header: http.Header{"X-A": {"v\x00"}}}, `control character '\x00'`},
		{Request{URL: up.URL, Header: http.Header{"X-A\r\nX-B": {"v"}}}, `the name has '\r'`},
		{Request{URL: up.URL, Header: http.Header{"X A": {"v"}}}, `the name has ' '`},
		{Request{URL: up.URL, Header: http.Header{"Host": {"a\r\nb"}}}, `line break`},
	}
	for _, tc := range cases {
		_, err := c.Do(context.Background(), &tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q %v: got %v, want %q", tc.req.Method, tc.req.URL, tc.req.Header, err, tc.want)
		}
	}
	if up.hits.Load() != 0 {
		t.Error("an invalid request reached the upstream")
	}
}

// Bodies over MaxBody are an error, announced or not, compressed or not;
// a body of exactly MaxBody is fine.
func TestBodyCap(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/exact":
			w.Write(bytes.Repeat([]byte("a"), 1000))
		case "/announced":
			w.Header().Set("Content-Length", "1001")
			w.Write(bytes.Repeat([]byte("a"), 1001))
		case "/chunked":
			for i := 0; i < 10; i++ {
				w.Write(bytes.Repeat([]byte("a"), 500))
				w.(http.Flusher).Flush()
			}
		case "/gzip":
			// 1 MB of zeros is a few KB gzipped: the cap is on what the
			// script would get.
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			zw.Write(make([]byte, 1<<20))
			zw.Close()
		}
	})
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}, MaxBody: 1000})
	if res, err := do(c, "GET", up.URL+"/exact"); err != nil || len(res.Body) != 1000 {
		t.Errorf("exact: %v", err)
	}
	for _, p := range []string{"/announced", "/chunked", "/gzip"} {
		if _, err := do(c, "GET", up.URL+p); err == nil || !strings.HasSuffix(err.Error(), ": the response body is over 1000 bytes (http_max_body)") {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// A request's timeout stops it; so does the caller's context, whichever
// ends first. The upstream sees the request go away.
func TestTimeouts(t *testing.T) {
	gone := make(chan struct{}, 10)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(30 * time.Second):
		}
	})
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}})
	start := time.Now()
	_, err := c.Do(context.Background(), &Request{URL: up.URL + "/slow?key=SECRET", Timeout: 200 * time.Millisecond})
	if err == nil || err.Error() != "GET "+up.URL+"/slow: timed out after 200ms" {
		t.Errorf("timeout: %v", err)
	}
	<-gone

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.Do(ctx, &Request{URL: up.URL + "/slow", Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("caller's deadline: %v", err)
	}
	<-gone
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("the requests took %s: the timeouts did not stop them", d)
	}

	// A body that trickles is cut by the same timeout.
	trickle := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		for {
			if _, err := w.Write([]byte("x")); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	_, err = c.Do(context.Background(), &Request{URL: trickle.URL, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.HasSuffix(err.Error(), "reading the body: timed out after 300ms") {
		t.Errorf("trickle: %v", err)
	}
}

// TLS is verified: an unknown authority is refused, a trusted one works.
func TestTLSVerified(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	defer srv.Close()
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}})
	if _, err := do(c, "GET", srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed certificate accepted: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c = newClient(t, Options{Allow: []string{"127.0.0.1"}, RootCAs: pool})
	if res, err := do(c, "GET", srv.URL); err != nil || string(res.Body) != "secure" {
		t.Errorf("trusted: %v", err)
	}
}

// fakeProxy is a forward HTTP proxy that records the requests it is asked
// to make and answers them itself.
func fakeProxy(t *testing.T) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var seen []string
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String())
		mu.Unlock()
		fmt.Fprint(w, "via proxy")
	}))
	t.Cleanup(p.Close)
	return p, &seen
}

// Through a proxy, the target is resolved and checked before the request
// is sent, and the proxy itself must be allowed.
func TestProxy(t *testing.T) {
	proxy, seen := fakeProxy(t)
	dns := names{"api.test": {"93.184.216.34"}, "inside.test": {"10.0.0.7"}, "mixed.test": {"93.184.216.34", "10.0.0.8"}}

	// The proxy listens on loopback: it must be named.
	c := newClient(t, Options{Proxy: proxy.URL, Resolver: dns.resolve})
	if _, err := do(c, "GET", "http://api.test/x"); err == nil || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address; not allowed by http_allow") {
		t.Errorf("unlisted proxy: %v", err)
	}
	c = newClient(t, Options{Allow: []string{"*", "127.0.0.1"}, Proxy: proxy.URL, Resolver: dns.resolve})
	if res, err := do(c, "GET", "http://api.test/x?q=1"); err != nil || string(res.Body) != "via proxy" {
		t.Fatalf("through the proxy: %v", err)
	}
	// Targets inside, by name (any of the addresses) or by address.
	for u, want := range map[string]string{
		"http://inside.test/":     "inside.test resolves to 10.0.0.7, a private address; not allowed by http_allow",
		"http://mixed.test/":      "mixed.test resolves to 10.0.0.8, a private address",
		"http://169.254.169.254/": "169.254.169.254 is a cloud metadata address",
		"http://nowhere.test/":    "no such host",
	} {
		if _, err := do(c, "GET", u); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s through the proxy: %v", u, err)
		}
	}
	if len(*seen) != 1 || (*seen)[0] != "GET http://api.test/x?q=1" {
		t.Errorf("the proxy saw %q", *seen)
	}

	if _, err := New(Options{Proxy: "ftp://proxy:21"}); err == nil || !strings.Contains(err.Error(), "http_proxy") {
		t.Errorf("ftp proxy: %v", err)
	}
	if _, err := New(Options{Proxy: "http://user:hunter2@"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("bad proxy URL: %v", err)
	}
}

// Without a proxy URL, the standard variables choose one. net/http reads
// them once per process, so this runs in a process of its own.
func TestProxyFromEnvironment(t *testing.T) {
	if os.Getenv("SAFEHTTP_PROXY_CHILD") == "1" {
		c := newClient(t, Options{Allow: []string{"*", "127.0.0.1"}, Resolver: names{"api.test": {"93.184.216.34"}}.resolve})
		res, err := do(c, "GET", "http://api.test/env")
		if err != nil || string(res.Body) != "via proxy" {
			t.Fatalf("HTTP_PROXY not used: %v", err)
		}
		return
	}
	proxy, seen := fakeProxy(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProxyFromEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(), "SAFEHTTP_PROXY_CHILD=1", "HTTP_PROXY="+proxy.URL, "http_proxy="+proxy.URL, "NO_PROXY=", "no_proxy=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if len(*seen) != 1 || (*seen)[0] != "GET http://api.test/env" {
		t.Errorf("the proxy saw %q", *seen)
	}
}

// Observe counts every request by host and status, 0 for no response.
func TestObserve(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	})
	var mu sync.Mutex
	var got []string
	c := newClient(t, Options{Allow: []string{"127.0.0.1", "api.test"}, Resolver: names{"api.test": {"127.0.0.1"}}.resolve,
		Observe: func(host string, status int) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %d", host, status))
			mu.Unlock()
		}})
	do(c, "GET", up.at("API.test", "/"))
	do(c, "GET", up.at("api.test", "/missing"))
	do(c, "GET", "http://10.0.0.1/")
	want := []string{"api.test 200", "api.test 404", "10.0.0.1 0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

// The Control hook is where the decision is made: it refuses an address
// whatever the resolution before it said.
func TestControlHook(t *testing.T) {
	c := newClient(t, Options{})
	for addr, want := range map[string]string{
		"10.0.0.1:80":           "10.0.0.1 is a private address",
		"[::1]:443":             "::1 is a loopback address",
		"[::ffff:10.0.0.1]:443": "(10.0.0.1) is a private address",
		"169.254.169.254:80":    "cloud metadata",
		"93.184.216.34:443":     "",
		"not-an-address:80":     "not an IP address",
	} {
		host, _, _ := net.SplitHostPort(addr)
		err := c.control(host)("tcp", addr, nil)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("control(%s) = %v, want %q", addr, err, want)
		}
	}
	// A name allowed by "*" whose address is special: refused at the
	// socket.
	if err := c.control("rebind.example")("tcp4", "127.0.0.1:80", nil); err == nil || !strings.Contains(err.Error(), "rebind.example resolves to 127.0.0.1") {
		t.Errorf("rebinding: %v", err)
	}
}

// A redirect from https to http is another site as far as credentials go,
// even on the same host: what the script sent encrypted is not sent again
// in the clear.
func TestDowngradeRedirectDropsCredentials(t *testing.T) {
	var seen http.Header
	plain := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() })
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/landed", http.StatusFound)
	}))
	defer secure.Close()
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	c := newClient(t, Options{Allow: []string{"127.0.0.1"}, RootCAs: pool})
	_, err := c.Do(context.Background(), &Request{URL: secure.URL + "/hop",
		Header: http.Header{"Authorization": {"Bearer K1"}, "X-Api-Key": {"K2"}, "Accept": {"text/plain"}}})
	if err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.Get("Authorization") != "" || seen.Get("X-Api-Key") != "" || seen.Get("Accept") != "text/plain" {
		t.Errorf("the plain http hop got %v", seen)
	}
}

// roundTripper is an http.RoundTripper made of a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A replaced Transport (luarobot test's fakes) carries every request, and
// nothing is looked up: not the target of a request whose Host header
// names another site either. No DNS query leaves a test.
func TestTransportLooksNothingUp(t *testing.T) {
	var lookups atomic.Int64
	var seen []string
	c := newClient(t, Options{
		Allow: []string{"api.example.com"},
		Resolver: func(ctx context.Context, host string) ([]netip.Addr, error) {
			lookups.Add(1)
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
			seen = append(seen, r.Host+" "+r.URL.String())
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("fake")), Request: r}, nil
		}),
	})
	res, err := c.Do(context.Background(), &Request{URL: "https://api.example.com/x", Header: http.Header{"Host": {"other.example"}}})
	if err != nil || string(res.Body) != "fake" {
		t.Fatalf("got %v, %v; want the fake's answer", res, err)
	}
	if n := lookups.Load(); n != 0 || len(seen) != 1 || seen[0] != "other.example https://api.example.com/x" {
		t.Errorf("%d lookups; the transport saw %q", n, seen)
	}
}
