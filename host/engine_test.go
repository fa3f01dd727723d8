package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

// gate is a dispatcher that counts runs and blocks until released.
type gate struct {
	runs    atomic.Int64
	release chan struct{}
	answer  string
}

func newGate(answer string) *gate { return &gate{release: make(chan struct{}), answer: answer} }

func (g *gate) Dispatch(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	g.runs.Add(1)
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return &reply.Text{Content: g.answer}, nil, nil
}

// TestConcurrentDeliveriesRunOnce: three deliveries of one MsgId at once
// run the handlers once and get three identical answers.
func TestConcurrentDeliveriesRunOnce(t *testing.T) {
	for _, mode := range []string{"plain", "aes"} {
		t.Run(mode, func(t *testing.T) {
			g := newGate("once")
			opts := host.Options{Dispatcher: g, ReplyTimeout: 3 * time.Second}
			if mode == "aes" {
				opts.EncodingAESKey = testAESKey
			}
			h := newHandler(t, opts)
			w := newWechat(t, mode == "aes")
			msg := textXML("u1", "hi", 42)
			var wg sync.WaitGroup
			answers := make([]string, 3)
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, body := serve(h, w.request("/", msg))
					answers[i] = parseReply(t, w.open(body)).Content
				}()
			}
			waitFor(t, func() bool { return h.Stats().Deliveries == 3 })
			close(g.release)
			wg.Wait()
			if g.runs.Load() != 1 {
				t.Errorf("handlers ran %d times, want once", g.runs.Load())
			}
			for i, a := range answers {
				if a != "once" {
					t.Errorf("delivery %d answered %q", i, a)
				}
			}
			if s := h.Stats(); s.Retries != 2 {
				t.Errorf("stats %+v, want 2 retries", s)
			}
		})
	}
}

// TestRetryAfterAnswerReplaysIt: a retry after the answer gets the same reply.
func TestRetryAfterAnswerReplaysIt(t *testing.T) {
	var runs atomic.Int64
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		return &reply.Text{Content: "run " + string(rune('0'+runs.Add(1)))}, nil, nil
	})
	h := newHandler(t, host.Options{Dispatcher: d})
	w := newWechat(t, false)
	msg := clickXML("u1", "music", 1700000000)
	_, first := serve(h, w.request("/", msg))
	_, second := serve(h, w.request("/", msg))
	if parseReply(t, first).Content != "run 1" || parseReply(t, second).Content != "run 1" {
		t.Errorf("answers %s / %s, want the first run's reply twice", first, second)
	}
	// Another click (another CreateTime) is a new event.
	_, third := serve(h, w.request("/", clickXML("u1", "music", 1700000001)))
	if parseReply(t, third).Content != "run 2" {
		t.Errorf("a new event got %s", third)
	}
}

// TestLateReplyGoesThroughAPI: a handler slower than reply_timeout; the
// delivery is answered success in time and the reply arrives once through
// the API.
func TestLateReplyGoesThroughAPI(t *testing.T) {
	g := newGate("slow answer")
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: g, ReplyTimeout: 200 * time.Millisecond, Sender: api.send})
	w := newWechat(t, false)
	start := time.Now()
	code, body := serve(h, w.request("/", textXML("u1", "hi", 43)))
	if code != http.StatusOK || string(body) != "success" {
		t.Fatalf("late delivery answered %d %q, want success", code, body)
	}
	// The handler waits for the gate: the bound leaves room for a busy
	// machine running -race.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("answered after %v, want about reply_timeout", took)
	}
	close(g.release)
	sent := api.waitSent(t, 1)
	if len(sent) != 1 || sent[0] != "u1:text:slow answer" {
		t.Errorf("API got %v", sent)
	}
	// A retry afterwards must not deliver it again.
	if _, body := serve(h, w.request("/", textXML("u1", "hi", 43))); string(body) != "success" {
		t.Errorf("retry after the API delivery answered %q, want success", body)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(api.all()); n != 1 {
		t.Errorf("API called %d times", n)
	}
	if s := h.Stats(); s.Late != 1 || g.runs.Load() != 1 {
		t.Errorf("stats %+v runs %d", s, g.runs.Load())
	}
}

// TestRetryInFlightCarriesLateReply: the first delivery timed out; a retry
// is open when the handler finishes: the retry answers passively and the
// API is not called.
func TestRetryInFlightCarriesLateReply(t *testing.T) {
	g := newGate("for the retry")
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: g, ReplyTimeout: 300 * time.Millisecond, Sender: api.send})
	w := newWechat(t, false)
	msg := textXML("u1", "hi", 44)
	if _, body := serve(h, w.request("/", msg)); string(body) != "success" {
		t.Fatalf("first delivery %q", body)
	}
	h2 := h // the same host; the cross-process case is below
	done := make(chan []byte)
	go func() {
		_, body := serve(h2, w.request("/", msg))
		done <- body
	}()
	waitFor(t, func() bool { return h.Stats().Deliveries == 2 })
	close(g.release)
	body := <-done
	if r := parseReply(t, body); r.Content != "for the retry" {
		t.Errorf("retry answered %s", body)
	}
	time.Sleep(600 * time.Millisecond) // past the handover grace
	if sent := api.all(); len(sent) != 0 {
		t.Errorf("API called although the retry carried the reply: %v", sent)
	}
}

