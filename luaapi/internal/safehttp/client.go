// Package safehttp is the HTTP client behind robot.http: it sends a
// script's request only where the operator allows (http_allow), checks
// every address it dials, and bounds what comes back.
//
//	c, err := safehttp.New(safehttp.Options{Allow: []string{"*"}})
//	res, err := c.Do(ctx, &safehttp.Request{Method: "GET", URL: "https://api.example.com/weather"})
//
// Where a request may go is decided on the address actually dialled, by a
// net.Dialer Control hook, after DNS and for every redirect: a name that
// resolves to a loopback, private, link-local or metadata address is
// refused unless the operator named it (see Policy), so DNS tricks and
// redirects do not reach the host's own network. Through a proxy, which
// resolves names itself, the target is resolved and checked before the
// request is sent, and the proxy is dialled under the same rules.
//
// What comes back is bounded: a body over MaxBody is an error, at most
// MaxRedirects redirects are followed (to another site without the
// script's credentials: see checkRedirect), TLS certificates are verified.
// Errors read "GET https://api.example.com/weather: dial tcp: connection
// refused": the URL without its query or password, which may hold keys.
package safehttp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configures a Client.
type Options struct {
	// Allow is the http_allow list (see Policy); nil means "*".
	Allow []string
	// Proxy is the proxy URL (http, https or socks5); empty means the
	// standard variables HTTPS_PROXY, HTTP_PROXY and NO_PROXY.
	Proxy string
	// MaxBody is the largest response body (default 4 MiB).
	MaxBody int64
	// MaxRedirects is how many redirects are followed (default 5).
	MaxRedirects int
	// Timeout is a request's timeout when it sets none (default 10s).
	Timeout time.Duration
	// Resolver looks host names up (default: the system's DNS). Tests map
	// names to the addresses they need with it.
	Resolver func(ctx context.Context, host string) ([]netip.Addr, error)
	// RootCAs are the certificate authorities TLS trusts (default: the
	// system's).
	RootCAs *x509.CertPool
	// Observe, when set, is called once per request with the URL's host
	// and the response status, 0 when there was no response (refused,
	// transport error, timeout): the hook for request metrics.
	Observe func(host string, status int)
	// UserAgent is sent when the request sets none (default "LuaRoBot").
	UserAgent string
	// Transport, when set, carries the requests instead of the guarded
	// transport: no address is dialled, so Allow, Proxy, Resolver and
	// RootCAs do not apply (a test harness answers with fakes). The
	// request checks, the body cap and the redirect limit still do.
	Transport http.RoundTripper
}

// Client sends requests under a Policy. It is safe for concurrent use.
type Client struct {
	policy    *Policy
	http      *http.Client
	transport *http.Transport
	resolve   func(ctx context.Context, host string) ([]netip.Addr, error)
	proxyFor  func(*http.Request) (*url.URL, error)
	maxBody   int64
	redirects int
	timeout   time.Duration
	observe   func(host string, status int)
	userAgent string
	// faked: Options.Transport carries the requests; nothing is looked
	// up or dialled.
	faked bool
}

// New returns a Client; it fails on a bad Allow pattern or proxy URL.
func New(opts Options) (*Client, error) {
	allow := opts.Allow
	if allow == nil {
		allow = []string{"*"}
	}
	policy, err := ParsePolicy(allow)
	if err != nil {
		return nil, err
	}
	c := &Client{
		policy:    policy,
		resolve:   opts.Resolver,
		maxBody:   cmp.Or(opts.MaxBody, 4<<20),
		redirects: cmp.Or(opts.MaxRedirects, 5),
		timeout:   cmp.Or(opts.Timeout, 10*time.Second),
		observe:   opts.Observe,
		userAgent: cmp.Or(opts.UserAgent, "LuaRoBot"),
	}
	if c.resolve == nil {
		c.resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if opts.Proxy != "" {
		u, err := url.Parse(opts.Proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("http_proxy: %q is not a proxy URL such as http://10.0.0.1:3128", redactProxy(opts.Proxy))
		}
		switch u.Scheme {
		case "http", "https", "socks5", "socks5h":
		default:
			return nil, fmt.Errorf("http_proxy: %q: the scheme must be http, https or socks5", redactProxy(opts.Proxy))
		}
		c.proxyFor = http.ProxyURL(u)
	} else {
		c.proxyFor = http.ProxyFromEnvironment
	}
	c.transport = &http.Transport{
		Proxy:                  c.proxy,
		DialContext:            c.dial,
		ForceAttemptHTTP2:      true, // a custom DialContext turns HTTP/2 off otherwise
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    16,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
	}
	c.http = &http.Client{Transport: c.transport, CheckRedirect: c.checkRedirect}
	if opts.Transport != nil {
		c.http.Transport = opts.Transport
		c.faked = true
	}
	return c, nil
}

// Close closes the idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Request is one request. Body is sent as is; the caller sets its
// Content-Type.
type Request struct {
	Method  string
	URL     string
	Query   url.Values // added to the URL's own query
	Header  http.Header
	Body    []byte
	Timeout time.Duration // 0: the Client's
}

// Response is a response read in full. Header keeps Go's canonical names.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// methods are the methods a request may use. CONNECT and TRACE are left
// out: a script has no use for a tunnel or an echo of its own headers.
var methods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}

