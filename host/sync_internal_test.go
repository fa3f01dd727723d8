package host

import (
	"context"
	"testing"
	"time"
)

// The per-user lock: one holder per key, a waiter gives up when its
// context ends, and entries are dropped (and reused for other keys)
// without one key's unlock touching another key's lock.
func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()
	for round := range 3 { // the later rounds run on reused entries
		unlockA, err := k.lock(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		unlockB, err := k.lock(ctx, "b") // another key: not held up
		if err != nil {
			t.Fatal(err)
		}

		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		if _, err := k.lock(short, "a"); err != context.DeadlineExceeded {
			t.Fatalf("round %d: a second holder of a got %v, want a deadline error", round, err)
		}
		cancel()

		got := make(chan func(), 1)
		go func() {
			unlock, err := k.lock(ctx, "a")
			if err != nil {
				t.Error(err)
			}
			got <- unlock
		}()
		select {
		case <-got:
			t.Fatalf("round %d: a was taken while held", round)
		case <-time.After(20 * time.Millisecond):
		}
		unlockB()
		select {
		case <-got:
			t.Fatalf("round %d: unlocking b let a's waiter in", round)
		case <-time.After(20 * time.Millisecond):
		}
		unlockA()
		select {
		case unlock := <-got:
			unlock()
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: a's waiter did not get the lock", round)
		}

		k.mu.Lock()
		n, free := len(k.locks), len(k.free)
		k.mu.Unlock()
		if n != 0 || free != 2 {
			t.Fatalf("round %d: %d entries left, %d kept for reuse; want 0 and 2", round, n, free)
		}
	}
}
