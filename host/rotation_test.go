package host_test

import (
	"encoding/xml"
	"testing"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/wxcrypto"
)

const previousAESKey = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"

// TestAESKeyRotation: with encoding_aes_key_previous set, a request under
// the old key and one under the new key are both answered, each reply
// under the key of its request (and not under the other); a request under
// a key that is neither is refused.
func TestAESKeyRotation(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey, EncodingAESKeyPrevious: previousAESKey})
	cipherOf := func(key string) *wxcrypto.Cipher {
		c, err := wxcrypto.NewCipher(key, testAppID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	current, previous := cipherOf(testAESKey), cipherOf(previousAESKey)
	for i, c := range []struct {
		name        string
		key, other  *wxcrypto.Cipher
		compat      bool
		wantContent string
	}{
		{"old key", previous, current, false, "under the old key"},
		{"new key", current, previous, false, "under the new key"},
		{"old key, 兼容模式", previous, current, true, "old key, compatible mode"},
	} {
		w := newWechat(t, true)
		w.cipher, w.compat = c.key, c.compat
		status, body := serve(h, w.request("/", textXML("u1", c.wantContent, int64(100+i))))
		if status != 200 {
			t.Fatalf("%s: status %d: %s", c.name, status, body)
		}
		// open decrypts with the request's key and checks msg_signature.
		if r := parseReply(t, w.open(body)); r.Content != c.wantContent {
			t.Errorf("%s: reply %q", c.name, r.Content)
		}
		var env struct{ Encrypt string }
		if err := xml.Unmarshal(body, &env); err != nil {
			t.Fatal(err)
		}
		if _, err := c.other.Decrypt(env.Encrypt); err == nil {
			t.Errorf("%s: the reply opens with the other key too", c.name)
		}
	}

	w := newWechat(t, true)
	w.cipher = cipherOf("0123456789012345678901234567890123456789abc")
	if status, body := serve(h, w.request("/", textXML("u1", "third key", 200))); status != 400 {
		t.Errorf("a third key: status %d: %s", status, body)
	}
}

// Without a previous key, the old key's messages are refused as before.
func TestAESWithoutPreviousKey(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo, EncodingAESKey: testAESKey})
	w := newWechat(t, true)
	c, err := wxcrypto.NewCipher(previousAESKey, testAppID)
	if err != nil {
		t.Fatal(err)
	}
	w.cipher = c
	if status, _ := serve(h, w.request("/", textXML("u1", "old", 1))); status != 400 {
		t.Errorf("old key without encoding_aes_key_previous: status %d, want 400", status)
	}
	if _, err := host.New(host.Options{Token: testToken, AppID: testAppID, Dispatcher: echo, EncodingAESKeyPrevious: previousAESKey}); err == nil {
		t.Error("a previous key without a current one was accepted")
	}
}
