package host_test

// A reply never claims what was not stored: store failures withhold the
// handlers' reply, and leases left over from an outage do not hold users.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
	"github.com/luarobot/luarobot/store/memory"
)

const busy = "系统繁忙，请稍后再试"

// brokenSessions fails loads or saves on demand: a Redis that is down, or
// a disk that is full (bbolt's commit then fails with ENOSPC).
type brokenSessions struct {
	*memory.Store
	failLoads, failSaves atomic.Bool
}

func (b *brokenSessions) LoadSession(ctx context.Context, id string) ([]byte, error) {
	if b.failLoads.Load() {
		return nil, errors.New("redis 127.0.0.1:6379: load session \"" + id + "\": connection refused")
	}
	return b.Store.LoadSession(ctx, id)
}

func (b *brokenSessions) SaveSession(ctx context.Context, id string, data []byte) error {
	if b.failSaves.Load() {
		return fmt.Errorf("bolt luarobot.db: save session %q: %w", id, &os.PathError{Op: "write", Path: "luarobot.db", Err: syscall.ENOSPC})
	}
	return b.Store.SaveSession(ctx, id, data)
}

// counter is a bot that counts the user's messages in the session and tells
// the count: a reply that claims a stored write.
type counter struct {
	runs    atomic.Int64
	release chan struct{} // nil: answer at once
}