// Do sends r and reads the whole response. A non-2xx status is a response,
// not an error. Every error is an *Error: "METHOD URL: cause".
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	method := strings.ToUpper(cmp.Or(r.Method, "GET"))
	req, err := c.newRequest(ctx, method, r)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(r.Timeout, c.timeout)
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, &timeoutError{timeout})
	defer cancel()
	req = req.WithContext(ctx)
	host := normalizeHost(req.URL.Hostname())

	err = c.checkHostHeader(ctx, req)
	var res *Response
	if err == nil {
		res, err = c.send(ctx, req)
	}
	status := 0
	if res != nil {
		status = res.Status
	}
	if c.observe != nil {
		c.observe(host, status)
	}
	if err != nil {
		return nil, &Error{Method: method, URL: Redact(req.URL), Err: err}
	}
	return res, nil
}

// newRequest checks r and builds its http.Request.
func (c *Client) newRequest(ctx context.Context, method string, r *Request) (*http.Request, error) {
	fail := func(shown string, err error) (*http.Request, error) {
		return nil, &Error{Method: method, URL: shown, Err: err}
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(redactText(r.URL), fmt.Errorf("not a URL: %w", err))
	}
	shown := Redact(u)
	if u.Scheme == "" || u.Opaque != "" {
		shown = redactText(r.URL) // not a URL Redact can show
	}
	if !methods[method] {
		return fail(shown, fmt.Errorf("method %q is not supported (want GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)", method))
	}
	switch u.Scheme {
	case "http", "https":
	case "":
		return fail(shown, errors.New("the URL has no scheme: it starts with http:// or https://"))
	default:
		return fail(shown, fmt.Errorf("only http and https URLs can be fetched, not %s:", u.Scheme))
	}
	if u.Host == "" {
		return fail(shown, errors.New("the URL has no host"))
	}
	if len(r.Query) > 0 {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += r.Query.Encode()
	}
	for name, values := range r.Header {
		if err := checkHeader(name, values); err != nil {
			return fail(shown, err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		return fail(shown, err)
	}
	if len(r.Body) == 0 {
		req.Body, req.GetBody, req.ContentLength = nil, nil, 0
	}
	for name, values := range r.Header {
		if http.CanonicalHeaderKey(name) == "Host" {
			req.Host = values[len(values)-1]
			continue
		}
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, nil
}

// checkHostHeader refuses a Host header that names a host http_allow does
// not let a request reach at the addresses of the URL's host. The server
// at an address picks its virtual host by this header: without the check,
// a script allowed one internal host by its exact name would reach every
// other virtual host of that server by setting Host, names http_allow
// never lists. A virtual host on an address allowed by IP or CIDR stays
// reachable, and under "*" any name passes where the address is public.
func (c *Client) checkHostHeader(ctx context.Context, req *http.Request) error {
	// With a replaced Transport the policy does not apply, and the lookup
	// would be a DNS query leaving a test.
	if req.Host == "" || c.faked {
		return nil
	}
	name := normalizeHost((&url.URL{Host: req.Host}).Hostname())
	target := normalizeHost(req.URL.Hostname())
	if name == target {
		return nil
	}
	addrs, err := c.lookup(ctx, target)
	if err != nil {
		return c.cause(ctx, req.URL, err)
	}
	for _, a := range addrs {
		if err := c.policy.Check(name, a); err != nil {
			where := a.WithZone("").Unmap().String()
			if class := SpecialClass(a); class != "" {
				where += " (" + class + ")"
			}
			return &opError{fmt.Sprintf("the Host header %q is not allowed by http_allow at %s's address %s", req.Host, target, where), err}
		}
	}
	return nil
}

// send runs req and reads its body under the bounds.
func (c *Client) send(ctx context.Context, req *http.Request) (*Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.cause(ctx, req.URL, err)
	}
	defer resp.Body.Close()
	res := &Response{Status: resp.StatusCode, Header: resp.Header}
	if resp.ContentLength > c.maxBody {
		return res, c.tooLarge()
	}
	res.Body, err = io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return res, fmt.Errorf("reading the body: %w", c.cause(ctx, req.URL, err))
	}
	if int64(len(res.Body)) > c.maxBody {
		return res, c.tooLarge()
	}
	return res, nil
}

func (c *Client) tooLarge() error {
	return fmt.Errorf("the response body is over %d bytes (http_max_body)", c.maxBody)
}

// timeoutError is the cause of a request stopped by its own timeout.
type timeoutError struct{ d time.Duration }

func (e *timeoutError) Error() string { return "timed out after " + e.d.String() }
func (e *timeoutError) Timeout() bool { return true }

// Error is the error of a request.
type Error struct {
	Method string
	URL    string // without query, fragment or password (see Redact)
	Err    error
}

func (e *Error) Error() string { return e.Method + " " + e.URL + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// cause turns the error of http.Client.Do (or of reading a body) into the
// cause an Error shows: what went wrong, without the layers of wrapping
// that repeat the URL with its query ("Get \"https://x/?key=...\": dial
// tcp 1.2.3.4:443: connect: connection refused" becomes "dial tcp:
// connection refused"), and "timed out after 3s" for a timeout.
func (c *Client) cause(ctx context.Context, requested *url.URL, err error) error {
	var prefix string
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
		if u, perr := url.Parse(ue.URL); perr == nil && Redact(u) != Redact(requested) {
			prefix = "redirected to " + Redact(u) + ": "
		}
	}
	var refused *RefusedError
	var op *net.OpError
	switch {
	case errors.As(err, &refused):
		err = refused
	case ctx.Err() != nil:
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
	case errors.As(err, &op) && op.Op == "dial":
		inner := op.Err
		var sys *os.SyscallError
		if errors.As(inner, &sys) {
			inner = sys.Err
		}
		err = &opError{"dial " + op.Net + ": " + inner.Error(), op}
	}
	if prefix != "" {
		return &opError{prefix + err.Error(), err}
	}
	return err
}

// opError is an error shown with a shorter text than the one it wraps.
type opError struct {
	text string
	err  error
}

func (e *opError) Error() string { return e.text }
func (e *opError) Unwrap() error { return e.err }

// checkRedirect follows at most c.redirects redirects, to http(s) only.
//
// A redirect to another site (not the first URL's host or a subdomain of
// it, Go's own rule for Authorization and Cookie; nor http after https)
// carries none of the
// script's credentials: the headers it set go along only when they are in
// redirectHeaders, and a redirect that would send the body again (307,
// 308) is an error. The script put its key in a header (X-Api-Key,
// api-key) or in the body for the host it called, not for wherever that
// host sends it on.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.redirects {
		return fmt.Errorf("stopped after %d redirects", c.redirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return errors.New("only redirects to http and https URLs are followed")
	}
	if sameSite(via[0].URL, req.URL) {
		return nil
	}
	if req.GetBody != nil && req.ContentLength != 0 {
		return errors.New("the request body is not sent again to another site")
	}
	for name := range req.Header {
		if !redirectHeaders[http.CanonicalHeaderKey(name)] {
			delete(req.Header, name)
		}
	}
	return nil
}

