package safehttp

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy is a parsed http_allow list: where requests may go.
//
// An address A, reached for the host H of a URL (a name, or an IP
// literal), is allowed when
//   - an IP or CIDR pattern covers A; or
//   - a name pattern is H itself (an exact name: "api.example.com"); or
//   - A is not a special address (loopback, private, link-local, cloud
//     metadata, ...: see specialRanges) and "*" or a "*.example.com"
//     wildcard matches H.
//
// So a special address is only reached when the operator named it (its IP,
// a CIDR over it, or the exact host name that resolves to it), never
// through a wildcard, and whatever a DNS answer says.
type Policy struct {
	any      bool            // "*"
	names    map[string]bool // exact host names, lower-case
	suffixes []string        // ".example.com" of "*.example.com"
	prefixes []netip.Prefix  // IPs (as /32 or /128) and CIDRs
}

// ParsePolicy reads http_allow patterns: "*", "api.example.com",
// "*.example.com", "10.1.2.3", "10.0.0.0/8", "fd00::/8". An empty list
// allows nothing.
func ParsePolicy(patterns []string) (*Policy, error) {
	p := &Policy{names: make(map[string]bool)}
	for _, raw := range patterns {
		pat := strings.TrimSpace(raw)
		switch {
		case pat == "*":
			p.any = true
		case strings.Contains(pat, "/"):
			pre, err := netip.ParsePrefix(pat)
			if err != nil {
				return nil, fmt.Errorf("http_allow: %q is not a valid CIDR", raw)
			}
			pre = netip.PrefixFrom(pre.Addr().Unmap(), unmappedBits(pre)).Masked()
			p.prefixes = append(p.prefixes, pre)
		case isIPLiteral(pat):
			a, err := netip.ParseAddr(strings.Trim(pat, "[]"))
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("http_allow: %q is not a valid IP address", raw)
			}
			a = a.Unmap()
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
		default:
			name := normalizeHost(pat)
			wild := strings.HasPrefix(name, "*.")
			base := strings.TrimPrefix(name, "*.")
			if base == "" || strings.ContainsAny(base, "*/:@ \t") || strings.HasPrefix(base, ".") {
				return nil, fmt.Errorf(`http_allow: %q is not a host pattern (want "api.example.com", "*.example.com", an IP address or a CIDR)`, raw)
			}
			if wild {
				p.suffixes = append(p.suffixes, "."+base)
			} else {
				p.names[name] = true
			}
		}
	}
	return p, nil
}

// unmappedBits is the length of pre once its address is unmapped: an
// IPv4-mapped CIDR (::ffff:10.0.0.0/104) covers the IPv4 addresses it maps.
func unmappedBits(pre netip.Prefix) int {
	if pre.Addr().Is4In6() {
		return max(pre.Bits()-96, 0)
	}
	return pre.Bits()
}

// isIPLiteral says whether s looks like an IP address rather than a name.
func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil || strings.Contains(s, ":")
}

// normalizeHost lower-cases a host name and drops a trailing dot, so that
// "API.Example.com." and "api.example.com" are one host.
func normalizeHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// mayReach says whether host, a name, can be allowed at all, whatever it
// resolves to: a name no pattern can allow is refused before any DNS
// lookup, so the resolver is not asked about it.
func (p *Policy) mayReach(host string) bool {
	return p.any || len(p.prefixes) > 0 || p.names[host] || p.wildcardMatches(host)
}

