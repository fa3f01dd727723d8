package wxcrypto_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

func TestSignature(t *testing.T) {
	// Expected values are sha1sum(1) of the byte-sorted, concatenated strings.
	tests := []struct {
		token, ts, nonce string
		want             string
	}{
		{"", "", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},     // sha1("")
		{"b", "a", "c", "a9993e364706816aba3e25717850c26c9cd0d89d"},  // sha1("abc"), the FIPS 180 example
		{"c", "b", "a", "a9993e364706816aba3e25717850c26c9cd0d89d"},  // order of the arguments does not matter
		{"tok", "", "1", "e7abb1a97295fe1f6b03bde95d20ca2bd2675319"}, // sha1("1tok")
		{"mytoken", "1700000000", "123456789", "a70b5d4fa30362248c4a3d9dd3d6828f46539658"},
	}
	for _, tt := range tests {
		if got := wxcrypto.Signature(tt.token, tt.ts, tt.nonce); got != tt.want {
			t.Errorf("Signature(%q, %q, %q) = %s, want %s", tt.token, tt.ts, tt.nonce, got, tt.want)
		}
		if !wxcrypto.VerifySignature(tt.token, tt.ts, tt.nonce, tt.want) {
			t.Errorf("VerifySignature(%q, %q, %q, %s) = false", tt.token, tt.ts, tt.nonce, tt.want)
		}
	}
}

func TestMsgSignatureSortsBytewise(t *testing.T) {
	// Byte order puts upper case before lower case: "Tok" "Tok2" "a" "tok".
	const want = "206a27a4c2ef6fde359195ed48a6ecc450eae6a3" // sha1sum of "TokTok2atok"
	if got := wxcrypto.MsgSignature("tok", "Tok2", "a", "Tok"); got != want {
		t.Errorf("MsgSignature = %s, want %s", got, want)
	}
	// Longer than the signature's stack buffer.
	long := strings.Repeat("x", 1000)
	if wxcrypto.MsgSignature("t", "1", "2", long) == wxcrypto.MsgSignature("t", "1", "2", long[1:]) {
		t.Error("long inputs collide")
	}
}

func TestVerifySignatureRefuses(t *testing.T) {
	good := wxcrypto.Signature("tok", "1700000000", "42")
	for _, sig := range []string{
		"",
		good[:39],
		good + "0",
		strings.ToUpper(good),
		strings.Repeat("0", 40),
		good[:39] + string(good[39]^1),
	} {
		if wxcrypto.VerifySignature("tok", "1700000000", "42", sig) {
			t.Errorf("VerifySignature accepted %q", sig)
		}
	}
	// A different token, timestamp or nonce gives another signature.
	if wxcrypto.VerifySignature("tok2", "1700000000", "42", good) ||
		wxcrypto.VerifySignature("tok", "1700000001", "42", good) ||
		wxcrypto.VerifySignature("tok", "1700000000", "43", good) {
		t.Error("VerifySignature accepted a signature over other values")
	}
	enc := "abc="
	msig := wxcrypto.MsgSignature("tok", "1", "2", enc)
	if !wxcrypto.VerifyMsgSignature("tok", "1", "2", enc, msig) ||
		wxcrypto.VerifyMsgSignature("tok", "1", "2", "abd=", msig) ||
		wxcrypto.VerifyMsgSignature("tok", "1", "2", enc, good) {
		t.Error("VerifyMsgSignature")
	}
}

func TestCheckTimestamp(t *testing.T) {
	now := time.Unix(1700000000, 999_000_000) // sub-second part is ignored
	tests := []struct {
		ts        string
		tolerance time.Duration
		want      error
	}{
		{"1700000000", 300 * time.Second, nil},
		{"1700000300", 300 * time.Second, nil},
		{"1699999700", 300 * time.Second, nil},
		{"1700000301", 300 * time.Second, wxcrypto.ErrStaleTimestamp},
		{"1699999699", 300 * time.Second, wxcrypto.ErrStaleTimestamp},
		{"0", 300 * time.Second, wxcrypto.ErrStaleTimestamp},
		{"999999999999999999", 300 * time.Second, wxcrypto.ErrStaleTimestamp},
		{"01700000000", 300 * time.Second, nil}, // leading zero: still a decimal number
		{"1700000001", 1500 * time.Millisecond, nil},
		{"1700000002", 1500 * time.Millisecond, wxcrypto.ErrStaleTimestamp}, // tolerance counts whole seconds
		{"", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"abc", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"+1700000000", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"-1", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{" 1700000000", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"1700000000\n", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"1.7e9", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		{"1700000000000000000", 300 * time.Second, wxcrypto.ErrBadTimestamp}, // 19 digits
		{"99999999999999999999999", 300 * time.Second, wxcrypto.ErrBadTimestamp},
		// A tolerance of zero or less turns the whole check off.
		{"0", 0, nil},
		{"abc", 0, nil},
		{"1", -time.Second, nil},
	}
	for _, tt := range tests {
		err := wxcrypto.CheckTimestamp(tt.ts, now, tt.tolerance)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("CheckTimestamp(%q, %v) = %v, want %v", tt.ts, tt.tolerance, err, tt.want)
		}
	}
	err := wxcrypto.CheckTimestamp("1700000400", now, 300*time.Second)
	if err == nil || !strings.Contains(err.Error(), "400s ahead of now") {
		t.Errorf("error text %q should say how far off the timestamp is", err)
	}
	err = wxcrypto.CheckTimestamp("1699999000", now, 300*time.Second)
	if err == nil || !strings.Contains(err.Error(), "1000s behind now") {
		t.Errorf("error text %q should say how far off the timestamp is", err)
	}
}