// redirectHeaders are the headers a redirect to another site keeps: none
// of them carries a credential.
var redirectHeaders = map[string]bool{
	"Accept": true, "Accept-Language": true, "Cache-Control": true, "Content-Type": true,
	"Referer": true, "User-Agent": true,
}

// sameSite reports whether to is on the host of from or a subdomain of it,
// and not plain http where from was https: what went encrypted is not sent
// again in the clear.
func sameSite(from, to *url.URL) bool {
	if from.Scheme == "https" && to.Scheme != "https" {
		return false
	}
	f, t := normalizeHost(from.Hostname()), normalizeHost(to.Hostname())
	return t == f || strings.HasSuffix(t, "."+f)
}

// proxy is the Transport's Proxy: the proxy for req, if any. A proxy
// resolves the target itself, where the dial hook cannot see it: so the
// target is resolved and checked here first, every address of it.
func (c *Client) proxy(req *http.Request) (*url.URL, error) {
	u, err := c.proxyFor(req)
	if err != nil || u == nil {
		return u, err
	}
	host := normalizeHost(req.URL.Hostname())
	addrs, err := c.lookup(req.Context(), host)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if err := c.policy.Check(host, a); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// lookup returns the addresses of host: itself for an IP literal, else
// what the resolver says, if the policy may allow the name at all.
func (c *Client) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	if !c.policy.mayReach(host) {
		return nil, &RefusedError{Host: host}
	}
	addrs, err := c.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

// dial is the Transport's DialContext, for the target or the proxy: it
// resolves the host and dials its addresses in turn, with a Control hook
// that checks each address as the socket is about to connect to it — the
// decision is made on what is really dialled, and only there.
func (c *Client) dial(ctx context.Context, network, address string) (net.Conn, error) {
	h, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portText)
	}
	host := normalizeHost(h)
	addrs, err := c.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Control: c.control(host)}
	var refused, failed error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		var r *RefusedError
		if errors.As(err, &r) {
			refused = cmp.Or(refused, error(r))
			continue
		}
		failed = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, cmp.Or(failed, refused)
}

