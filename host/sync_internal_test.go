package host

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
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

// TestKeyedMutexExclusiveUnderReuse: many goroutines on few keys, some
// giving up while they wait, so that entries are dropped to the free list
// and reused for other keys all the time; never two holders of one key.
func TestKeyedMutexExclusiveUnderReuse(t *testing.T) {
	var k keyedMutex
	const keys = 5
	var held [keys]atomic.Int32
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 2000 {
				i := rng.IntN(keys)
				ctx := context.Background()
				var cancel context.CancelFunc = func() {}
				if rng.IntN(3) == 0 {
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rng.IntN(50))*time.Microsecond)
				}
				unlock, err := k.lock(ctx, "u"+strconv.Itoa(i))
				cancel()
				if err != nil {
					continue
				}
				if n := held[i].Add(1); n != 1 {
					t.Errorf("key %d held %d times at once", i, n)
				}
				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(20)) * time.Microsecond)
				}
				held[i].Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.locks) != 0 {
		t.Errorf("%d entries left", len(k.locks))
	}
	for _, l := range k.free {
		if len(l.sem) != 0 || l.refs != 0 {
			t.Errorf("a free entry holds a token (%d) or references (%d)", len(l.sem), l.refs)
		}
	}
}
