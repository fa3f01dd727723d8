package wxcrypto_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

const oldKey = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"

// TestKeysRotation: a message under either key opens, and Decrypt names
// the key that opened it; a third key opens nothing.
func TestKeysRotation(t *testing.T) {
	keys, err := wxcrypto.NewKeys(testKey, oldKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	current := newTestCipher(t)
	previous, err := wxcrypto.NewCipher(oldKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		enc  *wxcrypto.Cipher
	}{{"current", current}, {"previous", previous}} {
		enc, err := c.enc.Encrypt([]byte("<xml>" + c.name + "</xml>"))
		if err != nil {
			t.Fatal(err)
		}
		plain, used, err := keys.Decrypt(enc)
		if err != nil {
			t.Fatalf("%s key: %v", c.name, err)
		}
		if string(plain) != "<xml>"+c.name+"</xml>" {
			t.Errorf("%s key: %q", c.name, plain)
		}
		// The Cipher returned is the one that encrypts the reply: check it
		// is that key by having the other side open its output.
		reply, err := used.Encrypt([]byte("<xml>reply</xml>"))
		if err != nil {
			t.Fatal(err)
		}
		if back, err := c.enc.Decrypt(reply); err != nil || string(back) != "<xml>reply</xml>" {
			t.Errorf("%s key: the reply does not open with the request's key: %q %v", c.name, back, err)
		}
	}
	if keys.Current() == nil {
		t.Error("Current is nil")
	}

	third, err := wxcrypto.NewCipher(strings.Repeat("Q", 43), testAppID)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := third.Encrypt([]byte("<xml/>"))
	if _, used, err := keys.Decrypt(enc); err == nil || used != nil {
		t.Errorf("a third key's message opened (%v)", err)
	} else if !errors.Is(err, wxcrypto.ErrBadPadding) && !errors.Is(err, wxcrypto.ErrBadLength) && !errors.Is(err, wxcrypto.ErrAppIDMismatch) {
		t.Errorf("error %v wraps none of the key sentinels", err)
	}
	if _, _, err := keys.Decrypt("%%%"); !errors.Is(err, wxcrypto.ErrBadBase64) {
		t.Errorf("bad base64: %v", err)
	}
}

func TestNewKeys(t *testing.T) {
	if k, err := wxcrypto.NewKeys(testKey, "", testAppID); err != nil || k == nil {
		t.Fatalf("without a previous key: %v", err)
	}
	if _, err := wxcrypto.NewKeys(testKey, testKey, testAppID); err == nil {
		t.Error("the same key twice was accepted")
	}
	if _, err := wxcrypto.NewKeys(testKey, "short", testAppID); err == nil || !strings.Contains(err.Error(), "previous key") {
		t.Errorf("a bad previous key: %v", err)
	}
	if _, err := wxcrypto.NewKeys("short", oldKey, testAppID); !errors.Is(err, wxcrypto.ErrBadAESKey) {
		t.Errorf("a bad current key: %v", err)
	}
}