func (c *counter) Dispatch(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	c.runs.Add(1)
	if c.release != nil {
		select {
		case <-c.release:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	var s struct{ N int }
	if len(session) > 0 {
		if err := json.Unmarshal(session, &s); err != nil {
			return nil, nil, err
		}
	}
	s.N++
	out, _ := json.Marshal(s)
	return &reply.Text{Content: fmt.Sprintf("count=%d", s.N)}, out, nil
}

func storedCount(t *testing.T, s *memory.Store, user string) int {
	t.Helper()
	data, err := s.LoadSession(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ N int }
	if len(data) > 0 {
		json.Unmarshal(data, &v)
	}
	return v.N
}

// counterHost is a handler serving the counter bot on sessions that break
// on demand, logging to logs.
type counterHost struct {
	h        *host.Handler
	sessions *brokenSessions
	bot      *counter
	logs     *syncBuffer
	metrics  *metrics.Metrics
}

// deliveries returns luarobot_deliveries_total of text messages by outcome.
func (c counterHost) deliveries(t *testing.T) map[string]float64 {
	t.Helper()
	s := metricstest.Gather(t, c.metrics.Gatherer())
	out := map[string]float64{}
	for _, o := range []string{"replied", "empty", "late", "retry", "error"} {
		if v := s.Value("luarobot_deliveries_total", "type", "text", "outcome", o); v != 0 {
			out[o] = v
		}
	}
	return out
}

func newCounterHost(t *testing.T, storeErrorReply string) counterHost {
	c := counterHost{sessions: &brokenSessions{Store: memory.New(memory.Options{})}, bot: &counter{}, logs: &syncBuffer{},
		metrics: metrics.New()}
	c.h = newHandler(t, host.Options{Dispatcher: c.bot, Sessions: c.sessions, StoreErrorReply: storeErrorReply, Metrics: c.metrics,
		Logger: slog.New(slog.NewTextHandler(c.logs, nil))})
	return c
}

// answerOf is what the user sees of a delivery: the text, or "success".
func answerOf(t *testing.T, body []byte) string {
	t.Helper()
	if string(body) == "success" {
		return "success"
	}
	return parseReply(t, body).Content
}

func TestSessionSaveFailureWithholdsReply(t *testing.T) {
	for _, storeErrorReply := range []string{busy, ""} {
		t.Run(fmt.Sprintf("store_error_reply=%q", storeErrorReply), func(t *testing.T) {
			want := storeErrorReply
			if want == "" {
				want = "success"
			}
			c := newCounterHost(t, storeErrorReply)
			h, sessions, bot, logs := c.h, c.sessions, c.bot, c.logs
			w := newWechat(t, false)
			if _, body := serve(h, w.request("/", textXML("u1", "count", 1))); answerOf(t, body) != "count=1" {
				t.Fatalf("first message: %s", body)
			}

			sessions.failSaves.Store(true) // the disk is full
			msg := textXML("u1", "count", 2)
			if _, body := serve(h, w.request("/", msg)); answerOf(t, body) != want {
				t.Errorf("with the save failing the user was told %q, want %q", answerOf(t, body), want)
			}
			// WeChat's retry of that message gets the same, without
			// running the handlers again.
			if _, body := serve(h, w.request("/", msg)); answerOf(t, body) != want {
				t.Errorf("the retry was told %q, want %q", answerOf(t, body), want)
			}
			if bot.runs.Load() != 2 {
				t.Errorf("handlers ran %d times, want 2", bot.runs.Load())
			}
			l := logs.String()
			for _, s := range []string{"session not saved; the handlers' reply is withheld", "no space left on device", "user=" + host.UserHash("u1"), "outcome=error"} {
				if !strings.Contains(l, s) {
					t.Errorf("log lacks %q:\n%s", s, l)
				}
			}
			if s := h.Stats(); s.Withheld != 1 {
				t.Errorf("stats %+v, want 1 withheld", s)
			}
			// The metrics count the withheld reply as an error, and its
			// retry as a retry.
			if got, want := c.deliveries(t), map[string]float64{"replied": 1, "error": 1, "retry": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("luarobot_deliveries_total by outcome: %v, want %v", got, want)
			}

			sessions.failSaves.Store(false) // space again
			if _, body := serve(h, w.request("/", textXML("u1", "count", 3))); answerOf(t, body) != "count=2" {
				t.Errorf("after the disk has room: %s, want count=2 (the withheld count was never stored)", body)
			}
			if n := storedCount(t, sessions.Store, "u1"); n != 2 {
				t.Errorf("stored count %d, want 2", n)
			}
		})
	}
}

// When the session cannot be loaded, the handlers do not run on a guessed
// empty one: they would greet a regular as a new user, and their save
// would overwrite the real session.
func TestSessionLoadFailureDoesNotRunHandlers(t *testing.T) {
	c := newCounterHost(t, busy)
	h, sessions, bot, logs := c.h, c.sessions, c.bot, c.logs
	w := newWechat(t, false)
	for i := range 3 {
		serve(h, w.request("/", textXML("u1", "count", int64(10+i))))
	}
	sessions.failLoads.Store(true)
	msg := textXML("u1", "count", 20)
	for attempt := range 2 {
		if _, body := serve(h, w.request("/", msg)); answerOf(t, body) != busy {
			t.Errorf("delivery %d with the store down: %q, want %q", attempt+1, answerOf(t, body), busy)
		}
	}
	if bot.runs.Load() != 3 {
		t.Errorf("handlers ran %d times, want 3: not on an unreadable session", bot.runs.Load())
	}
	if !strings.Contains(logs.String(), "session not loaded; the handlers did not run") || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log does not say why:\n%s", logs.String())
	}
	if got, want := c.deliveries(t), map[string]float64{"replied": 3, "error": 1, "retry": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("luarobot_deliveries_total by outcome: %v, want %v", got, want)
	}
	sessions.failLoads.Store(false)
	if _, body := serve(h, w.request("/", textXML("u1", "count", 21))); answerOf(t, body) != "count=4" {
		t.Errorf("after the store is back: %s, want count=4", body)
	}
}

// A late reply whose session save failed is not sent either: the user gets
// store_error_reply through the API when one is configured, and nothing
// (as with success) when not.
func TestLateReplyWithFailedSaveIsWithheld(t *testing.T) {
	for _, storeErrorReply := range []string{busy, ""} {
		t.Run(fmt.Sprintf("store_error_reply=%q", storeErrorReply), func(t *testing.T) {
			sessions := &brokenSessions{Store: memory.New(memory.Options{})}
			sessions.failSaves.Store(true)
			bot := &counter{release: make(chan struct{})}
			api := newAPIRecorder()
			h, err := host.New(host.Options{Token: testToken, AppID: testAppID, Dispatcher: bot, Sessions: sessions,
				StoreErrorReply: storeErrorReply, ReplyTimeout: 100 * time.Millisecond, Sender: api.send,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			w := newWechat(t, false)
			if _, body := serve(h, w.request("/", textXML("u1", "count", 30))); string(body) != "success" {
				t.Fatalf("late delivery answered %q", body)
			}
			close(bot.release)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := h.Close(ctx); err != nil { // waits for the late delivery
				t.Fatal(err)
			}
			var want []string
			if storeErrorReply != "" {
				want = []string{"u1:text:" + busy}
			}
			if got := api.all(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("sent through the API: %q, want %q", got, want)
			}
			if n := storedCount(t, sessions.Store, "u1"); n != 0 {
				t.Errorf("stored count %d", n)
			}
		})
	}
}

// outage is a dedup store that can be switched off, as Redis killed and
// restarted with its data.
type outage struct {
	*memory.Store
	down atomic.Bool
}

var errDown = errors.New("redis 127.0.0.1:6379: connection refused")

func (o *outage) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	if o.down.Load() {
		return false, nil, errDown
	}
	return o.Store.AddDedup(ctx, key, v, ttl)
}

func (o *outage) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	if o.down.Load() {
		return nil, errDown
	}
	return o.Store.LoadDedup(ctx, key)
}

func (o *outage) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if o.down.Load() {
		return false, errDown
	}
	return o.Store.SwapDedup(ctx, key, old, new, ttl)
}

