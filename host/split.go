package host

import (
	"context"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/reply"
)

// MaxTextBytes is the longest text WeChat accepts in one message, passive
// or through the customer-service API.
const MaxTextBytes = 2048

// splitReply cuts a text reply longer than MaxTextBytes into parts at
// character boundaries, preferring line breaks; any other reply is one part.
func splitReply(r reply.Reply) []reply.Reply {
	t, ok := r.(*reply.Text)
	if !ok || len(t.Content) <= MaxTextBytes {
		return []reply.Reply{r}
	}
	var parts []reply.Reply
	for _, s := range splitText(t.Content, MaxTextBytes) {
		parts = append(parts, &reply.Text{Content: s})
	}
	return parts
}

// splitText cuts s into pieces of at most limit bytes without splitting a
// UTF-8 sequence, at the last newline of a piece when there is one in its
// second half.
func splitText(s string, limit int) []string {
	var out []string
	for len(s) > limit {
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
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}

// SendFunc sends one reply to a user through the customer-service API.
type SendFunc func(ctx context.Context, openid string, r reply.Reply) error

// SendSplit sends r with send, a long text as several messages in order:
// what robot.send uses, so that scripts get the same splitting as replies.
func SendSplit(ctx context.Context, send SendFunc, openid string, r reply.Reply) error {
	for _, part := range splitReply(r) {
		if err := send(ctx, openid, part); err != nil {
			return err
		}
	}
	return nil
}
