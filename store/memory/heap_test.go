package memory

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The expiry heap gives its items back earliest first, ties and items
// pushed between pops included.
func TestExpiryHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Unix(1_700_000_000, 0)
	var h expiryHeap
	var popped []time.Time
	for round := 0; round < 50; round++ {
		for range rng.IntN(40) {
			h.push(expiry{key: "k", at: base.Add(time.Duration(rng.IntN(100)) * time.Second)})
		}
		for range rng.IntN(len(h) + 1) {
			popped = append(popped, h.pop().at)
		}
		// What is popped in one round comes out in order; a later round
		// may pop earlier times pushed since.
		for i := 1; i < len(popped); i++ {
			if popped[i].Before(popped[i-1]) {
				t.Fatalf("round %d: popped %v after %v", round, popped[i], popped[i-1])
			}
		}
		popped = popped[:0]
	}
	var last time.Time
	for len(h) > 0 {
		x := h.pop()
		if x.at.Before(last) {
			t.Fatalf("popped %v after %v", x.at, last)
		}
		last = x.at
	}
}
