package wxcrypto

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Signature is the signature query parameter of every callback: the sha1 hex
// of token, timestamp and nonce, sorted and concatenated.
func Signature(token, timestamp, nonce string) string {
	sum := sign([4]string{token, timestamp, nonce}, 3)
	return string(sum[:])
}

// MsgSignature is the msg_signature of an encrypted callback, and of an
// encrypted reply: the sha1 hex of token, timestamp, nonce and the Encrypt
// value, sorted and concatenated.
func MsgSignature(token, timestamp, nonce, encrypt string) string {
	sum := sign([4]string{token, timestamp, nonce, encrypt}, 4)
	return string(sum[:])
}

// VerifySignature reports whether signature is Signature(token, timestamp,
// nonce). The comparison takes the same time wherever the strings differ, so
// a forger cannot learn the signature byte by byte.
func VerifySignature(token, timestamp, nonce, signature string) bool {
	return equal(sign([4]string{token, timestamp, nonce}, 3), signature)
}

// VerifyMsgSignature reports whether signature is MsgSignature(token,
// timestamp, nonce, encrypt), in constant time as VerifySignature.
func VerifyMsgSignature(token, timestamp, nonce, encrypt, signature string) bool {
	return equal(sign([4]string{token, timestamp, nonce, encrypt}, 4), signature)
}

// equal compares in constant time. The length is public (always 40), so it
// may end early; copying into an array keeps the comparison off the heap.
func equal(want [2 * sha1.Size]byte, got string) bool {
	if len(got) != len(want) {
		return false
	}
	var g [2 * sha1.Size]byte
	copy(g[:], got)
	return subtle.ConstantTimeCompare(want[:], g[:]) == 1
}

// sign sorts the first n strings of parts (byte order, as WeChat's
// sample does), hashes their concatenation and returns the lowercase hex.
// The array and the concatenation stay on the stack for the usual sizes,
// because this runs on every request.
func sign(parts [4]string, n int) [2 * sha1.Size]byte {
	// Insertion sort: at most four elements, and sort.Strings would make the
	// slice escape.
	for i := 1; i < n; i++ {
		for j := i; j > 0 && parts[j] < parts[j-1]; j-- {
			parts[j], parts[j-1] = parts[j-1], parts[j]
		}
	}
	// Enough for the Encrypt value of a typical message; longer inputs
	// spill to the heap.
	var buf [1024]byte
	b := buf[:0]
	for _, p := range parts[:n] {
		b = append(b, p...)
	}
	sum := sha1.Sum(b)
	var out [2 * sha1.Size]byte
	hex.Encode(out[:], sum[:])
	return out
}

var (
	// ErrBadTimestamp: the timestamp is not a decimal number of seconds.
	ErrBadTimestamp = errors.New("wxcrypto: bad timestamp")
	// ErrStaleTimestamp: the timestamp is further from now than the
	// tolerance allows (a replayed or badly delayed request).
	ErrStaleTimestamp = errors.New("wxcrypto: timestamp out of range")
)

// maxTimestampDigits keeps the parse inside int64: no Unix time in seconds
// needs more digits than this.
const maxTimestampDigits = 18

// CheckTimestamp refuses a timestamp (Unix seconds, decimal, as WeChat
// sends it) further than tolerance from now: a captured request cannot be
// replayed after the window closes. A tolerance of zero or less disables
// the check entirely (the timestamp is then not even parsed, so a deployment
// that turned the check off is not refused over the timestamp's format).
// Tolerance is counted in whole seconds, the timestamp's resolution.
func CheckTimestamp(timestamp string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		return nil
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	tol := int64(tolerance / time.Second)
	n := now.Unix()
	// ts is in [0, 10^18) and |n| is far below 2^62 for any real clock, so
	// the differences below cannot overflow.
	if d := ts - n; d > tol || -d > tol {
		dir := "ahead of"
		if d < 0 {
			dir, d = "behind", -d
		}
		return fmt.Errorf("%w: %s is %ds %s now (%d), tolerance %ds",
			ErrStaleTimestamp, timestamp, d, dir, n, tol)
	}
	return nil
}

// parseTimestamp accepts only decimal digits: no sign, no spaces, no
// exponent. strconv.ParseInt would take "+123".
func parseTimestamp(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadTimestamp)
	}
	if len(s) > maxTimestampDigits {
		return 0, fmt.Errorf("%w: %q has more than %d digits", ErrBadTimestamp, clip(s), maxTimestampDigits)
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal number", ErrBadTimestamp, clip(s))
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// clip shortens s for an error message: these strings come from the
// request, and a log line should not carry kilobytes of them.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
