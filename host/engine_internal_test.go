package host

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

type blockDispatcher chan struct{}

func (b blockDispatcher) Dispatch(ctx context.Context, m *message.Message, s []byte) (reply.Reply, []byte, error) {
	<-b
	return &reply.Text{Content: "x"}, nil, nil
}

// TestNotifierDoesNotLeak: retries answered in a process other than the
// handler's (which never broadcasts there) leave no notifier entries.
func TestNotifierDoesNotLeak(t *testing.T) {
	shared := memory.New(memory.Options{})
	block := make(blockDispatcher)
	mk := func(rt time.Duration) *engine {
		return newEngine(&Options{Dispatcher: block, Dedup: shared, ReplyTimeout: rt, HandlerTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	}
	a, b := mk(20*time.Millisecond), mk(40*time.Millisecond)
	for i := range 50 {
		m := &message.Message{Type: "text", Source: "u", Target: "gh", MessageID: strconv.Itoa(i)}
		out, _ := a.answer(context.Background(), time.Now(), m)
		out.finish(true)
		out, _ = b.answer(context.Background(), time.Now(), m)
		out.finish(true)
	}
	close(block)
	a.close(context.Background())
	b.close(context.Background())
	if n := b.notify.pending(); n != 0 {
		t.Errorf("%d notifier entries left after every retry finished", n)
	}
}