// TestTwoProcessesShareDedup: two hosts on one dedup store (as two
// processes on one Redis) run a message once.
func TestTwoProcessesShareDedup(t *testing.T) {
	shared := memory.New(memory.Options{})
	g := newGate("shared")
	api := newAPIRecorder()
	a := newHandler(t, host.Options{Dispatcher: g, Dedup: shared, ReplyTimeout: 2 * time.Second, Sender: api.send})
	b := newHandler(t, host.Options{Dispatcher: g, Dedup: shared, ReplyTimeout: 2 * time.Second, Sender: api.send})
	w := newWechat(t, false)
	msg := textXML("u1", "hi", 45)
	var wg sync.WaitGroup
	var answers [2]string
	for i, h := range []*host.Handler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := serve(h, w.request("/", msg))
			answers[i] = string(body)
		}()
	}
	waitFor(t, func() bool { return a.Stats().Deliveries+b.Stats().Deliveries == 2 })
	close(g.release)
	wg.Wait()
	for i, ans := range answers {
		if !strings.Contains(ans, "shared") {
			t.Errorf("process %d answered %q", i, ans)
		}
	}
	if g.runs.Load() != 1 {
		t.Errorf("ran %d times across two processes", g.runs.Load())
	}
}

func TestLongTextIsSplit(t *testing.T) {
	long := strings.Repeat("一二三四五六七八九十", 100) // 3,000 bytes
	d := funcDispatcher(func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) {
		return &reply.Text{Content: long}, nil, nil
	})
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: d, Sender: api.send})
	w := newWechat(t, false)
	_, body := serve(h, w.request("/", textXML("u1", "x", 46)))
	first := parseReply(t, body).Content
	if len(first) > host.MaxTextBytes || !strings.HasPrefix(long, first) {
		t.Fatalf("passive part is %d bytes", len(first))
	}
	sent := api.waitSent(t, 1)
	rest := strings.TrimPrefix(sent[0], "u1:text:")
	if first+rest != long {
		t.Errorf("parts do not add up: %d + %d bytes of %d", len(first), len(rest), len(long))
	}
}

// TestWaitSeesTheRestOfALongText: Wait, called by whoever has the answer
// (a test harness between deliveries), returns only once the rest of a
// long text went through the API. The rest used to be counted only after
// the answer was flushed, so a Wait right then found nothing to wait for.
// The flush hook holds the answer's last step open while such a Wait runs.
func TestWaitSeesTheRestOfALongText(t *testing.T) {
	long := strings.Repeat("一二三四五六七八九十", 100) // 3,000 bytes: two parts
	d := funcDispatcher(func(context.Context, *message.Message, []byte) (reply.Reply, []byte, error) {
		return &reply.Text{Content: long}, nil, nil
	})
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: d, Sender: api.send})
	w := newWechat(t, false)
	var sentWhenWaited []string
	waited := make(chan struct{})
	rec := flushHook{httptest.NewRecorder(), func() {
		go func() {
			defer close(waited)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := h.Wait(ctx); err != nil {
				t.Errorf("Wait: %v", err)
			}
			sentWhenWaited = api.all()
		}()
		select {
		case <-waited: // too early: nothing was counted
		case <-time.After(200 * time.Millisecond):
		}
	}}
	h.ServeHTTP(rec, w.request("/", textXML("u1", "x", 47)))
	<-waited
	if first := parseReply(t, rec.Body.Bytes()).Content; !strings.HasPrefix(long, first) || first == long {
		t.Fatalf("passive part: %q", first)
	}
	if len(sentWhenWaited) != 1 {
		t.Errorf("Wait returned with %d parts sent through the API, want the rest (1)", len(sentWhenWaited))
	}
}

// flushHook is a ResponseWriter that runs hook once the answer is flushed.
type flushHook struct {
	*httptest.ResponseRecorder
	hook func()
}

func (f flushHook) Flush() {
	f.ResponseRecorder.Flush()
	f.hook()
}

// TestSessionChangesSerialisedPerUser: two quick messages of one user that
// both change the session; both changes survive.
func TestSessionChangesSerialisedPerUser(t *testing.T) {
	sessions := memory.New(memory.Options{})
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		s := map[string]int{}
		if session != nil {
			if err := json.Unmarshal(session, &s); err != nil {
				return nil, nil, err
			}
		}
		time.Sleep(20 * time.Millisecond) // widen the read-modify-write window
		s[msg.String("content")]++
		out, _ := json.Marshal(s)
		return nil, out, nil
	})
	h := newHandler(t, host.Options{Dispatcher: d, Sessions: sessions})
	w := newWechat(t, false)
	var wg sync.WaitGroup
	for i, word := range []string{"a", "b", "a", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(h, w.request("/", textXML("u1", word, int64(100+i))))
		}()
	}
	wg.Wait()
	data, err := sessions.LoadSession(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != `{"a":2,"b":1,"c":1}` {
		t.Errorf("session %s, want every change kept", data)
	}
}

