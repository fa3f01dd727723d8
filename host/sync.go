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
	// free keeps dropped entries for reuse (at most maxFreeLocks): a
	// message takes a lock and gives it back, and the entry, its channel
	// and its unlock function need not be made anew each time.
	free []*keyLock
}

// maxFreeLocks bounds the entries kept for reuse: about as many as
// messages run at once.
const maxFreeLocks = 64

type keyLock struct {
	k      *keyedMutex
	key    string
	sem    chan struct{} // holds a token while locked
	refs   int           // holders and waiters; the entry is dropped at 0
	unlock func()        // l.release after taking the token back; made once
}

// lock waits for key's lock until ctx ends, and returns its unlock. Call
// unlock exactly once: the entry is reused, so a second call would free the
// lock of whoever holds it next, another user perhaps.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = make(map[string]*keyLock)
	}
	l := k.locks[key]
	if l == nil {
		l = k.newLock(key)
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()

	select {
	case l.sem <- struct{}{}:
		return l.unlock, nil
	case <-ctx.Done():
		l.release()
		return nil, ctx.Err()
	}
}

// newLock returns an entry for key, a reused one if there is one. k.mu is
// held.
func (k *keyedMutex) newLock(key string) *keyLock {
	if n := len(k.free); n > 0 {
		l := k.free[n-1]
		k.free[n-1] = nil
		k.free = k.free[:n-1]
		l.key = key
		return l
	}
	l := &keyLock{k: k, key: key, sem: make(chan struct{}, 1)}
	l.unlock = func() {
		<-l.sem
		l.release()
	}
	return l
}

// release counts a holder or waiter out, and drops the entry when it was
// the last: nobody refers to it then, and it may be reused.
func (l *keyLock) release() {
	k := l.k
	k.mu.Lock()
	defer k.mu.Unlock()
	l.refs--
	if l.refs > 0 {
		return
	}
	delete(k.locks, l.key)
	l.key = ""
	if len(k.free) < maxFreeLocks {
		k.free = append(k.free, l)
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
