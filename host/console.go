package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// ErrNotConsoleUser refuses a console delivery for a real follower.
var ErrNotConsoleUser = errors.New("host: console deliveries are for console users (openids starting with " + inbox.Prefix + ")")

// DeliverConsole handles msg as a delivery the console made for one of its
// users (msg.Source starts with "console-"), authenticated by the console:
// the signature, the callback IP allowlist, accept_plaintext and the
// replay rule are WeChat's, and do not apply. Everything after them does —
// dedup, the user's session and dialog, the reply deadline, late replies
// — so the bot behaves as it will for a follower.
//
// It returns the passive reply as WeChat would read it (*reply.Success
// when the handlers gave none, or missed the deadline: their reply then
// comes later, through the Sender). The rest of a long text is sent
// through the Sender before DeliverConsole returns, so a console that
// wraps the Sender (host/inbox) finds it there.
func (h *Handler) DeliverConsole(ctx context.Context, msg *message.Message) (reply.Reply, error) {
	if !inbox.IsConsoleUser(msg.Source) {
		return nil, ErrNotConsoleUser
	}
	out, err := h.engine.answer(ctx, time.Now(), msg)
	if err != nil {
		return nil, err
	}
	defer out.finish(false)
	// Read back what WeChat would have received, not what the handler
	// returned: a long text's first part, store_error_reply, a retry's
	// stored answer.
	p, err := reply.Parse(out.body)
	if err != nil {
		return nil, fmt.Errorf("host: reading back the reply: %w", err)
	}
	return p.Reply, nil
}
