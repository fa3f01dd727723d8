package simulate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
)

// VerifyError is a failed URL check, with what to do about it.
type VerifyError struct {
	URL    string
	Status int    // the HTTP status, 0 when no response came
	Msg    string // what happened
	Hint   string // what to fix, "" when there is nothing to add
	Err    error  // the transport error, if any
}

func (e *VerifyError) Error() string {
	s := e.Msg
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Verify performs the URL check of WeChat's admin console (a signed GET
// whose echostr the bot must echo) as WeChat does it, redirects not
// followed, and says why it fails in terms of what to fix: a redirect, a
// wrong path, a token that differs, a certificate WeChat will not accept, a
// host that is not running. The error is a *VerifyError.
func (s *Simulator) Verify(ctx context.Context) error {
	q := s.signedQuery()
	echostr := "luarobot" + q.Get("nonce")
	q.Set("echostr", echostr)
	target := s.target(q)
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return &VerifyError{URL: s.opts.URL, Msg: err.Error(), Err: err}
	}
	// WeChat does not follow redirects: neither does the check.
	c := *s.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		return s.transportError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &VerifyError{URL: s.opts.URL, Status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusOK && string(body) == echostr:
		return nil
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		loc := resp.Header.Get("Location")
		e.Msg = fmt.Sprintf("%s answers %d, a redirect to %s", s.opts.URL, resp.StatusCode, loc)
		e.Hint = "WeChat does not follow redirects; give the URL it redirects to"
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			u.RawQuery = ""
			e.Hint += " (" + u.String() + ")"
		}
		e.Hint += " in the console and public_url"
	case resp.StatusCode == http.StatusForbidden:
		e.Msg = fmt.Sprintf("%s refused the signature (HTTP 403)", s.opts.URL)
		e.Hint = TokenHint
		if why, hint := forbiddenReason(body); hint != "" {
			e.Msg = fmt.Sprintf("%s refused the request (HTTP 403: %s)", s.opts.URL, why)
			e.Hint = hint
		}
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		e.Msg = fmt.Sprintf("%s answers HTTP %d", s.opts.URL, resp.StatusCode)
		e.Hint = "nothing serves the bot at this path: the URL's path must be the host's path setting (default /), and a proxy in front must pass it on"
	case resp.StatusCode == http.StatusOK:
		e.Msg = fmt.Sprintf("%s answers 200 but not the echostr (%s)", s.opts.URL, snippet(body))
		e.Hint = "something other than the bot answers this URL (a web server's page, a proxy's default site)"
	default:
		e.Msg = fmt.Sprintf("%s answers HTTP %d (%s)", s.opts.URL, resp.StatusCode, snippet(body))
		if resp.StatusCode >= 500 {
			e.Hint = "the server behind the URL fails; is luarobot running behind the proxy?"
		}
	}
	return e
}

// TokenHint explains a refused signature.
const TokenHint = "the token used here probably differs from the host's (token in luarobot.toml, LUAROBOT_TOKEN or --token; a host started without one prints its generated token at start-up)"

// CallbackIPHint and PlaintextHint explain the host's 403s that are not
// about the signature.
const (
	CallbackIPHint = "the host's callback_ips do not include this machine's address (as the host sees it, through trusted_proxies): add it there, or run this from an address they include"
	PlaintextHint  = "the host takes encrypted messages only (accept_plaintext = false): give this command the host's encoding_aes_key and app_id"
)

// forbiddenReason reads a 403's body: LuaRoBot answers a bad signature or
// timestamp with an HTML page, and its other refusals with their reason in
// plain text (host/callers.go, host/replay.go). It returns that reason and
// its hint, or "" when the 403 is (or may be) about the signature.
func forbiddenReason(body []byte) (why, hint string) {
	text := strings.TrimSpace(string(body))
	switch {
	case strings.HasPrefix(text, "forbidden: this address may not call the bot"):
		return text, CallbackIPHint
	case strings.Contains(text, "accept_plaintext is false"):
		return text, PlaintextHint
	}
	return "", ""
}

// AESKeyHint explains an encrypted message the host could not read, and
// NoAESKeyHint one sent to a host without a key.
const (
	AESKeyHint   = "the encoding_aes_key (or app_id) used here probably differs from the host's"
	NoAESKeyHint = "the host has no encoding_aes_key (明文模式): leave it out here too, or give the host the same one"
)

// transportError explains a request that got no response.
func (s *Simulator) transportError(err error) *VerifyError {
	e := &VerifyError{URL: s.opts.URL, Err: err, Msg: err.Error()}
	host := s.opts.URL
	if u, perr := url.Parse(s.opts.URL); perr == nil {
		host = u.Host
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		recordErr tls.RecordHeaderError
		dnsErr    *net.DNSError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Msg = fmt.Sprintf("nothing listens at %s (connection refused)", host)
		e.Hint = "is luarobot serve running there? It listens on host:port from its configuration"
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = fmt.Sprintf("%s did not answer within %s", s.opts.URL, s.opts.Timeout)
		e.Hint = "WeChat gives up after 5s too; a firewall may drop the connection"
	case errors.As(err, &unknownCA):
		e.Msg = fmt.Sprintf("TLS: the certificate of %s is not signed by a known authority", host)
		e.Hint = "WeChat needs a certificate from a public CA (Let's Encrypt will do), not a self-signed one"
	case errors.As(err, &hostname):
		e.Msg = fmt.Sprintf("TLS: the certificate of %s is not valid for that name (%v)", host, hostname.Error())
		e.Hint = "the certificate must name the URL's host"
	case errors.As(err, &invalid):
		e.Msg = fmt.Sprintf("TLS: the certificate of %s is not valid (%v)", host, invalid.Error())
		e.Hint = "renew or replace the certificate"
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		// (net/http reports an HTTP answer to a TLS hello as text only.)
		e.Msg = fmt.Sprintf("TLS: %s does not speak TLS on that port", host)
		e.Hint = "use http:// for a plain port, or point https:// at the TLS port"
	case errors.As(err, &dnsErr):
		e.Msg = fmt.Sprintf("cannot resolve %s (%v)", host, dnsErr.Err)
		e.Hint = "check the URL's host name and its DNS record"
	}
	return e
}

// Explain says what a failed delivery probably means, "" when it is not a
// failure with a known cause: a 403 is a token that differs, a 400 of an
// encrypted message an AES key that does, a refused connection a host that
// does not run.
func (s *Simulator) Explain(d Delivery) string {
	switch {
	case d.Err != nil && d.Status == 0:
		if e := s.transportError(d.Err); e.Hint != "" {
			return e.Error()
		}
		return ""
	case d.Status == http.StatusForbidden:
		if _, hint := forbiddenReason(d.Body); hint != "" {
			return hint
		}
		return TokenHint
	case d.Status == http.StatusBadRequest && s.cipher != nil:
		if strings.Contains(string(d.Body), "encoding_aes_key is not configured") {
			return NoAESKeyHint
		}
		return AESKeyHint
	case d.Status == http.StatusNotFound || d.Status == http.StatusMethodNotAllowed:
		return "nothing serves the bot at this URL's path: check the host's path setting and --url"
	case d.Status == http.StatusRequestEntityTooLarge:
		return "the message is over the host's max_body"
	}
	return ""
}

// snippet is the start of a body, for messages.
func snippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	if s == "" {
		return "empty body"
	}
	return fmt.Sprintf("%q", s)
}
