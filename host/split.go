package host

import (
	"context"
	"log/slog"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/reply"
)

// MaxTextBytes is the longest text WeChat accepts in one message, passive
// or through the customer-service API.
const MaxTextBytes = 2048

// DefaultMaxReplyParts is max_reply_parts' default: the most messages one
// long text becomes, the passive answer included.
const DefaultMaxReplyParts = 5

// splitReply cuts a text reply longer than MaxTextBytes into at most
// maxParts parts at character boundaries, preferring line breaks; any
// other reply is one part. dropped is the number of bytes cut off: a
// runaway text (4 MiB would be 2,048 customer-service calls to one user)
// is not worth cutting beyond what is sent.
func splitReply(r reply.Reply, maxParts int) (parts []reply.Reply, dropped int) {
	t, ok := r.(*reply.Text)
	if !ok || len(t.Content) <= MaxTextBytes {
		return []reply.Reply{r}, 0
	}
	pieces, rest := splitText(t.Content, MaxTextBytes, max(maxParts, 1))
	for _, s := range pieces {
		parts = append(parts, &reply.Text{Content: s})
	}
	return parts, len(rest)
}

// splitReply is splitReply with Options.MaxReplyParts, logging a drop.
func (e *engine) splitReply(openid string, r reply.Reply) []reply.Reply {
	parts, dropped := splitReply(r, e.opts.MaxReplyParts)
	if dropped > 0 {
		logDropped(e.log, e.user(openid), len(parts), dropped)
	}
	return parts
}

func logDropped(log *slog.Logger, user string, sent, droppedBytes int) {
	log.Warn("long text cut to max_reply_parts; the rest is dropped", "user", user, "parts", sent, "dropped_bytes", droppedBytes)
}

// splitText cuts s into at most maxPieces pieces of at most limit bytes
// without splitting a UTF-8 sequence, at the last newline of a piece when
// there is one in its second half. rest is what did not fit.
func splitText(s string, limit, maxPieces int) (pieces []string, rest string) {
	for len(s) > limit {
		if len(pieces) == maxPieces {
			return pieces, s
		}
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 { // not UTF-8 at all: cut bytes
			cut = limit
		}
		for i := cut - 1; i >= cut/2; i-- {
			if s[i] == '\n' {
				cut = i + 1
				break
			}
		}
		pieces = append(pieces, s[:cut])
		s = s[cut:]
	}
	if len(pieces) == maxPieces {
		return pieces, s
	}
	return append(pieces, s), ""
}

// SendFunc sends one reply to a user through the customer-service API.
type SendFunc func(ctx context.Context, openid string, r reply.Reply) error

// SendSplit sends r with send, a long text as at most maxParts messages in
// order (maxParts < 1 means DefaultMaxReplyParts): what robot.send uses, so
// that scripts get the same splitting and the same cap as replies. What is
// beyond the cap is dropped and logged to log (nil: slog.Default()), which
// names the user by UserHash: it has no log_user_ids to say otherwise.
func SendSplit(ctx context.Context, send SendFunc, openid string, r reply.Reply, maxParts int, log *slog.Logger) error {
	if maxParts < 1 {
		maxParts = DefaultMaxReplyParts
	}
	parts, dropped := splitReply(r, maxParts)
	if dropped > 0 {
		if log == nil {
			log = slog.Default()
		}
		logDropped(log, UserHash(openid), len(parts), dropped)
	}
	for _, part := range parts {
		if err := send(ctx, openid, part); err != nil {
			return err
		}
	}
	return nil
}
