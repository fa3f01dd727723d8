package host

import (
	"context"
	"sync"
	"sync/atomic"
)

// keyedMutex serialises work per key (per user): messages of one user run
// one at a time, messages of different users in parallel.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{} // holds a token while locked
	refs int           // holders and waiters; the entry is dropped at 0
}

// lock waits for key's lock until ctx ends, and returns its unlock.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{sem: make(chan struct{}, 1)}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	release := func() {
		k.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case l.sem <- struct{}{}:
		return func() {
			<-l.sem
			release()
		}, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// notifier wakes goroutines waiting for a key to change in this process.
// Entries are counted so that keys changed only by other processes (which
// never broadcast here) do not stay in the map.
type notifier struct {
	mu      sync.Mutex
	waiters map[string]*waitEntry
}

type waitEntry struct {
	ch chan struct{}
	n  int // goroutines between wait and release
}

// wait returns a channel closed at the next broadcast of key, and a
// release the caller must call when it stops waiting.
func (n *notifier) wait(key string) (<-chan struct{}, func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.waiters == nil {
		n.waiters = make(map[string]*waitEntry)
	}
	w := n.waiters[key]
	if w == nil {
		w = &waitEntry{ch: make(chan struct{})}
		n.waiters[key] = w
	}
	w.n++
	return w.ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		w.n--
		if w.n == 0 && n.waiters[key] == w {
			delete(n.waiters, key)
		}
	}
}

func (n *notifier) broadcast(key string) {
	n.mu.Lock()
	w := n.waiters[key]
	delete(n.waiters, key)
	n.mu.Unlock()
	if w != nil {
		close(w.ch)
	}
}

// pending reports how many keys have waiters (tests).
func (n *notifier) pending() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.waiters)
}

// Stats counts what the reply engine did since the Handler was made.
// Scripts read it as robot.stats() (the luar tags name the fields there).
type Stats struct {
	// Deliveries is every message request WeChat made, retries included.
	Deliveries int64 `luar:"deliveries"`
	// Retries is the deliveries answered from the dedup cache (or by
	// waiting for the first delivery's handlers) instead of running them.
	Retries int64 `luar:"retries"`
	// Late is the replies that missed the deadline and went out through
	// the customer-service API.
	Late int64 `luar:"late_replies"`
	// APISends is every customer-service message sent: late replies, the
	// rest of long texts.
	APISends int64 `luar:"api_sends"`
	// Failures is handler errors and replies that could not be delivered.
	Failures int64 `luar:"failures"`
	// Withheld is the replies withheld because the session could not be
	// loaded or saved (answered with store_error_reply); also counted in
	// Failures.
	Withheld int64 `luar:"withheld"`
}

type counters struct {
	deliveries, retries, late, apiSends, failures, withheld atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Deliveries: c.deliveries.Load(),
		Retries:    c.retries.Load(),
		Late:       c.late.Load(),
		APISends:   c.apiSends.Load(),
		Failures:   c.failures.Load(),
		Withheld:   c.withheld.Load(),
	}
}