// control is the dialer's Control hook for host: it refuses a socket
// about to connect to an address the policy does not allow.
func (c *Client) control(host string) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("dialling %q: not an IP address and port", address)
		}
		return c.policy.Check(host, ap.Addr())
	}
}

// Redact shows u without what may hold a key: the password, the query
// and the fragment.
func Redact(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	if v.Path == "" {
		v.Path = "/"
	}
	if u.User != nil {
		v.User = url.User(u.User.Username())
	}
	return v.String()
}

// redactText shows a string that is not a URL Redact can show: cut at its
// query and fragment, without what comes before an '@' in its host part
// (a user and password: "http://...@host:badport/"), and at 200 bytes.
func redactText(s string) string {
	s, _, _ = strings.Cut(s, "?")
	s, _, _ = strings.Cut(s, "#")
	start := 0 // where the host part starts: after "//", else after the scheme's ':'
	if i := strings.Index(s, "//"); i >= 0 {
		start = i + 2
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		start = i + 1
	}
	end := len(s)
	if i := strings.IndexByte(s[start:], '/'); i >= 0 {
		end = start + i
	}
	if at := strings.LastIndexByte(s[start:end], '@'); at >= 0 {
		s = s[:start] + "..." + s[start+at:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// redactProxy shows a proxy URL without its password.
func redactProxy(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}

// checkHeader refuses a header a request must not carry: a name that is
// not an HTTP token, or a value with a line break or another control
// character, which would start a header (or a request) of its own.
func checkHeader(name string, values []string) error {
	if name == "" {
		return errors.New("a header has an empty name")
	}
	for i := 0; i < len(name); i++ {
		if !isTokenByte(name[i]) {
			return fmt.Errorf("header %q: the name has %q, which a header name cannot hold", name, name[i])
		}
	}
	for _, v := range values {
		for i := 0; i < len(v); i++ {
			switch b := v[i]; {
			case b == '\r' || b == '\n':
				return fmt.Errorf("header %q: the value has a line break (CR or LF), which a header value cannot hold", name)
			case b < ' ' && b != '\t' || b == 0x7f:
				return fmt.Errorf("header %q: the value has the control character %q, which a header value cannot hold", name, b)
			}
		}
	}
	return nil
}

// isTokenByte reports whether b may appear in a header name (RFC 9110's
// tchar).
func isTokenByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}
