package wxcrypto_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want wxcrypto.Query
	}{
		{"empty", "", wxcrypto.Query{}},
		{"POST, AES", "signature=6f2b&timestamp=1409735669&nonce=1320562132&openid=oUser-1_x&encrypt_type=aes&msg_signature=5d19",
			wxcrypto.Query{Signature: "6f2b", Timestamp: "1409735669", Nonce: "1320562132", OpenID: "oUser-1_x", EncryptType: "aes", MsgSignature: "5d19"}},
		{"GET, URL check", "signature=ab&echostr=7283927391&timestamp=1&nonce=2",
			wxcrypto.Query{Signature: "ab", Echostr: "7283927391", Timestamp: "1", Nonce: "2"}},
		{"escapes", "nonce=a%2Bb%2f&echostr=x+y%20z&openid=%E4%BD%A0", wxcrypto.Query{Nonce: "a+b/", Echostr: "x y z", OpenID: "你"}},
		{"= in a value", "echostr=a=b==", wxcrypto.Query{Echostr: "a=b=="}},
		{"no value", "signature&nonce=&timestamp", wxcrypto.Query{}},
		{"empty parts", "&&signature=x&&", wxcrypto.Query{Signature: "x"}},
		{"other parameters, repeated", "bot=1&bot=2&signature=x&=y&a%20b=c", wxcrypto.Query{Signature: "x"}},
		{"names are case-sensitive", "Signature=x&NONCE=y", wxcrypto.Query{}},
		{"escaped name", "non%63e=5", wxcrypto.Query{Nonce: "5"}},
		{"exactly the limit", "echostr=" + strings.Repeat("a", wxcrypto.MaxQueryLength-8), wxcrypto.Query{Echostr: strings.Repeat("a", wxcrypto.MaxQueryLength-8)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wxcrypto.ParseQuery(tt.raw)
			if err != nil {
				t.Fatalf("ParseQuery: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseQuery = %+v, want %+v", got, tt.want)
			}
			if _, err := url.ParseQuery(tt.raw); err != nil {
				t.Errorf("net/url refuses what ParseQuery accepts: %v", err)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		errText string
		urlOK   bool // net/url.ParseQuery accepts it: the error is one of ours
	}{
		{"repeated", "nonce=1&nonce=1", `parameter "nonce" repeated`, true},
		{"repeated without value", "signature&signature=x", `"signature" repeated`, true},
		{"repeated, escaped", "nonce=1&non%63e=2", `"nonce" repeated`, true},
		{"each known name repeats", "openid=a&encrypt_type=aes&openid=b", `"openid" repeated`, true},
		{"too long", "echostr=" + strings.Repeat("a", wxcrypto.MaxQueryLength-7), "8193 bytes, limit 8192", true},
		{"bad escape in a value", "nonce=%zz", `parameter "nonce": invalid URL escape "%zz"`, false},
		{"truncated escape", "nonce=ab%2", `invalid URL escape "%2"`, false},
		{"lone %", "echostr=%", `invalid URL escape "%"`, false},
		{"bad escape in a name", "%zz=1", `parameter name "%zz"`, false},
		{"bad escape in another parameter", "signature=x&bot=%g0", `parameter "bot"`, false},
		{"semicolon", "signature=x;nonce=y", "';' is not a separator", false},
		{"semicolon in another parameter", "bot=1;2&nonce=y", "';' is not a separator", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wxcrypto.ParseQuery(tt.raw)
			if err == nil {
				t.Fatalf("ParseQuery succeeded: %+v", got)
			}
			if !errors.Is(err, wxcrypto.ErrBadQuery) {
				t.Errorf("error %v does not wrap ErrBadQuery", err)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not say %q", err, tt.errText)
			}
			if got != (wxcrypto.Query{}) {
				t.Errorf("returned %+v with the error", got)
			}
			if _, err := url.ParseQuery(tt.raw); (err == nil) != tt.urlOK {
				t.Errorf("net/url.ParseQuery error = %v; the table says urlOK=%v", err, tt.urlOK)
			}
		})
	}
	// Long values are clipped in the message.
	_, err := wxcrypto.ParseQuery(strings.Repeat("x", 1000) + ";")
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error not clipped: %v", err)
	}
}

func TestQueryEncrypted(t *testing.T) {
	for typ, want := range map[string]bool{"aes": true, "": false, "raw": false, "AES": false} {
		if got := (wxcrypto.Query{EncryptType: typ}).Encrypted(); got != want {
			t.Errorf("Encrypted() with encrypt_type %q = %v", typ, got)
		}
	}
}
