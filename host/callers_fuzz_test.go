package host_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host"
)

// fuzzTrusted are the proxies FuzzCaller's host believes.
var fuzzTrusted = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48"}

func isFuzzTrusted(a netip.Addr) bool {
	for _, p := range fuzzTrusted {
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			pre = netip.PrefixFrom(netip.MustParseAddr(p), 32)
		}
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// fuzzClient is the address a fuzz input stands for: IPv4 from 4 bytes,
// IPv6 from 16, else a fixed one; never a trusted proxy (a proxy's own
// requests are not what the property is about).
func fuzzClient(b []byte) netip.Addr {
	a := netip.MustParseAddr("198.51.100.7")
	switch {
	case len(b) >= 16:
		a = netip.AddrFrom16([16]byte(b[:16])).Unmap()
	case len(b) >= 4:
		a = netip.AddrFrom4([4]byte(b[:4]))
	}
	if isFuzzTrusted(a) {
		return netip.MustParseAddr("198.51.100.7")
	}
	return a
}

// FuzzCaller: whatever a client writes into X-Forwarded-For and
// X-Real-IP, the host never believes an address other than the client's
// own. The client talks to a chain of trusted proxies that forward in one
// of the ways proxies do (append to X-Forwarded-For; set X-Real-IP and
// pass X-Forwarded-For on; both); the host sees the last proxy as peer.
// Caller then names the client or nobody (the zero Addr, refused), and
// names the client when the client sent no forwarding header of its own.
// A request from an untrusted peer is that peer, whatever its headers say.
func FuzzCaller(f *testing.F) {
	f.Add([]byte{203, 0, 113, 7}, uint8(0), "", "", false)
	f.Add([]byte{203, 0, 113, 7}, uint8(1), "", "", false)
	f.Add([]byte{203, 0, 113, 7}, uint8(2), "", "", false)
	f.Add([]byte{203, 0, 113, 7}, uint8(4), "203.0.113.9", "", false)
	f.Add([]byte{198, 51, 100, 1}, uint8(0), "203.0.113.9, 10.0.0.1", "203.0.113.9", true)
	f.Add([]byte{198, 51, 100, 1}, uint8(5), "192.0.2.1\n10.1.2.3", "", true)
	f.Add([]byte{198, 51, 100, 1}, uint8(1), "[::ffff:203.0.113.9]:80,", "::ffff:198.51.100.1", true)
	f.Add([]byte{32, 1, 13, 184, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(6), "fe80::1%eth0", "2001:db8:ffff::9", true)
	f.Add([]byte{1, 2, 3, 4}, uint8(9), " , ,", "1.2.3.4:80", true)

	callers, err := host.NewCallers(context.Background(), host.CallersOptions{
		Allow: []string{"0.0.0.0/0", "::/0"}, TrustedProxies: fuzzTrusted})
	if err != nil {
		f.Fatal(err)
	}
	proxies := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:ffff::1")}

	f.Fuzz(func(t *testing.T, clientBytes []byte, mode uint8, xff, realIP string, sendRealIP bool) {
		client := fuzzClient(clientBytes)
		// What the client sends: X-Forwarded-For lines (one per line of
		// xff; none when xff is empty) and perhaps an X-Real-IP.
		var xffLines []string
		if xff != "" {
			xffLines = strings.Split(xff, "\n")
		}
		// Which header names the client, as the nearest proxy writes it.
		style := mode % 3 // 0: append X-Forwarded-For; 1: set X-Real-IP; 2: both
		hops := 1 + int(mode/3)%3

		r, _ := http.NewRequest("POST", "/", nil)
		for _, l := range xffLines {
			r.Header.Add("X-Forwarded-For", l)
		}
		if sendRealIP {
			r.Header.Set("X-Real-IP", realIP)
		}
		from := client.String()
		for i := 0; i < hops; i++ {
			// Each proxy appends the address it was called from (nginx's
			// $proxy_add_x_forwarded_for, Go's ReverseProxy); the first
			// also sets X-Real-IP in styles 1 and 2.
			if i > 0 || style != 1 {
				prior := r.Header.Values("X-Forwarded-For")
				if len(prior) > 0 {
					r.Header.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+from)
				} else {
					r.Header.Set("X-Forwarded-For", from)
				}
			}
			if i == 0 && style != 0 {
				r.Header.Set("X-Real-IP", from)
			}
			from = proxies[(int(mode)+i)%len(proxies)].String()
		}
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(from), 40000).String()

		got := callers.Caller(r)
		if got.IsValid() && got != client {
			t.Fatalf("the host believes %v; the client is %v\nX-Forwarded-For: %q\nX-Real-IP: %q",
				got, client, r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Real-IP"))
		}
		if !got.IsValid() && len(xffLines) == 0 && !sendRealIP {
			t.Fatalf("a client that sent no forwarding header is not recognised (%v)\nX-Forwarded-For: %q\nX-Real-IP: %q",
				client, r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Real-IP"))
		}
		if got.IsValid() != callers.Allowed(got) {
			t.Fatalf("Allowed(%v) = %v with callback_ips 0.0.0.0/0 and ::/0", got, callers.Allowed(got))
		}

		// The same headers from an untrusted peer: the peer, nothing else.
		r.RemoteAddr = netip.AddrPortFrom(client, 5000).String()
		if got := callers.Caller(r); got != client {
			t.Fatalf("an untrusted peer %v is taken for %v (X-Forwarded-For %q, X-Real-IP %q)",
				client, got, r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Real-IP"))
		}
	})
}
