package wxcrypto_test

import (
	"os"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

// The benchmarks use the official sample's message: a typical text message
// of 243 bytes, 384 bytes of ciphertext.

func benchVector(b *testing.B) (*wxcrypto.Cipher, vector, []byte) {
	v := readKeyValues(&testing.T{}, "testdata/vectors/wxbizmsgcrypt_sample.txt")
	plain, err := os.ReadFile("testdata/vectors/wxbizmsgcrypt_sample.xml")
	if err != nil {
		b.Fatal(err)
	}
	c, err := wxcrypto.NewCipher(v.get("encoding_aes_key"), v.get("app_id"))
	if err != nil {
		b.Fatal(err)
	}
	return c, v, plain
}

func BenchmarkDecrypt(b *testing.B) {
	c, v, _ := benchVector(b)
	enc := v.get("encrypt")
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := c.Decrypt(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncrypt(b *testing.B) {
	c, _, plain := benchVector(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		if _, err := c.Encrypt(plain); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEnvelope(b *testing.B) {
	_, v, _ := benchVector(b)
	body := []byte("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[" + v.get("encrypt") + "]]></Encrypt></xml>")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := wxcrypto.ParseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseEnvelopeCompat is a 兼容模式 body: the plaintext fields
// before Encrypt, as the sample posts it.
func BenchmarkParseEnvelopeCompat(b *testing.B) {
	_, v, _ := benchVector(b)
	body := []byte(`<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[` + v.get("encrypt") + `]]></Encrypt></xml>`)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := wxcrypto.ParseEnvelope(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseQuery(b *testing.B) {
	const raw = "signature=0bc52e55efa4699844efe57a6593e9b322e82f7f&timestamp=1409735669&nonce=1320562132" +
		"&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs&encrypt_type=aes&msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wxcrypto.ParseQuery(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyMsgSignature(b *testing.B) {
	_, v, _ := benchVector(b)
	token, ts, nonce, enc, sig := v.get("token"), v.get("timestamp"), v.get("nonce"), v.get("encrypt"), v.get("msg_signature")
	b.ReportAllocs()
	for b.Loop() {
		if !wxcrypto.VerifyMsgSignature(token, ts, nonce, enc, sig) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkAppendEnvelope(b *testing.B) {
	_, v, _ := benchVector(b)
	enc, sig := v.get("encrypt"), v.get("msg_signature")
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = wxcrypto.AppendEnvelope(buf[:0], enc, sig, "1409735669", "1320562132")
	}
}
