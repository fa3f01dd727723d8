package host_test

// Regression tests for the reply engine under partial failure: slow or
// failing stores, dropped connections, two processes, Close under load.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store/memory"
)

// latentDedup adds a network round trip to every dedup call (Redis across
// a LAN or a busy server).
type latentDedup struct {
	*memory.Store
	rtt time.Duration
}

func (l latentDedup) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	time.Sleep(l.rtt)
	return l.Store.AddDedup(ctx, key, v, ttl)
}

func (l latentDedup) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	time.Sleep(l.rtt)
	return l.Store.LoadDedup(ctx, key)
}

func (l latentDedup) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	time.Sleep(l.rtt)
	return l.Store.SwapDedup(ctx, key, old, new, ttl)
}

// TestHandoverToRetryInAnotherProcess: the first delivery timed out in
// process A; a retry waits in process B (which polls the store, with a
// round trip of latency) when A's handler finishes. The open retry carries
// the reply, at whatever moment of its wait the handler finishes.
func TestHandoverToRetryInAnotherProcess(t *testing.T) {
	const rounds = 6
	lost := 0
	for i := range rounds {
		shared := latentDedup{memory.New(memory.Options{}), 10 * time.Millisecond}
		g := newGate("late")
		// No Sender: a reply not handed over is lost, which the test sees.
		a := newHandler(t, host.Options{Dispatcher: g, Dedup: shared, ReplyTimeout: 100 * time.Millisecond})
		b := newHandler(t, host.Options{Dispatcher: g, Dedup: shared, ReplyTimeout: 2 * time.Second})
		w := newWechat(t, false)
		msg := textXML("u1", "hi", int64(8000+i))
		serve(a, w.request("/", msg))
		done := make(chan string)
		go func() {
			_, body := serve(b, w.request("/", msg))
			done <- string(body)
		}()
		waitFor(t, func() bool { return b.Stats().Retries == 1 })
		time.Sleep(time.Duration(100+i*37) * time.Millisecond)
		close(g.release)
		if body := <-done; !strings.Contains(body, "late") {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d open retries in another process answered success instead of carrying the reply", lost, rounds)
	}
}

// failingHandover fails the ready→sent swap, as a Redis timeout would.
type failingHandover struct{ *memory.Store }

func (f failingHandover) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	// Records are [version, state, waiterUntil(8), payload]: 3 ready, 4 sent.
	if len(old) >= 2 && old[1] == 3 && len(new) >= 2 && new[1] == 4 {
		return false, errors.New("redis: swap dedup: timeout")
	}
	return f.Store.SwapDedup(ctx, key, old, new, ttl)
}

// TestStoreErrorDuringHandoverStillDelivers: a retry announced itself and
// went away; taking the reply back for the API fails in the store. The
// reply must still go out.
func TestStoreErrorDuringHandoverStillDelivers(t *testing.T) {
	dd := failingHandover{memory.New(memory.Options{})}
	g := newGate("must arrive")
	api := newAPIRecorder()
	h := newHandler(t, host.Options{Dispatcher: g, Dedup: dd, ReplyTimeout: 100 * time.Millisecond, Sender: api.send})
	w := newWechat(t, false)
	msg := textXML("u1", "hi", 77)
	serve(h, w.request("/", msg))
	other := newHandler(t, host.Options{Dispatcher: g, Dedup: dd, ReplyTimeout: 150 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(60 * time.Millisecond); cancel() }()
	serve(other, w.request("/", msg).WithContext(ctx))
	close(g.release)
	if sent := api.waitSent(t, 1); sent[0] != "u1:text:must arrive" {
		t.Errorf("API got %v", sent)
	}
}

// TestDroppedConnectionKeepsDedup: WeChat hangs up before the engine
// records the delivery; the retry must still not run the handlers again.
func TestDroppedConnectionKeepsDedup(t *testing.T) {
	var runs atomic.Int64
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		runs.Add(1)
		return &reply.Text{Content: "x"}, nil, nil
	})
	h := newHandler(t, host.Options{Dispatcher: d})
	w := newWechat(t, false)
	msg := textXML("u1", "hi", 88)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	serve(h, w.request("/", msg).WithContext(ctx))
	serve(h, w.request("/", msg))
	if runs.Load() != 1 {
		t.Errorf("handlers ran %d times for one MsgId", runs.Load())
	}
}

// slowDedup takes delay to answer AddDedup, unless the context ends.
type slowDedup struct {
	*memory.Store
	delay time.Duration
}

func (s slowDedup) AddDedup(ctx context.Context, key string, v []byte, ttl time.Duration) (bool, []byte, error) {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
	return s.Store.AddDedup(ctx, key, v, ttl)
}

// TestSlowStoreKeepsTheDeadline: a store slower than reply_timeout does
// not make the answer late.
func TestSlowStoreKeepsTheDeadline(t *testing.T) {
	h := newHandler(t, host.Options{Dispatcher: echo, Dedup: slowDedup{memory.New(memory.Options{}), time.Minute}, ReplyTimeout: 200 * time.Millisecond})
	w := newWechat(t, false)
	start := time.Now()
	serve(h, w.request("/", textXML("u1", "hi", 99)))
	// The store stalls far longer than this bound, which leaves room for
	// a busy machine running -race.
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("answered after %v with reply_timeout 200ms", took)
	}
}

// TestCloseWhileServing: Close while requests keep arriving neither races
// nor hangs; deliveries after Close are refused with 503.
func TestCloseWhileServing(t *testing.T) {
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, s []byte) (reply.Reply, []byte, error) {
		time.Sleep(time.Millisecond)
		return &reply.Text{Content: "x"}, nil, nil
	})
	h, err := host.New(host.Options{Token: testToken, AppID: testAppID, Dispatcher: d, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := newWechat(t, false)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				serve(h, w.request("/", textXML("u", "x", int64(g*1_000_000+i))))
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Errorf("Close under load: %v", err)
	}
	close(stop)
	wg.Wait()
	if code, _ := serve(h, w.request("/", textXML("u", "after", 999_999_999))); code != 503 {
		t.Errorf("a delivery after Close got %d, want 503", code)
	}
}

// TestSharedStoreSerialisesUsersAcrossProcesses: two processes on one
// store, one user's two messages: both session changes survive.
func TestSharedStoreSerialisesUsersAcrossProcesses(t *testing.T) {
	shared := memory.New(memory.Options{})
	d := funcDispatcher(func(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
		time.Sleep(50 * time.Millisecond) // the read-modify-write window
		return nil, append(append([]byte(nil), session...), msg.String("content")...), nil
	})
	a := newHandler(t, host.Options{Dispatcher: d, Sessions: shared, Dedup: shared, SharedStore: true})
	b := newHandler(t, host.Options{Dispatcher: d, Sessions: shared, Dedup: shared, SharedStore: true})
	w := newWechat(t, false)
	var wg sync.WaitGroup
	for i, h := range []*host.Handler{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(h, w.request("/", textXML("u1", "x", int64(500+i))))
		}()
	}
	wg.Wait()
	if got, _ := shared.LoadSession(context.Background(), "u1"); string(got) != "xxxx" {
		t.Errorf("session %q: changes were lost across processes", got)
	}
}
