package wxcrypto_test

import (
	"fmt"
	"time"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

// The whole path of an encrypted callback, with the values of WeChat's
// official sample (testdata/vectors/wxbizmsgcrypt_sample.txt).
func Example() {
	const (
		token          = "spamtest"
		encodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		appID          = "wx2c2769f8efd9abc2"
	)
	c, err := wxcrypto.NewCipher(encodingAESKey, appID) // once, at start-up
	if err != nil {
		panic(err)
	}

	rawQuery := "signature=" + wxcrypto.Signature(token, "1409735669", "1320562132") +
		"&timestamp=1409735669&nonce=1320562132&encrypt_type=aes" +
		"&msg_signature=5d197aaffba7e9b25a30732f161a50dee96bd5fa"
	body := []byte("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>")

	q, err := wxcrypto.ParseQuery(rawQuery)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	if !wxcrypto.VerifySignature(token, q.Timestamp, q.Nonce, q.Signature) {
		fmt.Println("403: bad signature")
		return
	}
	// The sample is from 2014; a live handler passes time.Now().
	if err := wxcrypto.CheckTimestamp(q.Timestamp, time.Unix(1409735700, 0), 300*time.Second); err != nil {
		fmt.Println("403:", err)
		return
	}
	env, err := wxcrypto.ParseEnvelope(body)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	if !wxcrypto.VerifyMsgSignature(token, q.Timestamp, q.Nonce, env.Encrypt, q.MsgSignature) {
		fmt.Println("403: bad msg_signature")
		return
	}
	msg, err := c.Decrypt(env.Encrypt)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	fmt.Printf("%s\n", msg)

	// The reply goes back encrypted, signed over the same timestamp and nonce.
	enc, err := c.Encrypt([]byte("<xml>...</xml>"))
	if err != nil {
		panic(err)
	}
	out := wxcrypto.AppendEnvelope(nil, enc, wxcrypto.MsgSignature(token, q.Timestamp, q.Nonce, enc), q.Timestamp, q.Nonce)
	_ = out
	// Output:
	// <xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>
	// <FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>
	// <CreateTime>1409735668</CreateTime>
	// <MsgType><![CDATA[text]]></MsgType>
	// <Content><![CDATA[abcdteT]]></Content>
	// <MsgId>6054768590064713728</MsgId>
	// </xml>
}

func ExampleCipher_Decrypt_errors() {
	c, _ := wxcrypto.NewCipher("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx456")
	// The official sample's message was encrypted for wx2c2769f8efd9abc2.
	_, err := c.Decrypt("hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")
	fmt.Println(err)
	_, err = c.Decrypt("not base64!")
	fmt.Println(err)
	_, err = c.Decrypt("QUJD")
	fmt.Println(err)
	// Output:
	// wxcrypto: app id mismatch: got "wx2c2769f8efd9abc2", want "wx456"
	// wxcrypto: encrypt is not base64: illegal base64 data at input byte 3
	// wxcrypto: bad ciphertext size: 3 bytes is not a positive multiple of 16
}
