package safehttp

import (
	"net/netip"
	"strings"
	"testing"
)

// Every special class of the design, IPv4-mapped and carried forms
// included, and ordinary addresses that are not special.
func TestSpecialClass(t *testing.T) {
	cases := map[string]string{
		"0.0.0.0":                "this network",
		"0.1.2.3":                "this network",
		"127.0.0.1":              "loopback",
		"127.255.255.254":        "loopback",
		"10.0.0.1":               "private",
		"172.16.0.1":             "private",
		"172.31.255.255":         "private",
		"192.168.1.1":            "private",
		"169.254.1.1":            "link-local",
		"169.254.169.254":        "cloud metadata",
		"100.100.100.200":        "cloud metadata",
		"100.64.0.1":             "shared (CGNAT)",
		"100.127.255.255":        "shared (CGNAT)",
		"224.0.0.1":              "multicast",
		"255.255.255.255":        "reserved",
		"::":                     "unspecified",
		"::1":                    "loopback",
		"::ffff:127.0.0.1":       "loopback",
		"::ffff:10.0.0.1":        "private",
		"::ffff:169.254.169.254": "cloud metadata",
		"::a00:1":                "IPv4-compatible",
		"fc00::1":                "private",
		"fd12:3456::1":           "private",
		"fd00:ec2::254":          "cloud metadata",
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"ff02::1":                "multicast",
		"64:ff9b::a00:1":         "private address (carried in 64:ff9b::a00:1)",
		"64:ff9b::7f00:1":        "loopback address (carried in",
		"2002:a9fe:a9fe::1":      "cloud metadata address (carried in",
		"64:ff9b:1::1":           "local-use NAT64",
		// Ordinary addresses, some next to the special ranges.
		"8.8.8.8":          "",
		"1.1.1.1":          "",
		"172.32.0.1":       "",
		"172.15.255.255":   "",
		"100.128.0.1":      "",
		"11.0.0.1":         "",
		"2606:4700::1111":  "",
		"64:ff9b::808:808": "",
		"2002:808:808::1":  "",
	}
	for addr, want := range cases {
		got := SpecialClass(netip.MustParseAddr(addr))
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("SpecialClass(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestPolicyCheck(t *testing.T) {
	type tc struct {
		allow []string
		host  string
		addr  string
		want  string // "" allowed, else a part of the error
	}
	cases := []tc{
		// "*": any public address, no special one — whatever the name.
		{[]string{"*"}, "api.example.com", "93.184.216.34", ""},
		{[]string{"*"}, "8.8.8.8", "8.8.8.8", ""},
		{[]string{"*"}, "10.0.0.1", "10.0.0.1", "10.0.0.1 is a private address; not allowed by http_allow"},
		{[]string{"*"}, "evil.example", "127.0.0.1", "evil.example resolves to 127.0.0.1, a loopback address; not allowed by http_allow"},
		{[]string{"*"}, "::ffff:10.0.0.1", "::ffff:10.0.0.1", "::ffff:10.0.0.1 (10.0.0.1) is a private address"},
		// Exact names.
		{[]string{"api.example.com"}, "api.example.com", "93.184.216.34", ""},
		{[]string{"api.example.com"}, "other.example.com", "93.184.216.34", "other.example.com (93.184.216.34) is not allowed by http_allow"},
		{[]string{"intranet.corp"}, "intranet.corp", "10.1.2.3", ""},
		{[]string{"API.Example.COM."}, "api.example.com", "93.184.216.34", ""},
		// Wildcards: subdomains only, and never a special address.
		{[]string{"*.example.com"}, "a.b.example.com", "93.184.216.34", ""},
		{[]string{"*.example.com"}, "example.com", "93.184.216.34", "not allowed"},
		{[]string{"*.example.com"}, "notexample.com", "93.184.216.34", "not allowed"},
		{[]string{"*.example.com"}, "db.example.com", "10.0.0.5", "db.example.com resolves to 10.0.0.5, a private address"},
		{[]string{"*.corp"}, "meta.corp", "169.254.169.254", "a cloud metadata address"},
		// IPs and CIDRs cover the address, whatever name led there.
		{[]string{"10.1.2.3"}, "10.1.2.3", "10.1.2.3", ""},
		{[]string{"10.1.2.3"}, "10.1.2.4", "10.1.2.4", "private address"},
		{[]string{"10.0.0.0/8"}, "db.internal", "10.9.9.9", ""},
		{[]string{"10.0.0.0/8"}, "db.internal", "::ffff:10.9.9.9", ""},
		{[]string{"10.0.0.0/8"}, "public.example", "93.184.216.34", "not allowed"},
		{[]string{"::ffff:10.0.0.0/104"}, "x", "10.2.3.4", ""},
		{[]string{"127.0.0.1"}, "localhost", "127.0.0.1", ""},
		{[]string{"::1"}, "::1", "::1", ""},
		{[]string{"fd00::/8"}, "v6.internal", "fd00::5", ""},
		// A name pattern does not match an IP literal, even a public one.
		{[]string{"*.example.com"}, "8.8.8.8", "8.8.8.8", "8.8.8.8 is not allowed by http_allow"},
		// Nothing allowed.
		{nil, "api.example.com", "93.184.216.34", "not allowed"},
	}
	for _, c := range cases {
		p, err := ParsePolicy(c.allow)
		if err != nil {
			t.Fatalf("%v: %v", c.allow, err)
		}
		err = p.Check(c.host, netip.MustParseAddr(c.addr))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("allow %v: %s at %s refused: %v", c.allow, c.host, c.addr, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("allow %v: %s at %s: got %v, want %q", c.allow, c.host, c.addr, err, c.want)
		}
	}
}

func TestParsePolicyErrors(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "*.", ".example.com", "a*b.com", "user@host", "10.0.0.1/x", "fe80::1%eth0", ""} {
		if _, err := ParsePolicy([]string{bad}); err == nil || !strings.Contains(err.Error(), "http_allow") {
			t.Errorf("ParsePolicy(%q): %v", bad, err)
		}
	}
	p, err := ParsePolicy([]string{" *.example.com ", "127.0.0.1", "10.0.0.0/8", "*"})
	if err != nil || !p.any || len(p.suffixes) != 1 || len(p.prefixes) != 2 {
		t.Errorf("ParsePolicy: %+v %v", p, err)
	}
}

// mayReach keeps the resolver from being asked about names no pattern can
// allow.
func TestMayReach(t *testing.T) {
	p, _ := ParsePolicy([]string{"api.example.com", "*.cdn.example"})
	for host, want := range map[string]bool{"api.example.com": true, "x.cdn.example": true, "evil.example": false} {
		if got := p.mayReach(host); got != want {
			t.Errorf("mayReach(%s) = %v", host, got)
		}
	}
	p, _ = ParsePolicy([]string{"10.0.0.0/8"})
	if !p.mayReach("anything.internal") {
		t.Error("with a CIDR any name may resolve into it")
	}
}
