package bottest

import (
	"sync"
	"time"
)

// clock is a test's fake wall clock: the only one its bot reads (message
// and reply timestamps, the replay window, session and robot.store TTLs,
// dedup records, dialog timeouts, os.time and os.date, access-token
// expiry). It starts at the real time, whole seconds, and moves only when
// told: one second per delivery, and t.clock:advance.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Unix(time.Now().Unix(), 0)}
}

// Now is the fake time; it is safe for concurrent use, as the bot's
// goroutines read it.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
