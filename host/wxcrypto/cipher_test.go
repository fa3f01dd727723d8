package wxcrypto_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

const (
	testKey   = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	testAppID = "wx2c2769f8efd9abc2"
)

func newTestCipher(t testing.TB) *wxcrypto.Cipher {
	t.Helper()
	c, err := wxcrypto.NewCipher(testKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rawEncrypt CBC-encrypts plain (a multiple of 16 bytes) as WeChat would,
// without adding anything: the tests build malformed plaintexts with it.
func rawEncrypt(t testing.TB, encodingAESKey string, plain []byte) string {
	t.Helper()
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, plain)
	return base64.StdEncoding.EncodeToString(out)
}

// message assembles prefix | length | xml | appID | PKCS#7 padding to 32
// by hand; the length field can be anything.
func message(xml, appID string, length int) []byte {
	return padWith(body(xml, appID, length), func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, n) })
}

func body(xml, appID string, length int) []byte {
	var b []byte
	b = append(b, "0123456789abcdef"...)
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	b = append(b, xml...)
	return append(b, appID...)
}

// padWith appends pad(n), n being the PKCS#7 pad length (1..32) that b needs.
func padWith(b []byte, pad func(n int) []byte) []byte {
	return append(b, pad(32-len(b)%32)...)
}

