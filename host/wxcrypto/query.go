package wxcrypto

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// MaxQueryLength caps the raw query string ParseQuery reads. WeChat's are
// under 400 bytes (the longest value is an echostr); the cap leaves room for
// the operator's own parameters in the callback URL while bounding the work
// a hostile request can cause.
const MaxQueryLength = 8 << 10

// ErrBadQuery: the query string is too long, malformed (a bad %-escape, a
// ';' separator) or repeats one of the callback's parameters.
var ErrBadQuery = errors.New("wxcrypto: bad query string")

// Query holds the parameters WeChat adds to a callback URL. A parameter that
// is absent is left empty: which ones are required depends on the request
// (GET needs echostr, AES mode needs msg_signature), so the caller judges.
type Query struct {
	Signature    string // signature: Signature(token, timestamp, nonce)
	Timestamp    string // timestamp, Unix seconds
	Nonce        string // nonce
	Echostr      string // echostr: the string to echo on the GET that verifies the URL
	EncryptType  string // encrypt_type: "aes" in 安全模式 and 兼容模式, absent or "raw" otherwise
	MsgSignature string // msg_signature: MsgSignature(token, timestamp, nonce, Encrypt)
	OpenID       string // openid: the sender, on POSTs
}

// Encrypted reports whether the body is an encrypted Envelope.
func (q Query) Encrypted() bool { return q.EncryptType == "aes" }

// ParseQuery parses a raw query string (r.URL.RawQuery). It follows
// net/url.ParseQuery on what is malformed — a bad %-escape, or ';' used as a
// separator, in any parameter — and is stricter in two ways: the string may
// not exceed MaxQueryLength, and none of the callback's parameters may appear
// twice (which copy the signature covers would be ambiguous). Other
// parameters are ignored. Errors wrap ErrBadQuery.
func ParseQuery(rawQuery string) (Query, error) {
	var q Query
	if len(rawQuery) > MaxQueryLength {
		return q, fmt.Errorf("%w: %d bytes, limit %d", ErrBadQuery, len(rawQuery), MaxQueryLength)
	}
	var seen [7]bool
	for rest := rawQuery; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, "&")
		if strings.Contains(part, ";") {
			return Query{}, fmt.Errorf("%w: %q: ';' is not a separator", ErrBadQuery, clip(part))
		}
		if part == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(part, "=")
		// url.QueryUnescape returns its argument, without copying, when
		// there is nothing to unescape: the usual case costs nothing.
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return Query{}, fmt.Errorf("%w: parameter name %q: %v", ErrBadQuery, clip(rawKey), err)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return Query{}, fmt.Errorf("%w: parameter %q: %v", ErrBadQuery, clip(key), err)
		}
		var k int
		var dst *string
		switch key {
		case "signature":
			k, dst = 0, &q.Signature
		case "timestamp":
			k, dst = 1, &q.Timestamp
		case "nonce":
			k, dst = 2, &q.Nonce
		case "echostr":
			k, dst = 3, &q.Echostr
		case "encrypt_type":
			k, dst = 4, &q.EncryptType
		case "msg_signature":
			k, dst = 5, &q.MsgSignature
		case "openid":
			k, dst = 6, &q.OpenID
		default:
			continue
		}
		if seen[k] {
			return Query{}, fmt.Errorf("%w: parameter %q repeated", ErrBadQuery, key)
		}
		seen[k] = true
		*dst = value
	}
	return q, nil
}
