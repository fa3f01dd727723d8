package host_test

// Fan-out is bounded: one long text is at most max_reply_parts messages.

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// fakeAPI is a Client against a fake WeChat that counts the
// customer-service calls.
func fakeAPI(t *testing.T) (*fakewechat.Server, *client.Client) {
	t.Helper()
	fake := fakewechat.New("wxfanout", "secret")
	t.Cleanup(fake.Close)
	c, err := client.New(client.Options{AppID: "wxfanout", AppSecret: "secret", APIBase: fake.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return fake, c
}

const customSend = "/cgi-bin/message/custom/send"

func TestLongTextCappedAtMaxReplyParts(t *testing.T) {
	huge := strings.Repeat("这是一段很长的回复。\n", 4<<20/31) // about 4 MiB: 2,048 parts uncapped
	for _, c := range []struct {
		name          string
		maxParts      int
		late          bool
		wantPassive   bool
		wantAPIParts  int
		wantTotalSent int
	}{
		{"default", 0, false, true, 4, 5},
		{"max_reply_parts=2", 2, false, true, 1, 2},
		{"max_reply_parts=1", 1, false, true, 0, 1},
		{"late", 0, true, false, 5, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake, api := fakeAPI(t)
			var logs syncBuffer
			release := make(chan struct{})
			d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
				if c.late {
					<-release
				}
				return &reply.Text{Content: huge}, nil, nil
			})
			timeout := 3 * time.Second
			if c.late {
				timeout = 100 * time.Millisecond
			}
			h, err := host.New(host.Options{Token: testToken, AppID: testAppID, Dispatcher: d, Sender: api.SendReply,
				MaxReplyParts: c.maxParts, ReplyTimeout: timeout, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			w := newWechat(t, false)
			_, body := serve(h, w.request("/", textXML("oHuge", "long", 1)))
			passive := string(body) != "success"
			if passive != c.wantPassive {
				t.Errorf("passive answer: %v, want %v", passive, c.wantPassive)
			}
			if passive && !strings.HasPrefix(huge, parseReply(t, body).Content) {
				t.Error("the passive answer is not the text's first part")
			}
			close(release)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.Close(ctx); err != nil { // waits for the API sends
				t.Fatal(err)
			}
			if n := len(fake.CallsTo(customSend)); n != c.wantAPIParts {
				t.Errorf("%d customer-service calls, want %d", n, c.wantAPIParts)
			}
			total := len(fake.CallsTo(customSend))
			if passive {
				total++
			}
			if total != c.wantTotalSent {
				t.Errorf("%d messages in all, want %d", total, c.wantTotalSent)
			}
			if !strings.Contains(logs.String(), "long text cut to max_reply_parts") || !strings.Contains(logs.String(), "user="+host.UserHash("oHuge")) {
				t.Errorf("no log line for the dropped rest:\n%s", logs.String())
			}
		})
	}
}

// robot.send goes through SendSplit: a 1 MiB text is max_reply_parts
// messages, not 512.
func TestSendSplitCapped(t *testing.T) {
	fake, api := fakeAPI(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	big := strings.Repeat("x", 1<<20)
	if err := host.SendSplit(context.Background(), api.SendReply, "oBig", &reply.Text{Content: big}, 3, log); err != nil {
		t.Fatal(err)
	}
	calls := fake.CallsTo(customSend)
	if len(calls) != 3 {
		t.Fatalf("%d customer-service calls for 1 MiB with max 3 parts", len(calls))
	}
	for _, m := range fake.Messages() {
		if text, _ := m.Body["text"].(map[string]any)["content"].(string); len(text) != host.MaxTextBytes {
			t.Errorf("part of %d bytes, want full parts of %d", len(text), host.MaxTextBytes)
		}
	}
	if !strings.Contains(logs.String(), "dropped_bytes=1042432") {
		t.Errorf("log does not say how much was dropped:\n%s", logs.String())
	}
	// robot.send may name any user: the log names it by the hash.
	if strings.Contains(logs.String(), "oBig") || !strings.Contains(logs.String(), "user="+host.UserHash("oBig")) {
		t.Errorf("log does not name the user by the hash:\n%s", logs.String())
	}
	// maxParts 0 is the default.
	fake.Reset()
	if err := host.SendSplit(context.Background(), api.SendReply, "oBig", &reply.Text{Content: big}, 0, log); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.CallsTo(customSend)); n != host.DefaultMaxReplyParts {
		t.Errorf("default cap: %d calls, want %d", n, host.DefaultMaxReplyParts)
	}
}
