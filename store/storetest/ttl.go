package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/luarobot/luarobot/store"
)

// The TTL tests below run on shared, busy machines, where a 300ms sleep can
// last a second. So each check takes the clock around every step and only
// judges what the times prove: "gone while its TTL had surely not run out"
// is a failure, "gone, but the machine stalled past the TTL" proves
// nothing, and the check runs again with longer TTLs.

// errSlow marks an attempt whose outcome the timings cannot judge.
var errSlow = errors.New("too slow to judge")

// expiryWait bounds how long a check waits for an expired key to go away.
// Expiry is polled, so a working store ends the wait much sooner.
const expiryWait = 10 * time.Second

// timed runs try up to 4 times, doubling unit (the TTL under test) each
// time, until it passes or fails for real; each attempt gets its own key.
func timed(t *testing.T, unit time.Duration, try func(unit time.Duration, key string) error) {
	t.Helper()
	for attempt := 0; attempt < 4; attempt++ {
		err := try(unit, "k"+strconv.Itoa(attempt))
		if err == nil {
			return
		}
		if !errors.Is(err, errSlow) {
			t.Fatal(err)
		}
		t.Logf("attempt %d with TTL %v: %v; trying a longer TTL", attempt, unit, err)
		unit *= 2
	}
	t.Skip("the machine was too busy for this timing test in 4 attempts")
}