// The store goes down while a handler holds the user's lease, and comes
// back with the lease still in it (Redis restores its dump): the user's
// next message runs at once, not after the lease expires.
func TestLeaseHeldDuringOutageIsReleasedWhenStoreReturns(t *testing.T) {
	var logs syncBuffer
	shared := &outage{Store: memory.New(memory.Options{})}
	bot := &counter{release: make(chan struct{})}
	h := newHandler(t, host.Options{Dispatcher: bot, Sessions: shared.Store, Dedup: shared, SharedStore: true,
		ReplyTimeout: 3 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	first := make(chan string, 1)
	go func() {
		_, body := serve(h, w.request("/", textXML("u1", "count", 40)))
		first <- answerOf(t, body)
	}()
	waitFor(t, func() bool { return bot.runs.Load() == 1 })
	shared.down.Store(true)
	close(bot.release) // the handler ends while the store is down: no release
	<-first
	waitFor(t, func() bool { return strings.Contains(logs.String(), "user lease not released") })
	time.Sleep(700 * time.Millisecond) // a few rounds of the background release meet the outage
	shared.down.Store(false)

	bot.release = nil
	start := time.Now()
	_, body := serve(h, w.request("/", textXML("u1", "count", 41)))
	if got := answerOf(t, body); got != "count=2" {
		t.Errorf("next message after the outage: %q (after %v), want count=2 in time", got, time.Since(start))
	}
	if strings.Contains(logs.String(), "earlier messages of the user still running") {
		t.Errorf("a message was dropped for a stale lease:\n%s", logs.String())
	}
}

// A lease left by a process that died (or restored from a dump after its
// holder gave up) lapses within the lease TTL: the user's message waits,
// then runs, and is not dropped.
func TestOrphanedLeaseDoesNotDropMessages(t *testing.T) {
	var logs syncBuffer
	shared := memory.New(memory.Options{})
	h := newHandler(t, host.Options{Dispatcher: &counter{}, Sessions: shared, Dedup: shared, SharedStore: true,
		ReplyTimeout: 3 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	host.SetLeaseTTL(h, 500*time.Millisecond)
	// The dead process's lease, as long as leases live.
	shared.AddDedup(context.Background(), "lease|"+testAppID+"|u1", []byte("0123456789abcdef0123456789abcdef"), 500*time.Millisecond)
	w := newWechat(t, false)
	if _, body := serve(h, w.request("/", textXML("u1", "count", 50))); answerOf(t, body) != "count=1" {
		t.Errorf("message behind an orphaned lease: %s", body)
	}
}

// A handler that runs longer than the lease TTL keeps its lease (renewed),
// so another process does not run the same user's next message alongside.
func TestLeaseRenewedWhileHandlerRuns(t *testing.T) {
	shared := memory.New(memory.Options{})
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		time.Sleep(700 * time.Millisecond) // over two lease TTLs
		return nil, append(append([]byte(nil), session...), msg.String("content")...), nil
	})
	a := newHandler(t, host.Options{Dispatcher: d, Sessions: shared, Dedup: shared, SharedStore: true, ReplyTimeout: 3 * time.Second})
	b := newHandler(t, host.Options{Dispatcher: d, Sessions: shared, Dedup: shared, SharedStore: true, ReplyTimeout: 3 * time.Second})
	host.SetLeaseTTL(a, 300*time.Millisecond)
	host.SetLeaseTTL(b, 300*time.Millisecond)
	w := newWechat(t, false)
	var wg sync.WaitGroup
	for i, h := range []*host.Handler{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 100 * time.Millisecond)
			serve(h, w.request("/", textXML("u1", "x", int64(60+i))))
		}()
	}
	wg.Wait()
	if got, _ := shared.LoadSession(context.Background(), "u1"); string(got) != "xx" {
		t.Errorf("session %q: the second process ran while the first still held a renewed lease", got)
	}
}

