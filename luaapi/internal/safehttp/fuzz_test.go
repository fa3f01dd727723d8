package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// designSpecial says whether a is in one of the ranges DESIGN.md names as
// never reached through a wildcard: 0/8, 127/8, 10/8, 172.16/12,
// 192.168/16, 169.254/16, 100.64/10, ::, ::1, fc00::/7, fe80::/10, an
// IPv4-mapped IPv6 address judged as its IPv4 address. Written with byte
// arithmetic, apart from the package's tables.
func designSpecial(a netip.Addr) bool {
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0, b[0] == 127, b[0] == 10:
			return true
		case b[0] == 172 && b[1]&0xf0 == 16:
			return true
		case b[0] == 192 && b[1] == 168, b[0] == 169 && b[1] == 254:
			return true
		case b[0] == 100 && b[1]&0xc0 == 64:
			return true
		}
		return false
	}
	b := a.As16()
	zero := true
	for _, x := range b[:15] {
		zero = zero && x == 0
	}
	switch {
	case zero && (b[15] == 0 || b[15] == 1):
		return true
	case b[0]&0xfe == 0xfc:
		return true
	case b[0] == 0xfe && b[1]&0xc0 == 0x80:
		return true
	}
	return false
}

// spellings are ways a URL, a resolver or the kernel may write a: the
// usual form, IPv4-mapped IPv6 (dotted and hex, full and bracketed),
// upper case, with a zone.
func spellings(a netip.Addr) []string {
	out := []string{a.String(), strings.ToUpper(a.String())}
	if a.Is4() {
		b := a.As4()
		out = append(out, "::ffff:"+a.String(), "0:0:0:0:0:ffff:"+a.String(), "::FFFF:"+a.String(),
			fmt.Sprintf("::ffff:%x:%x", uint16(b[0])<<8|uint16(b[1]), uint16(b[2])<<8|uint16(b[3])))
	} else {
		out = append(out, a.StringExpanded(), a.WithZone("eth0").String())
	}
	return out
}

// FuzzSpecialAddress: an address in one of DESIGN.md's special ranges is
// refused through "*" and through wildcards, however it is written — in
// the URL, by the resolver, by the kernel to the dial hook — and
// reached when http_allow names it (its IP, in any spelling, or a CIDR
// over it). Any other address is reached through "*".
func FuzzSpecialAddress(f *testing.F) {
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "172.31.255.255", "172.32.0.1", "192.168.0.1", "169.254.169.254",
		"100.64.0.1", "100.128.0.1", "0.0.0.0", "8.8.8.8", "::", "::1", "fd00::1", "fe80::1", "febf::1", "fec0::1",
		"2001:db8::1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:a00:1::", "::127.0.0.1"} {
		b := netip.MustParseAddr(a).AsSlice()
		f.Add(b, uint8(8))
	}
	f.Fuzz(func(t *testing.T, raw []byte, bits uint8) {
		var a netip.Addr
		switch len(raw) {
		case 4, 16:
			a, _ = netip.AddrFromSlice(raw)
		default:
			return
		}
		special := designSpecial(a)
		plain := a.Unmap()
		star := mustPolicy(t, "*")
		wild := mustPolicy(t, "*.example.com", "example.com")
		cidr := netip.PrefixFrom(plain, int(bits)%(plain.BitLen()+1)).Masked().String()
		byCIDR := mustPolicy(t, cidr)

		for _, s := range spellings(a) {
			// The URL's host, as the Transport hands it to the dial hook.
			u, err := url.Parse("http://" + net.JoinHostPort(s, "80") + "/")
			if err != nil {
				if strings.Contains(s, "%") {
					continue // a zone must be escaped in a URL; the resolver and kernel forms still count
				}
				t.Fatalf("%s: %v", s, err)
			}
			host := normalizeHost(u.Hostname())
			c := &Client{policy: star}
			addrs, err := c.lookup(context.Background(), host)
			if err != nil || len(addrs) != 1 || addrs[0].WithZone("").Unmap() != plain {
				t.Fatalf("lookup(%q) = %v, %v; want %v", host, addrs, err, plain)
			}
			for _, ap := range []string{netip.AddrPortFrom(addrs[0], 80).String(), net.JoinHostPort(s, "443")} {
				got := c.control(host)("tcp", ap, nil)
				if special && got == nil {
					t.Fatalf(`http_allow "*" lets the dial hook connect to %s (%s)`, ap, a)
				}
				if !special && SpecialClass(a) == "" && got != nil {
					t.Fatalf(`http_allow "*" refuses %s: %v`, ap, got)
				}
			}
			checkSpelling(t, star, host, s, a, special, `"*"`)
			checkSpelling(t, wild, "api.example.com", s, a, special, `"*.example.com"`)
			if err := byCIDR.Check("api.example.com", addrOf(t, s)); err != nil {
				t.Fatalf("http_allow %q refuses %s (%s): %v", cidr, s, a, err)
			}
			if err := mustPolicy(t, s).Check(host, addrOf(t, s)); err != nil && !strings.Contains(s, "%") {
				t.Fatalf("http_allow %q refuses %s itself: %v", s, a, err)
			}
		}
	})
}

func mustPolicy(t *testing.T, patterns ...string) *Policy {
	t.Helper()
	p, err := ParsePolicy(patterns)
	if err != nil {
		t.Fatalf("ParsePolicy(%q): %v", patterns, err)
	}
	return p
}

