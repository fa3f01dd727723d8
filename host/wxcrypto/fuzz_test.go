package wxcrypto_test

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/internal/xmltext"
	"github.com/luarobot/luarobot/host/wxcrypto"
)

// fuzzAppID is short so that the fuzzer can forge a matching app id and
// reach the end of Decrypt.
const fuzzAppID = "wx1"

// refDecrypt is the format written out as plainly as possible, the oracle
// FuzzDecrypt checks Decrypt's unpadding and framing against: p is the
// decrypted bytes; the result is the XML or the sentinel of the first check
// that fails.
func refDecrypt(p []byte, appID string) ([]byte, error) {
	pad := int(p[len(p)-1])
	if pad < 1 || pad > 32 || pad > len(p) {
		return nil, wxcrypto.ErrBadPadding
	}
	for _, b := range p[len(p)-pad:] {
		if int(b) != pad {
			return nil, wxcrypto.ErrBadPadding
		}
	}
	p = p[:len(p)-pad]
	if len(p) < 20 {
		return nil, wxcrypto.ErrBadLength
	}
	n := int64(binary.BigEndian.Uint32(p[16:20]))
	rest := p[20:]
	if n > int64(len(rest)) {
		return nil, wxcrypto.ErrBadLength
	}
	if string(rest[n:]) != appID {
		return nil, wxcrypto.ErrAppIDMismatch
	}
	return rest[:n], nil
}

var decryptErrors = []error{wxcrypto.ErrBadBase64, wxcrypto.ErrBadBlockSize, wxcrypto.ErrBadPadding, wxcrypto.ErrBadLength, wxcrypto.ErrAppIDMismatch}

func isOneOf(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzDecrypt feeds Decrypt three ways: encrypt as an arbitrary Encrypt
// value (must not panic, errors must be the documented ones); raw encrypted
// as-is, so that hostile plaintexts reach the padding, length and app id
// checks, compared with refDecrypt; and plain through EncryptWithPrefix and
// back, which must round-trip.
func FuzzDecrypt(f *testing.F) {
	c, err := wxcrypto.NewCipher(testKey, fuzzAppID)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", []byte{}, []byte{})
	f.Add("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtI=", message("<xml/>", fuzzAppID, 6), []byte("<xml/>"))
	f.Fuzz(func(t *testing.T, encrypt string, raw, plain []byte) {
		if got, err := c.Decrypt(encrypt); err != nil {
			if got != nil || !isOneOf(err, decryptErrors) {
				t.Fatalf("Decrypt(%q) = %q, %v", encrypt, got, err)
			}
		}

		if n := len(raw) / 16 * 16; n > 0 {
			raw = raw[:n]
			got, err := c.Decrypt(rawEncrypt(t, testKey, raw))
			want, wantErr := refDecrypt(raw, fuzzAppID)
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
				t.Fatalf("Decrypt of raw %q = %q, %v; want %q, %v", raw, got, err, want, wantErr)
			}
		}

		var prefix [wxcrypto.PrefixSize]byte
		copy(prefix[:], raw)
		enc := c.EncryptWithPrefix(prefix, plain)
		got, err := c.Decrypt(enc)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("round trip of %q: %q, %v", plain, got, err)
		}
	})
}

var envelopeErrors = []error{wxcrypto.ErrBadXML, wxcrypto.ErrDTD, wxcrypto.ErrNoEncrypt}

// referenceEnvelope parses body with encoding/xml: a full token pass (which
// checks well-formedness, end tags included) and then Unmarshal for the two
// values.
func referenceEnvelope(body []byte) (wxcrypto.Envelope, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return wxcrypto.Envelope{}, err
		}
	}
	var v struct {
		ToUserName string `xml:"ToUserName"`
		Encrypt    string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal(body, &v); err != nil {
		return wxcrypto.Envelope{}, err
	}
	return wxcrypto.Envelope{
		ToUserName: strings.Trim(v.ToUserName, " \t\r\n"),
		Encrypt:    strings.Trim(v.Encrypt, " \t\r\n"),
	}, nil
}