func TestNewCipher(t *testing.T) {
	tests := []struct {
		key, appID string
		errText    string // empty: no error
	}{
		{testKey, testAppID, ""},
		{testKey[:42], testAppID, "encoding_aes_key must be 43 characters, got 42"},
		{testKey + "H", testAppID, "encoding_aes_key must be 43 characters, got 44"},
		{"", testAppID, "encoding_aes_key must be 43 characters, got 0"},
		{testKey[:42] + "!", testAppID, "not base64"},
		{testKey[:42] + "=", testAppID, "not base64"},
		{testKey[:20] + "\n" + testKey[21:], testAppID, "not base64"},
		{"-_" + testKey[2:], testAppID, "not base64"}, // URL alphabet is not WeChat's
		{testKey, "", "app id is empty"},
	}
	for _, tt := range tests {
		c, err := wxcrypto.NewCipher(tt.key, tt.appID)
		if tt.errText == "" {
			if err != nil || c == nil {
				t.Errorf("NewCipher(%q, %q) = %v", tt.key, tt.appID, err)
			} else if c.AppID() != tt.appID {
				t.Errorf("AppID() = %q", c.AppID())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.errText) {
			t.Errorf("NewCipher(%q, %q) error = %v, want one saying %q", tt.key, tt.appID, err, tt.errText)
		}
		if tt.appID != "" && !errors.Is(err, wxcrypto.ErrBadAESKey) {
			t.Errorf("NewCipher(%q) error %v does not wrap ErrBadAESKey", tt.key, err)
		}
	}
}

func TestDecryptErrors(t *testing.T) {
	c := newTestCipher(t)
	enc := func(p []byte) string { return rawEncrypt(t, testKey, p) }
	const xml = "<xml><Content>hi</Content></xml>"
	full := func(n int) []byte { return bytes.Repeat([]byte{byte(n)}, n) }
	good := body(xml, testAppID, len(xml))
	badPad := func(f func(p []byte)) string {
		return enc(padWith(bytes.Clone(good), func(n int) []byte { p := full(n); f(p); return p }))
	}

	tests := []struct {
		name    string
		encrypt string
		want    error
		errText string
	}{
		{"empty", "", wxcrypto.ErrBadBlockSize, "0 bytes is not a positive multiple of 16"},
		{"not base64", "!!!!", wxcrypto.ErrBadBase64, "illegal base64 data at input byte 0"},
		{"url alphabet", "-_-_", wxcrypto.ErrBadBase64, ""},
		{"missing padding", "QUJD", wxcrypto.ErrBadBlockSize, "3 bytes"},
		{"truncated base64", "QUJ", wxcrypto.ErrBadBase64, ""},
		{"space inside", "QU JD", wxcrypto.ErrBadBase64, ""},
		{"one byte", base64.StdEncoding.EncodeToString([]byte{1}), wxcrypto.ErrBadBlockSize, "1 bytes"},
		{"17 bytes", base64.StdEncoding.EncodeToString(make([]byte, 17)), wxcrypto.ErrBadBlockSize, "17 bytes"},
		{"pad 0", badPad(func(p []byte) { p[len(p)-1] = 0 }), wxcrypto.ErrBadPadding, "pad value 0 out of range 1..32"},
		{"pad 33", badPad(func(p []byte) { p[len(p)-1] = 33 }), wxcrypto.ErrBadPadding, "pad value 33"},
		{"pad 255", enc(append(make([]byte, 47), 255)), wxcrypto.ErrBadPadding, "pad value 255"},
		{"pad longer than the data", enc(append(make([]byte, 15), 20)), wxcrypto.ErrBadPadding, "out of range 1..16"},
		{"pad bytes differ", badPad(func(p []byte) { p[3]-- }), wxcrypto.ErrBadPadding, "not all 26"},
		{"pad bytes differ at the start", badPad(func(p []byte) { p[0] = 0 }), wxcrypto.ErrBadPadding, "not all 26"},
		{"pad of 32 with one byte off", enc(padWith(body(xml+strings.Repeat("z", 26), testAppID, len(xml)+26), func(n int) []byte { p := full(n); p[0] = 1; return p })), wxcrypto.ErrBadPadding, "not all 32"},
		{"no header", enc(full(16)), wxcrypto.ErrBadLength, "plaintext is 0 bytes, shorter than its 20-byte header"},
		{"short header", enc(append(make([]byte, 19), full(13)...)), wxcrypto.ErrBadLength, "19 bytes"},
		{"length overruns", enc(message(xml, testAppID, len(xml)+len(testAppID)+1)), wxcrypto.ErrBadLength, "declares 51 bytes of XML, only 50 follow"},
		{"length 4 GiB-1", enc(message(xml, testAppID, 1<<32-1)), wxcrypto.ErrBadLength, "4294967295"},
		{"length 2 GiB", enc(message(xml, testAppID, 1<<31)), wxcrypto.ErrBadLength, "2147483648"},
		{"app id mismatch", enc(message(xml, "wx456", len(xml))), wxcrypto.ErrAppIDMismatch, `wxcrypto: app id mismatch: got "wx456", want "wx2c2769f8efd9abc2"`},
		{"app id prefix", enc(message(xml, testAppID[:5], len(xml))), wxcrypto.ErrAppIDMismatch, `got "wx2c2"`},
		{"app id longer", enc(message(xml, testAppID+"x", len(xml))), wxcrypto.ErrAppIDMismatch, ""},
		{"app id empty", enc(message(xml, "", len(xml))), wxcrypto.ErrAppIDMismatch, `got ""`},
		{"length too short", enc(message(xml, testAppID, len(xml)-1)), wxcrypto.ErrAppIDMismatch, `got ">wx2c`},
		{"wrong key", rawEncrypt(t, "0000000000000000000000000000000000000000000", message(xml, testAppID, len(xml))), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Decrypt(tt.encrypt)
			if err == nil {
				t.Fatalf("Decrypt succeeded: %q", got)
			}
			if got != nil {
				t.Errorf("Decrypt returned %q with the error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "wxcrypto: ") || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error text %q, want it to contain %q", err, tt.errText)
			}
		})
	}

	// The hand-built message itself is fine: the errors above come from the
	// one thing each case breaks.
	got, err := c.Decrypt(enc(message(xml, testAppID, len(xml))))
	if err != nil || string(got) != xml {
		t.Errorf("Decrypt(good) = %q, %v", got, err)
	}
	// A long foreign app id is clipped in the message.
	_, err = c.Decrypt(enc(message(xml, strings.Repeat("w", 500), len(xml))))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("app id error is not clipped: %v", err)
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	c := newTestCipher(t)
	for _, n := range []int{0, 1, 11, 12, 13, 31, 32, 33, 44, 45, 1000, 70000} {
		plain := bytes.Repeat([]byte("<x>"), n)[:n]
		e1, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		e2, _ := c.Encrypt(plain)
		if e1 == e2 {
			t.Errorf("n=%d: two encryptions are equal; the prefix is not random", n)
		}
		ct, _ := base64.StdEncoding.DecodeString(e1)
		// 20-byte header + plain + app id, padded to 32 with 1..32 bytes.
		if raw := 20 + n + len(testAppID); len(ct)%32 != 0 || len(ct) <= raw || len(ct) > raw+32 {
			t.Errorf("n=%d: ciphertext is %d bytes", n, len(ct))
		}
		got, err := c.Decrypt(e1)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("n=%d: Decrypt(Encrypt) = %q, %v", n, got, err)
		}
		// The caller may append to the result without touching anything.
		_ = append(got, 'x')
	}
}

func TestEncryptWithPrefixIsDeterministic(t *testing.T) {
	c := newTestCipher(t)
	var p [16]byte
	a := c.EncryptWithPrefix(p, []byte("<xml/>"))
	b := c.EncryptWithPrefix(p, []byte("<xml/>"))
	p[0] = 1
	d := c.EncryptWithPrefix(p, []byte("<xml/>"))
	if a != b || a == d {
		t.Errorf("EncryptWithPrefix: %s %s %s", a, b, d)
	}
}
