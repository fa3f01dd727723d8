package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

func consoleText(from, content, id string) *message.Message {
	return &message.Message{Type: "text", Source: from, Target: "gh_console", Time: time.Now().Unix(), MessageID: id,
		Fields: []message.Field{{Name: "content", Value: content}}}
}

// TestDeliverConsoleSkipsWeChatsChecks: a console delivery needs no
// signature, and the callback IP allowlist, accept_plaintext and the
// replay rule — all on, here — do not stop it.
func TestDeliverConsoleSkipsWeChatsChecks(t *testing.T) {
	callers, err := host.NewCallers(context.Background(), host.CallersOptions{Allow: []string{"203.0.113.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, host.Options{Dispatcher: echo, Callers: callers, EncodingAESKey: testAESKey, RefusePlaintext: true})
	r, err := h.DeliverConsole(context.Background(), consoleText("console-alice", "hello", "1"))
	if err != nil {
		t.Fatal(err)
	}
	if txt, ok := r.(*reply.Text); !ok || txt.Content != "hello" {
		t.Errorf("reply = %#v", r)
	}
}

func TestDeliverConsoleRefusesRealFollowers(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo})
	if _, err := h.DeliverConsole(context.Background(), consoleText("oRealFollower", "x", "1")); !errors.Is(err, host.ErrNotConsoleUser) {
		t.Errorf("err = %v, want ErrNotConsoleUser", err)
	}
}

// TestDeliverConsoleKeepsSessions: the session is loaded and saved as for
// a follower.
func TestDeliverConsoleKeepsSessions(t *testing.T) {
	sessions := memory.New(memory.Options{})
	count := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		n := len(session) + 1
		return &reply.Text{Content: strings.Repeat("x", n)}, []byte(strings.Repeat("x", n)), nil
	})
	h := newHandler(t, host.Options{Dispatcher: count, Sessions: sessions})
	ctx := context.Background()
	for i, id := range []string{"1", "2", "3"} {
		r, err := h.DeliverConsole(ctx, consoleText("console-bob", "x", id))
		if err != nil {
			t.Fatal(err)
		}
		if got := r.(*reply.Text).Content; len(got) != i+1 {
			t.Errorf("delivery %d: %q", i+1, got)
		}
	}
	if s, _ := sessions.LoadSession(ctx, "console-bob"); string(s) != "xxx" {
		t.Errorf("stored session %q", s)
	}
	// Dedup: the same message id again is WeChat's retry, answered from
	// the record without running the handlers.
	r, _ := h.DeliverConsole(ctx, consoleText("console-bob", "x", "3"))
	if got := r.(*reply.Text).Content; got != "xxx" {
		t.Errorf("retry answered %q", got)
	}
	if s, _ := sessions.LoadSession(ctx, "console-bob"); string(s) != "xxx" {
		t.Errorf("a retry ran the handlers: session %q", s)
	}
}

// TestDeliverConsoleLongTextAndLateReplyReachTheInbox: the rest of a long
// text is in the inbox when DeliverConsole returns; a reply past the
// deadline arrives there later, and nothing goes to the real sender.
func TestDeliverConsoleLongTextAndLateReplyReachTheInbox(t *testing.T) {
	long := strings.Repeat("一二三四五六七八九十", 100)
	slow := make(chan struct{})
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		if msg.String("content") == "slow" {
			<-slow
			return &reply.Text{Content: "late answer"}, nil, nil
		}
		return &reply.Text{Content: long}, nil, nil
	})
	api := newAPIRecorder()
	ib := inbox.New(inbox.Options{})
	h := newHandler(t, host.Options{Dispatcher: d, Sender: ib.Wrap(api.send), ReplyTimeout: 300 * time.Millisecond})
	ctx := context.Background()

	r, err := h.DeliverConsole(ctx, consoleText("console-carol", "long", "1"))
	if err != nil {
		t.Fatal(err)
	}
	first := r.(*reply.Text).Content
	items := ib.Since("console-carol", 0)
	if len(items) != 1 || first+items[0].Reply.(*reply.Text).Content != long {
		t.Fatalf("passive %d bytes, inbox %+v", len(first), items)
	}

	r, err = h.DeliverConsole(ctx, consoleText("console-carol", "slow", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*reply.Success); !ok {
		t.Errorf("past the deadline the reply is success, got %#v", r)
	}
	close(slow)
	waitFor(t, func() bool { return len(ib.Since("console-carol", items[0].ID)) == 1 })
	if late := ib.Since("console-carol", items[0].ID)[0].Reply.(*reply.Text).Content; late != "late answer" {
		t.Errorf("late reply %q", late)
	}
	if sent := api.all(); len(sent) != 0 {
		t.Errorf("WeChat's API got %v", sent)
	}
}