func (p *Policy) wildcardMatches(host string) bool {
	for _, s := range p.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

func (p *Policy) coveredByIP(a netip.Addr) bool {
	for _, pre := range p.prefixes {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

// Check returns nil when addr may be dialled for host (normalised, see
// normalizeHost), and a *RefusedError saying why not otherwise.
func (p *Policy) Check(host string, addr netip.Addr) error {
	addr = addr.WithZone("").Unmap()
	if p.coveredByIP(addr) || p.names[host] {
		return nil
	}
	_, err := netip.ParseAddr(host)
	literal := err == nil
	if class := SpecialClass(addr); class != "" {
		return &RefusedError{Host: host, Addr: addr, Class: class, literal: literal}
	}
	if p.any || (!literal && p.wildcardMatches(host)) {
		return nil
	}
	return &RefusedError{Host: host, Addr: addr, literal: literal}
}

// RefusedError is the error of a request http_allow does not let through.
type RefusedError struct {
	Host  string     // the URL's host (a name or an IP literal)
	Addr  netip.Addr // the address refused; invalid when the name alone was refused
	Class string     // "a private address", ...; empty for an ordinary address

	literal bool // Host is an IP address, not a name
}

func (e *RefusedError) Error() string {
	if !e.Addr.IsValid() {
		return e.Host + " is not allowed by http_allow"
	}
	subject := e.Host + " (" + e.Addr.String() + ")"
	if e.literal && e.Host == e.Addr.String() {
		subject = e.Host
	}
	switch {
	case e.Class == "":
		return subject + " is not allowed by http_allow"
	case e.literal:
		return subject + " is " + e.Class + "; not allowed by http_allow"
	default:
		return e.Host + " resolves to " + e.Addr.String() + ", " + e.Class + "; not allowed by http_allow"
	}
}

// specialRanges are the addresses a wildcard never reaches: this host,
// its networks, cloud metadata services, and what is not unicast at all.
// More specific ranges come first, so that 169.254.169.254 is named as
// what it is.
var specialRanges = func() []specialRange {
	list := []struct{ cidr, class string }{
		{"169.254.169.254/32", "a cloud metadata address"},
		{"100.100.100.200/32", "a cloud metadata address"}, // Alibaba Cloud
		{"fd00:ec2::254/128", "a cloud metadata address"},  // AWS over IPv6
		{"0.0.0.0/8", `a "this network" address`},
		{"127.0.0.0/8", "a loopback address"},
		{"10.0.0.0/8", "a private address"},
		{"172.16.0.0/12", "a private address"},
		{"192.168.0.0/16", "a private address"},
		{"169.254.0.0/16", "a link-local address"},
		{"100.64.0.0/10", "a shared (CGNAT) address"},
		{"192.0.0.0/24", "an IETF protocol address"},
		{"198.18.0.0/15", "a benchmarking address"},
		{"224.0.0.0/4", "a multicast address"},
		{"240.0.0.0/4", "a reserved address"}, // 255.255.255.255 included
		{"::/128", "an unspecified address"},
		{"::1/128", "a loopback address"},
		{"::/96", "an IPv4-compatible address"},
		{"fc00::/7", "a private address"},
		{"fe80::/10", "a link-local address"},
		{"64:ff9b:1::/48", "a local-use NAT64 address"},
		{"fec0::/10", "a site-local address"},
		{"ff00::/8", "a multicast address"},
	}
	out := make([]specialRange, len(list))
	for i, r := range list {
		out[i] = specialRange{netip.MustParsePrefix(r.cidr), r.class}
	}
	return out
}()

type specialRange struct {
	prefix netip.Prefix
	class  string
}

// Prefixes whose IPv6 addresses carry an IPv4 address a router may
// forward to: NAT64 (the IPv4 address in the last 32 bits) and 6to4 (in
// bits 16-48). Such an address is as special as the IPv4 one it carries.
var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// SpecialClass names the class of a special address ("a loopback
// address", "a private address", ...) and returns "" for an ordinary
// public one. IPv4-mapped IPv6 addresses are judged as their IPv4 address.
func SpecialClass(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	for _, r := range specialRanges {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	if a.Is6() {
		b := a.As16()
		var v4 netip.Addr
		switch {
		case nat64.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
		case sixTo4.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		}
		if v4.IsValid() {
			if class := SpecialClass(v4); class != "" {
				return class + " (carried in " + a.String() + ")"
			}
		}
	}
	return ""
}