// brokenAfterWrite runs the next lease command and then reports a broken
// connection: the command reached the store, the answer did not.
type brokenAfterWrite struct {
	*memory.Store
	breakNext atomic.Bool
}

func (b *brokenAfterWrite) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	added, cur, err := b.Store.AddDedup(ctx, key, v, ttl)
	if strings.HasPrefix(key, "lease|") && b.breakNext.CompareAndSwap(true, false) {
		return false, nil, errors.New("redis 127.0.0.1:6379: add dedup: EOF")
	}
	return added, cur, err
}

// A lease taken by a command whose answer was lost (Redis killed right
// after it wrote the lease to its append-only file) is released once the
// store answers: the user's next message is not held for the lease's TTL.
func TestLeaseTakenWithLostAnswerIsReleased(t *testing.T) {
	var logs syncBuffer
	shared := &brokenAfterWrite{Store: memory.New(memory.Options{})}
	h := newHandler(t, host.Options{Dispatcher: &counter{}, Sessions: shared.Store, Dedup: shared, SharedStore: true,
		ReplyTimeout: 3 * time.Second, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	w := newWechat(t, false)
	shared.breakNext.Store(true)
	if _, body := serve(h, w.request("/", textXML("u1", "count", 70))); answerOf(t, body) != "count=1" {
		t.Fatalf("first message: %s", body)
	}
	start := time.Now()
	if _, body := serve(h, w.request("/", textXML("u1", "count", 71))); answerOf(t, body) != "count=2" {
		t.Errorf("next message: %q after %v, want count=2 in time", answerOf(t, body), time.Since(start))
	}
	// Logged by the background release, which may finish after the answer.
	waitFor(t, func() bool { return strings.Contains(logs.String(), "user lease left by a store failure released") })
}

// keyQuotingOutage fails like the Redis store does, quoting the record's
// key ("add dedup \"wx...|oSecret|...\"") in its errors.
type keyQuotingOutage struct{ *memory.Store }

func (keyQuotingOutage) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	return false, nil, fmt.Errorf("redis 127.0.0.1:6379: add dedup %q: connection refused", key)
}

func (keyQuotingOutage) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	return nil, fmt.Errorf("redis 127.0.0.1:6379: load dedup %q: connection refused", key)
}

func (keyQuotingOutage) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	return false, fmt.Errorf("redis 127.0.0.1:6379: swap dedup %q: connection refused", key)
}

// With the store down, every log line of the delivery names the user by
// the hash: the dedup and lease keys carry the openid, and so do the
// store's errors that quote them. log_user_ids shows it again.
func TestStoreOutageLogsNoOpenID(t *testing.T) {
	const openid = "oSecretOpenID0123456789abcd"
	for _, logIDs := range []bool{false, true} {
		var logs syncBuffer
		down := keyQuotingOutage{memory.New(memory.Options{})}
		h := newHandler(t, host.Options{Dispatcher: &counter{}, Sessions: down.Store, Dedup: down, SharedStore: true,
			LogUserIDs: logIDs, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		w := newWechat(t, false)
		if _, body := serve(h, w.request("/", textXML(openid, "count", 60))); answerOf(t, body) != "count=1" {
			t.Fatalf("answer without the dedup store: %s", body)
		}
		l := logs.String()
		if !strings.Contains(l, "dedup store unavailable") || !strings.Contains(l, "user lease unavailable") {
			t.Fatalf("the outage is not logged:\n%s", l)
		}
		if got := strings.Contains(l, openid); got != logIDs {
			t.Errorf("log_user_ids=%v: openid in the log = %v:\n%s", logIDs, got, l)
		}
		if !logIDs && !strings.Contains(l, host.UserHash(openid)) {
			t.Errorf("the log does not name the user by the hash:\n%s", l)
		}
	}
}
