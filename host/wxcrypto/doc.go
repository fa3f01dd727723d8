// Package wxcrypto authenticates and (de)crypts the callbacks WeChat sends to
// an Official Account (公众号): the sha1 signatures, the replay window on the
// timestamp, the AES message encryption of 安全模式 and 兼容模式, and the two
// small formats around them (the callback query string and the encrypted
// XML envelope).
//
// # Where to start
//
// A callback is handled in this order; each step is one call:
//
//	q, err := wxcrypto.ParseQuery(r.URL.RawQuery)             // 400 on error
//	if !wxcrypto.VerifySignature(token, q.Timestamp, q.Nonce, q.Signature) {
//		// 403
//	}
//	err = wxcrypto.CheckTimestamp(q.Timestamp, time.Now(), 300*time.Second) // 403
//	if q.Encrypted() {
//		env, err := wxcrypto.ParseEnvelope(body)               // 400
//		if !wxcrypto.VerifyMsgSignature(token, q.Timestamp, q.Nonce, env.Encrypt, q.MsgSignature) {
//			// 403
//		}
//		xml, err := c.Decrypt(env.Encrypt)                     // 400
//		...
//		enc, err := c.Encrypt(replyXML)
//		sig := wxcrypto.MsgSignature(token, ts, nonce, enc)
//		out := wxcrypto.AppendEnvelope(nil, enc, sig, ts, nonce)
//	}
//
// where c is a *Cipher made once by NewCipher from the account's
// EncodingAESKey and AppID. During a key rotation, Keys (NewKeys) holds the
// new and the previous key: its Decrypt also returns the Cipher that opened
// the message, the one to encrypt its reply with.
//
// # Caller's obligations
//
// Verify msg_signature before calling Decrypt. The cipher is AES-CBC without
// a MAC: WeChat's scheme relies on the signature (a sha1 keyed by the secret
// token over the ciphertext) to authenticate it, and Decrypt's distinct
// errors would otherwise be a padding oracle.
//
// Limit the request body before ParseEnvelope; ParseQuery caps the query
// string itself at MaxQueryLength.
//
// # Errors
//
// Every error that ParseQuery, CheckTimestamp, ParseEnvelope and Decrypt
// return describes a bad request (answer 4xx, log the text), never a fault of
// the host. Each wraps one of the exported Err* sentinels, for errors.Is.
// Nothing here panics on hostile input; the fuzz targets in the tests hold
// that.
//
// # Concurrency
//
// A Cipher is safe for concurrent use: it holds the expanded AES key, which
// is only read.
package wxcrypto