func TestSendSplit(t *testing.T) {
	api := newAPIRecorder()
	long := strings.Repeat("x", 2000) + "\n" + strings.Repeat("y", 100)
	if err := host.SendSplit(context.Background(), api.send, "u", &reply.Text{Content: long}, 0, nil); err != nil {
		t.Fatal(err)
	}
	got := api.all()
	if len(got) != 2 || got[0] != "u:text:"+strings.Repeat("x", 2000)+"\n" || got[1] != "u:text:"+strings.Repeat("y", 100) {
		t.Errorf("split at the newline: %q", got)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLateReplyThroughFakeWeChat: the same as TestLateReplyGoesThroughAPI
// with the real Client against the fake WeChat API server: the delivery is
// answered success in time, the reply arrives once as a customer-service
// message, and a refusal (45015, outside the 48-hour window) is logged.
func TestLateReplyThroughFakeWeChat(t *testing.T) {
	fake := fakewechat.New("wxlate", "secret")
	defer fake.Close()
	c, err := client.New(client.Options{AppID: "wxlate", AppSecret: "secret", APIBase: fake.URL, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	g := newGate("late but delivered")
	h := newHandler(t, host.Options{Dispatcher: g, ReplyTimeout: 150 * time.Millisecond, Sender: c.SendReply,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	if _, body := serve(h, w.request("/", textXML("oLate", "hi", 901))); string(body) != "success" {
		t.Fatalf("late delivery answered %q", body)
	}
	close(g.release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs, err := fake.WaitMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ToUser != "oLate" || msgs[0].MsgType != "text" ||
		fmt.Sprint(msgs[0].Body["text"]) != "map[content:late but delivered]" {
		t.Errorf("customer-service messages: %+v", msgs)
	}

	// WeChat refuses: the log names the errcode.
	fake.FailOnce("/cgi-bin/message/custom/send", 45015)
	g2 := newGate("refused")
	h2 := newHandler(t, host.Options{Dispatcher: g2, ReplyTimeout: 150 * time.Millisecond, Sender: c.SendReply,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	serve(h2, w.request("/", textXML("oLate", "hi", 902)))
	close(g2.release)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "45015") })
	if !strings.Contains(logs.String(), "reply not delivered through the customer-service API") {
		t.Errorf("log does not say the late reply was refused:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWaitSeesTheLateReply: Wait returns once the work a delivery left
// running is done — here the handler past reply_timeout and its reply
// through the API — so a test harness can read everything a message
// caused; new deliveries are still answered meanwhile.
func TestWaitSeesTheLateReply(t *testing.T) {
	g := newGate("late")
	api := newAPIRecorder()
	now := time.Unix(1_800_000_000, 0)
	h := newHandler(t, host.Options{Dispatcher: g, ReplyTimeout: 100 * time.Millisecond, Sender: api.send,
		Now: func() time.Time { return now }})
	w := newWechat(t, false)
	w.nowUnix = now.Unix() // signed on the handler's clock, far from the real one
	if _, body := serve(h, w.request("/", textXML("u1", "hi", 44))); string(body) != "success" {
		t.Fatalf("answered %q", body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.Wait(ctx); err == nil {
		t.Fatal("Wait returned while the handler was still running")
	}
	close(g.release)
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if sent := api.all(); len(sent) != 1 || sent[0] != "u1:text:late" {
		t.Errorf("after Wait the API got %v", sent)
	}
	if code, _ := serve(h, w.request("/", textXML("u1", "again", 45))); code != http.StatusOK {
		t.Errorf("a delivery after Wait: %d", code)
	}
}

// TestOneUserOneHandlerUnderLockReuse: many users' messages at once, with
// a handler_timeout so short that some give up waiting for their user's
// lock (its entry goes back to the free list and is reused for another
// user); never two handlers of one user at once.
func TestOneUserOneHandlerUnderLockReuse(t *testing.T) {
	var running sync.Map // user -> *atomic.Int32
	var overlaps atomic.Int32
	d := funcDispatcher(func(_ context.Context, m *message.Message, _ []byte) (reply.Reply, []byte, error) {
		v, _ := running.LoadOrStore(m.Source, new(atomic.Int32))
		n := v.(*atomic.Int32)
		if n.Add(1) != 1 {
			overlaps.Add(1)
		}
		time.Sleep(time.Millisecond)
		n.Add(-1)
		return &reply.Text{Content: "ok"}, nil, nil
	})
	h := newHandler(t, host.Options{Dispatcher: d, HandlerTimeout: 5 * time.Millisecond, ReplyTimeout: 2 * time.Second})
	w := newWechat(t, false)
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				user := "u" + strconv.Itoa((g+i)%4)
				serve(h, w.request("/", textXML(user, "x", int64(g*1000+i))))
			}
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n != 0 {
		t.Errorf("%d times two handlers of one user ran at once", n)
	}
}
