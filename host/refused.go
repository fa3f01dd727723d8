package host

// Why a request was refused before any handler ran: the reason label of
// luarobot_requests_refused_total, passed to Options.OnRefused.
//
// (Branch h-host declares the same constants and refused in replay.go:
// when both are merged, this file goes.)
const (
	ReasonSignature    = "signature"      // signature or msg_signature does not verify
	ReasonTimestamp    = "timestamp"      // timestamp outside timestamp_tolerance
	ReasonReplay       = "replay"         // a signed query seen before with another body
	ReasonPlaintext    = "plaintext"      // an unencrypted message in 安全模式 only
	ReasonBodyTooLarge = "body_too_large" // over max_body
	ReasonMalformed    = "malformed"      // bad query string, XML or envelope
	ReasonDecrypt      = "decrypt"        // the Encrypt field cannot be decrypted
	ReasonMethod       = "method"         // neither GET nor POST
)

// refused tells Options.OnRefused.
func (h *Handler) refused(reason string) {
	if h.opts.OnRefused != nil && reason != "" {
		h.opts.OnRefused(reason)
	}
}