// FuzzParseEnvelope checks that ParseEnvelope never panics, accepts only
// what encoding/xml accepts and reads the same values from it, and that
// whatever string AppendEnvelope wraps comes back out.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := wxcrypto.ParseEnvelope(body)
		if err != nil {
			if got != (wxcrypto.Envelope{}) || !isOneOf(err, envelopeErrors) {
				t.Fatalf("ParseEnvelope(%q) = %+v, %v", body, got, err)
			}
		} else {
			// Characters XML cannot carry are dropped before parsing.
			want, refErr := referenceEnvelope([]byte(xmltext.Clean(string(body))))
			if refErr != nil {
				t.Fatalf("ParseEnvelope accepted %q, which encoding/xml refuses: %v", body, refErr)
			}
			if got != want {
				t.Fatalf("ParseEnvelope(%q) = %+v; encoding/xml reads %+v", body, got, want)
			}
			if got.Encrypt == "" {
				t.Fatalf("ParseEnvelope(%q) accepted an empty Encrypt", body)
			}
		}

		// Any text made of XML characters survives AppendEnvelope; carriage
		// returns are left out, as XML turns them into newlines.
		s := string(body)
		if !utf8.ValidString(s) || strings.ContainsRune(s, '\r') || strings.IndexFunc(s, func(r rune) bool {
			return !(r == '\t' || r == '\n' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000)
		}) >= 0 {
			return
		}
		out := wxcrypto.AppendEnvelope(nil, s, "sig", s, s)
		env, err := wxcrypto.ParseEnvelope(out)
		trimmed := strings.Trim(s, " \t\n")
		if trimmed == "" {
			if !errors.Is(err, wxcrypto.ErrNoEncrypt) {
				t.Fatalf("ParseEnvelope(%q) = %+v, %v; want ErrNoEncrypt", out, env, err)
			}
			return
		}
		if err != nil || env.Encrypt != trimmed {
			t.Fatalf("ParseEnvelope(AppendEnvelope(%q)) = %+v, %v", s, env, err)
		}
	})
}

var queryParams = []string{"signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature", "openid"}

// FuzzParseQuery checks ParseQuery against net/url.ParseQuery: whatever
// net/url refuses is refused; whatever ParseQuery accepts, net/url accepts
// with the same values; and ParseQuery refuses more only for its own two
// rules (a repeated callback parameter, the length cap).
func FuzzParseQuery(f *testing.F) {
	f.Add("signature=a&timestamp=1&nonce=2&openid=o&encrypt_type=aes&msg_signature=b")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := wxcrypto.ParseQuery(raw)
		if err != nil && !errors.Is(err, wxcrypto.ErrBadQuery) {
			t.Fatalf("ParseQuery(%q) error %v does not wrap ErrBadQuery", raw, err)
		}
		if len(raw) > wxcrypto.MaxQueryLength {
			if err == nil {
				t.Fatalf("ParseQuery accepted %d bytes", len(raw))
			}
			return
		}
		vals, uerr := url.ParseQuery(raw)
		if uerr != nil {
			if err == nil {
				t.Fatalf("ParseQuery(%q) accepted what net/url refuses: %v", raw, uerr)
			}
			return
		}
		got := []string{q.Signature, q.Timestamp, q.Nonce, q.Echostr, q.EncryptType, q.MsgSignature, q.OpenID}
		repeated := false
		for i, k := range queryParams {
			if len(vals[k]) > 1 {
				repeated = true
			}
			if err == nil && got[i] != vals.Get(k) {
				t.Fatalf("ParseQuery(%q).%s = %q; net/url says %q", raw, k, got[i], vals.Get(k))
			}
		}
		if (err != nil) != repeated {
			t.Fatalf("ParseQuery(%q) = %v, but repeated=%v", raw, err, repeated)
		}
	})
}
