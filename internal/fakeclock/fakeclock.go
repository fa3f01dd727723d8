// Package fakeclock is a wall clock that moves only when told: the clock
// `luarobot test` gives a bot, and the one tests give the host's pieces
// whose behaviour depends on the time (dialog timeouts, token back-off).
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a fake wall clock, safe for concurrent use: a bot's goroutines
// read it while a test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock that reads start until it is advanced.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's time; pass the method value where a
// func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