// addrOf reads a spelling as a resolver's answer would carry it.
func addrOf(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return a
}

// checkSpelling checks host reaching the spelling s of a under p.
func checkSpelling(t *testing.T, p *Policy, host, s string, a netip.Addr, special bool, what string) {
	t.Helper()
	err := p.Check(host, addrOf(t, s))
	var refused *RefusedError
	switch {
	case special && err == nil:
		t.Fatalf("http_allow %s lets %s reach %s (%s)", what, host, s, a)
	case special && (!errors.As(err, &refused) || !strings.Contains(err.Error(), "not allowed by http_allow")):
		t.Fatalf("refusing %s: the error %v does not say http_allow", s, err)
	}
}

// FuzzRedirect: a redirect, wherever its Location points, never carries
// the script's credentials (Authorization, Cookie, X-Api-Key) or its body
// to another site, is followed to http and https only, and stops after
// MaxRedirects. The upstream answers are canned (Options.Transport), so
// nothing leaves the test.
func FuzzRedirect(f *testing.F) {
	for _, s := range []struct {
		from, location string
		status         uint16
		body           bool
	}{
		{"https://api.example.com/a", "/b", 302, false},
		{"https://api.example.com/a", "https://evil.example.net/", 302, false},
		{"https://api.example.com/a", "http://api.example.com/", 301, false},
		{"https://api.example.com/a", "https://x.api.example.com/", 307, true},
		{"https://api.example.com/a", "//evil.example.net/x", 308, true},
		{"https://api.example.com/a", "https://api.example.com.evil.net/", 303, true},
		{"https://api.example.com/a", "https://API.EXAMPLE.COM./", 302, false},
		{"https://api.example.com/a", "ftp://api.example.com/", 302, false},
		{"https://api.example.com/a", "https://user:pw@evil.net:8443/", 302, false},
		{"https://api.example.com/a", "https://[::1]/", 302, false},
		{"http://10.0.0.1:8080/a", "\\\\evil.net/", 302, false},
		{"https://api.example.com/a", "https://evil.net%2f@api.example.com/", 302, false},
	} {
		f.Add(s.from, s.location, s.status, s.body)
	}
	f.Fuzz(func(t *testing.T, from, location string, status uint16, withBody bool) {
		first, err := url.Parse(from)
		if err != nil || (first.Scheme != "http" && first.Scheme != "https") || first.Host == "" || strings.ContainsAny(location, "\r\n\x00") {
			return
		}
		code := []int{301, 302, 303, 307, 308}[int(status)%5]
		var seen []*http.Request
		var bodies []string
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			b := ""
			if r.Body != nil {
				data, _ := io.ReadAll(r.Body)
				b = string(data)
			}
			seen = append(seen, r)
			bodies = append(bodies, b)
			h := http.Header{"Location": {location}}
			return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		})
		c, err := New(Options{Transport: rt, MaxRedirects: 3})
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{Method: "GET", URL: from, Header: http.Header{
			"Authorization": {"Bearer secret"}, "Cookie": {"s=secret"}, "X-Api-Key": {"secret"}, "Accept": {"*/*"}}}
		if withBody {
			req.Method, req.Body = "POST", []byte("secret body")
		}
		res, err := c.Do(context.Background(), req)
		if len(seen) == 0 {
			if err == nil {
				t.Fatalf("no request sent and no error")
			}
			return // a URL Go does not send
		}
		if len(seen) > 4 {
			t.Fatalf("%d requests: more than 3 redirects followed", len(seen))
		}
		if err == nil && res.Status/100 != 3 {
			t.Fatalf("status %d", res.Status)
		}
		if err != nil && !strings.HasPrefix(err.Error(), req.Method+" ") {
			t.Fatalf("error %q does not name the request", err)
		}
		for i, r := range seen[1:] {
			if r.URL.Scheme != "http" && r.URL.Scheme != "https" {
				t.Fatalf("redirect %d followed to %s", i+1, r.URL)
			}
			// The site is the first request's as sent (Go drops an empty
			// port: "http://::" goes to host ":").
			if sameSiteOracle(seen[0].URL, r.URL) {
				continue
			}
			for _, h := range []string{"Authorization", "Cookie", "X-Api-Key"} {
				// (A Location with user:password@ gets Go's own Basic
				// Authorization: the redirecting server's, not the script's.)
				if strings.Contains(r.Header.Get(h), "secret") {
					t.Fatalf("%s sent to %s after a redirect from %s (Location %q)", h, r.URL, from, location)
				}
			}
			if strings.Contains(bodies[i+1], "secret") {
				t.Fatalf("the body went to %s after a redirect from %s (Location %q)", r.URL, from, location)
			}
		}
	})
}

// sameSiteOracle: to is the first URL's host (any case, with or without
// a final dot) or a subdomain of it, and not http after https.
func sameSiteOracle(from, to *url.URL) bool {
	if from.Scheme == "https" && to.Scheme != "https" {
		return false
	}
	f := strings.TrimSuffix(strings.ToLower(from.Hostname()), ".")
	h := strings.TrimSuffix(strings.ToLower(to.Hostname()), ".")
	return h == f || strings.HasSuffix(h, "."+f)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
