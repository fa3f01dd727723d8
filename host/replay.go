package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"strconv"
	"time"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

// Why a request was refused before any handler ran: the reason label of
// luarobot_requests_refused_total, passed to Options.OnRefused.
const (
	ReasonSignature    = "signature"      // signature or msg_signature does not verify
	ReasonTimestamp    = "timestamp"      // timestamp outside timestamp_tolerance
	ReasonReplay       = "replay"         // a signed query seen before with another body
	ReasonPlaintext    = "plaintext"      // an unencrypted message in 安全模式 only
	ReasonBodyTooLarge = "body_too_large" // over max_body
	ReasonMalformed    = "malformed"      // bad query string, XML or envelope
	ReasonDecrypt      = "decrypt"        // the Encrypt field cannot be decrypted
	ReasonMethod       = "method"         // neither GET nor POST
	ReasonCallbackIP   = "callback_ip"    // the caller is not in callback_ips
)

// refused tells Options.OnRefused.
func (h *Handler) refused(reason string) {
	if h.opts.OnRefused != nil && reason != "" {
		h.opts.OnRefused(reason)
	}
}

// A signed query authenticates one body.
//
// WeChat's signature covers the token, the timestamp and the nonce, not the
// body: a query seen once (an access log is enough) would authenticate any
// message, from any openid, until its timestamp leaves the tolerance. So
// the host binds each signed query to the digest of the first body it came
// with, in the dedup store (shared by all processes on Redis), and refuses
// an unencrypted message whose query is bound to another body. The same
// body again is WeChat's retry, which dedup answers, as long as it comes
// within retryWindow of the first; later it is a replay of a captured
// request, which dedup may have forgotten, and is refused too.
//
// An encrypted message is bound to its Encrypt value by msg_signature, so
// it is never refused for another body; its query is bound to that value
// (encryptedBinding: the envelope around it is not authenticated, so a
// capture replayed after the retry window in a touched-up envelope is the
// unchanged message, and refused), as is the query of the URL check (GET
// with echostr), so that neither can later carry a forged plain message. When the store fails, the message is accepted and the failure
// logged: the store outage already withholds the replies of handlers that
// touch sessions, and refusing every message would take the bot down with
// the store.

// minReplayTTL is how long a query stays bound when timestamp_tolerance is
// off: the tolerance's default.
const minReplayTTL = 300 * time.Second

// queryDigestSize is the part of SHA-256 kept per query: 128 bits leave no
// second preimage within reach, at half the memory of the whole sum.
const queryDigestSize = 16

// retryWindow is how long after a query was first seen the same body is
// taken for WeChat's retry (WeChat resends within about 15 s). It is well
// inside the engine's dedup memory (minDedupTTL), so that every retry let
// through is answered from dedup, never run again.
const retryWindow = 30 * time.Second

// checkReplay applies 安全模式 only (RefusePlaintext) and the replay rule
// to a message whose signature already verified. signed is what the
// signatures authenticate: the request body as received for a plain
// message, encryptedBinding for an encrypted one.
func (h *Handler) checkReplay(ctx context.Context, q wxcrypto.Query, signed []byte, encrypted bool) *requestError {
	if !encrypted && h.keys != nil && h.opts.RefusePlaintext {
		return refuse(http.StatusForbidden, ReasonPlaintext, "unencrypted message refused: accept_plaintext is false (安全模式 only)", nil)
	}
	sum := sha256.Sum256(signed)
	digest := sum[:queryDigestSize]
	now := h.opts.Now()
	bound, added, ok := h.bindQuery(ctx, q, binding(digest, now))
	if !ok || added {
		return nil
	}
	seenDigest, seenAt := parseBinding(bound)
	where := " (timestamp " + q.Timestamp + ", nonce " + q.Nonce + ")"
	switch {
	case bytes.Equal(seenDigest, digest):
		if d := now.Sub(seenAt); d >= retryWindow {
			return refuse(http.StatusForbidden, ReasonReplay, "signed query replayed unchanged "+d.Round(time.Second).String()+" after it was first seen, too late for a retry"+where, nil)
		}
		return nil // WeChat's retry: dedup answers it
	case encrypted:
		return nil // msg_signature binds the body
	}
	return refuse(http.StatusForbidden, ReasonReplay, "signed query replayed with another body"+where, nil)
}

// binding is the value a query is bound to: the body's digest, then when
// it was first seen (Unix milliseconds, big-endian).
func binding(digest []byte, seen time.Time) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(digest)+8), digest...), uint64(seen.UnixMilli()))
}

// parseBinding reads a binding; one that does not parse matches no body.
func parseBinding(b []byte) (digest []byte, seen time.Time) {
	if len(b) != queryDigestSize+8 {
		return nil, time.Time{}
	}
	return b[:queryDigestSize], time.UnixMilli(int64(binary.BigEndian.Uint64(b[queryDigestSize:])))
}

// bindQuery binds q to value (a binding), unless it is already bound. It
// returns the binding found (when added is false); ok is false when the
// store failed (logged). ctx is the delivery's (engine.deliveryContext),
// like the engine's store calls: a half-done delivery must leave its
// binding.
func (h *Handler) bindQuery(ctx context.Context, q wxcrypto.Query, value []byte) (current []byte, added, ok bool) {
	key := queryKey(h.opts.AppID, q)
	added, current, err := h.engine.dedup.AddDedup(ctx, key, value, h.replayTTL(q.Timestamp))
	if err != nil {
		h.log.Error("dedup store unavailable; the query's binding to its body is not checked", "timestamp", q.Timestamp, "nonce", q.Nonce, "error", err)
		return nil, false, false
	}
	return current, added, true
}

// queryKey names a signed query in the dedup store. The signature, already
// verified, stands for token, timestamp and nonce together; the AppID keeps
// two bots on one Redis apart.
func queryKey(appID string, q wxcrypto.Query) string {
	return "query|" + appID + "|" + q.Signature
}

// replayTTL keeps the binding as long as the timestamp is accepted: the
// tolerance, plus how far the timestamp is ahead of this clock.
func (h *Handler) replayTTL(timestamp string) time.Duration {
	tol := h.opts.TimestampTolerance
	if tol <= 0 {
		return minReplayTTL
	}
	if ts, err := strconv.ParseInt(timestamp, 10, 64); err == nil {
		if ahead := time.Unix(ts, 0).Sub(h.opts.Now()); ahead > 0 {
			return tol + ahead
		}
	}
	return tol
}

// encryptedBinding is what an encrypted message binds its query to: its
// Encrypt value, which msg_signature authenticates, and not the envelope
// around it, whose other bytes (spaces, the ToUserName a 兼容模式 envelope
// carries) anyone can change. So a captured message replayed in a
// touched-up envelope is the same message, refused after the retry window
// as the unchanged one is. The prefix keeps it apart from the digest of a
// plain body.
func encryptedBinding(encrypt string) []byte {
	return []byte("POST Encrypt\x00" + encrypt)
}

// echoBinding is what the query of a URL check is bound to: never the
// digest of a message body.
func (h *Handler) echoBinding(echostr string) []byte {
	sum := sha256.Sum256([]byte("GET echostr\x00" + echostr))
	return binding(sum[:queryDigestSize], h.opts.Now())
}
