// Package activity counts work in flight, as sync.WaitGroup does, and also
// lets a caller wait until none is left without the WaitGroup's rule that
// no Add may race with Wait: a test harness waits for a bot's background
// work between deliveries while the bot may still start more.
package activity

import (
	"context"
	"sync"
)

// Group counts work in flight. The zero value is ready to use.
type Group struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while nobody waits
}

// Add adds delta, which may be negative, to the count. The count must not
// go below zero.
func (g *Group) Add(delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n += delta
	switch {
	case g.n < 0:
		panic("activity: negative count")
	case g.n == 0 && g.idle != nil:
		close(g.idle)
		g.idle = nil
	}
}

// Done subtracts one from the count.
func (g *Group) Done() { g.Add(-1) }

// Wait blocks until the count is zero.
func (g *Group) Wait() { g.WaitContext(context.Background()) }

// WaitContext blocks until the count is zero, or returns ctx's error when
// ctx ends first.
func (g *Group) WaitContext(ctx context.Context) error {
	g.mu.Lock()
	if g.n == 0 {
		g.mu.Unlock()
		return nil
	}
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	idle := g.idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