// slowOr returns errSlow when more than ttl passed since start (the thing
// may rightly have expired), else the failure.
func slowOr(start time.Time, ttl time.Duration, format string, args ...any) error {
	if time.Since(start) >= ttl {
		return fmt.Errorf("%w: %s", errSlow, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf(format, args...)
}

func testSessionTTL(t *testing.T, mk mkFunc) {
	ctx := context.Background()
	timed(t, 300*time.Millisecond, func(ttl time.Duration, key string) error {
		s := mk(t, Options{SessionTTL: ttl})
		start := time.Now()
		must(t, s.SaveSession(ctx, key, []byte("x")))
		got, err := s.LoadSession(ctx, key)
		must(t, err)
		if string(got) != "x" {
			return slowOr(start, ttl, "LoadSession right after SaveSession = %q (TTL %v)", got, ttl)
		}
		eventually(t, expiryWait, "session expired", func() bool {
			got, err := s.LoadSession(ctx, key)
			must(t, err)
			return got == nil
		})
		return nil
	})
}

// testSessionTTLRefresh: the TTL is an idle timeout, so a user who keeps
// talking keeps the session.
func testSessionTTLRefresh(t *testing.T, mk mkFunc) {
	ctx := context.Background()
	timed(t, 500*time.Millisecond, func(ttl time.Duration, key string) error {
		s := mk(t, Options{SessionTTL: ttl})
		must(t, s.SaveSession(ctx, key, []byte("1")))
		firstDone := time.Now()
		time.Sleep(ttl * 6 / 10)
		second := time.Now()
		must(t, s.SaveSession(ctx, key, []byte("2")))
		time.Sleep(ttl * 6 / 10)
		load := time.Now()
		got, err := s.LoadSession(ctx, key)
		must(t, err)
		switch {
		case string(got) == "2" && load.After(firstDone.Add(ttl)):
			return nil // the first save's TTL had run out: the second one counts
		case string(got) == "2":
			return fmt.Errorf("%w: loaded before the first TTL ran out", errSlow)
		case got == nil:
			return slowOr(second, ttl, "session saved %v ago with TTL %v is gone: SaveSession did not start the TTL again",
				time.Since(second).Round(time.Millisecond), ttl)
		default:
			return fmt.Errorf("LoadSession = %q, want the second save's \"2\"", got)
		}
	})
}

func testTokenExpiry(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	must(t, s.SaveToken(ctx, "old", store.Token{Value: "v", Expires: time.Now().Add(-time.Second)}))
	if _, err := s.LoadToken(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a token saved already expired: LoadToken error = %v, want ErrNotFound", err)
	}
	// Saving an expired token over a live one removes the live one: the
	// cache must never hand out a token older than the newest save.
	must(t, s.SaveToken(ctx, "x", store.Token{Value: "live", Expires: time.Now().Add(time.Hour)}))
	must(t, s.SaveToken(ctx, "x", store.Token{Value: "dead", Expires: time.Now().Add(-time.Hour)}))
	if tok, err := s.LoadToken(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadToken after saving an expired token = %+v, %v; want ErrNotFound", tok, err)
	}
	timed(t, 200*time.Millisecond, func(ttl time.Duration, key string) error {
		start := time.Now()
		must(t, s.SaveToken(ctx, key, store.Token{Value: "v", Expires: start.Add(ttl)}))
		if _, err := s.LoadToken(ctx, key); err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return slowOr(start, ttl, "LoadToken before the token's expiry: %v", err)
		}
		eventually(t, expiryWait, "token expired", func() bool {
			_, err := s.LoadToken(ctx, key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return errors.Is(err, store.ErrNotFound)
		})
		return nil
	})
}

func testDedupTTL(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	timed(t, 200*time.Millisecond, func(ttl time.Duration, key string) error {
		start := time.Now()
		_, _, err := s.AddDedup(ctx, key, []byte("v"), ttl)
		must(t, err)
		if got, _ := s.LoadDedup(ctx, key); string(got) != "v" {
			return slowOr(start, ttl, "LoadDedup right after AddDedup = %q (TTL %v)", got, ttl)
		}
		eventually(t, expiryWait, "dedup record expired", func() bool {
			got, err := s.LoadDedup(ctx, key)
			must(t, err)
			return got == nil
		})
		added, _, err := s.AddDedup(ctx, key, []byte("again"), time.Minute)
		if err != nil || !added {
			t.Fatalf("AddDedup after expiry = %v, %v; want true", added, err)
		}
		return nil
	})
}

// testDedupSwapTTL: a swap starts the record's TTL again, with the TTL the
// swap gives.
func testDedupSwapTTL(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	timed(t, 500*time.Millisecond, func(ttl time.Duration, key string) error {
		start := time.Now()
		_, _, err := s.AddDedup(ctx, key, []byte("a"), ttl)
		must(t, err)
		addDone := time.Now()
		time.Sleep(ttl * 6 / 10)
		ok, err := s.SwapDedup(ctx, key, []byte("a"), []byte("b"), ttl)
		must(t, err)
		if !ok {
			return slowOr(start, ttl, "SwapDedup of a live record failed")
		}
		swapped := time.Now()
		time.Sleep(ttl * 6 / 10)
		load := time.Now()
		got, err := s.LoadDedup(ctx, key)
		must(t, err)
		switch {
		case string(got) == "b" && load.After(addDone.Add(ttl)):
			return nil
		case string(got) == "b":
			return fmt.Errorf("%w: loaded before the first TTL ran out", errSlow)
		case got == nil:
			// The swap's TTL started at the latest when it returned.
			return slowOr(swapped, ttl, "record swapped %v ago with TTL %v is gone: SwapDedup did not restart the TTL",
				time.Since(swapped).Round(time.Millisecond), ttl)
		default:
			return fmt.Errorf("LoadDedup = %q, want the swapped \"b\"", got)
		}
	})
	// The swap's TTL replaces the old one, also when it is shorter.
	_, _, err := s.AddDedup(ctx, "long", []byte("a"), time.Hour)
	must(t, err)
	ok, err := s.SwapDedup(ctx, "long", []byte("a"), []byte("b"), 100*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("SwapDedup = %v, %v", ok, err)
	}
	eventually(t, expiryWait, "record swapped with a short TTL expired", func() bool {
		got, err := s.LoadDedup(ctx, "long")
		must(t, err)
		return got == nil
	})
}

func testValuesTTL(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	timed(t, 200*time.Millisecond, func(ttl time.Duration, key string) error {
		start := time.Now()
		must(t, s.Set(ctx, key, []byte("x"), ttl))
		if got, _ := s.Get(ctx, key); string(got) != "x" {
			return slowOr(start, ttl, "Get right after Set = %q (TTL %v)", got, ttl)
		}
		eventually(t, expiryWait, "value expired", func() bool {
			got, err := s.Get(ctx, key)
			must(t, err)
			return got == nil
		})
		return nil
	})
	// Set without a TTL over a value with one makes it permanent again.
	const short = 100 * time.Millisecond
	start := time.Now()
	must(t, s.Set(ctx, "long", []byte("y"), 0))
	must(t, s.Set(ctx, "was-short", []byte("z"), short))
	must(t, s.Set(ctx, "was-short", []byte("z2"), 0))
	time.Sleep(time.Until(start.Add(short + 100*time.Millisecond)))
	if got, _ := s.Get(ctx, "long"); string(got) != "y" {
		t.Fatalf("a value without TTL is %q", got)
	}
	if got, _ := s.Get(ctx, "was-short"); string(got) != "z2" {
		t.Fatalf("a value re-set without TTL is %q; the old TTL was kept", got)
	}
}

func testIncrKeepsTTL(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	timed(t, 300*time.Millisecond, func(ttl time.Duration, key string) error {
		start := time.Now()
		must(t, s.Set(ctx, key, []byte("1"), ttl))
		got, err := s.Incr(ctx, key, 1)
		must(t, err)
		if got != 2 {
			return slowOr(start, ttl, "Incr of a live 1 = %d (TTL %v)", got, ttl)
		}
		eventually(t, expiryWait, "incremented value expired", func() bool {
			got, err := s.Get(ctx, key)
			must(t, err)
			return got == nil
		})
		return nil
	})
}
