// Package storetest is the conformance suite every store.Store
// implementation passes: one set of tests, run against memory, bolt and
// Redis, so that the host behaves the same whichever session_storage the
// operator picks.
//
// An implementation's test calls Run with a function that opens a fresh,
// empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
//			return memory.New(memory.Options{SessionTTL: o.SessionTTL})
//		})
//	}
//
// TTLs in the suite are a few hundred milliseconds: the suite takes a few
// seconds, and its subtests run in parallel so that the waits overlap.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/store"
)

// Options is what a subtest needs from the store it opens.
type Options struct {
	// SessionTTL is the store's session TTL; 0 = sessions never expire.
	SessionTTL time.Duration
}

// Opener opens a fresh, empty store for one subtest. The suite closes it
// (possibly twice: Close must be idempotent); the opener cleans up anything
// else (files, keys) with t.Cleanup.
type Opener func(t *testing.T, o Options) store.Store

// Run runs the conformance suite against the stores that open returns.
func Run(t *testing.T, open Opener) {
	mk := func(t *testing.T, o Options) store.Store {
		t.Helper()
		s := open(t, o)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T, Options) store.Store)
	}{
		{"Sessions/RoundTrip", testSessionRoundTrip},
		{"Sessions/EmptySaveDeletes", testSessionEmptySaveDeletes},
		{"Sessions/Delete", testSessionDelete},
		{"Sessions/Copies", testSessionCopies},
		{"Sessions/TTL", testSessionTTL},
		{"Sessions/TTLRefreshedOnSave", testSessionTTLRefresh},
		{"Tokens/RoundTrip", testTokenRoundTrip},
		{"Tokens/Expiry", testTokenExpiry},
		{"Tokens/Invalidate", testTokenInvalidate},
		{"Dedup/AddLoad", testDedupAddLoad},
		{"Dedup/Swap", testDedupSwap},
		{"Dedup/TTL", testDedupTTL},
		{"Dedup/SwapRestartsTTL", testDedupSwapTTL},
		{"Dedup/ConcurrentClaims", testDedupConcurrentClaims},
		{"Dedup/ConcurrentSwaps", testDedupConcurrentSwaps},
		{"Values/GetSetDelete", testValues},
		{"Values/TTL", testValuesTTL},
		{"Values/Incr", testIncr},
		{"Values/IncrConcurrent", testIncrConcurrent},
		{"Values/IncrNotInteger", testIncrNotInteger},
		{"Values/IncrKeepsTTL", testIncrKeepsTTL},
		{"Values/IncrOverflow", testIncrOverflow},
		{"Namespaces", testNamespaces},
		{"NegativeTTL", testNegativeTTL},
		{"CanceledContext", testCanceled},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, mk)
		})
	}
}

type mkFunc = func(*testing.T, Options) store.Store

// eventually polls cond until it holds or d passes. Expiry is checked by
// polling rather than by one long sleep: the test ends as soon as the key
// is gone, and a slow machine gets more time instead of a failure.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after %v", what, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// arbitrary is session data no text codec would survive: NUL, invalid
// UTF-8, CR/LF, and every byte value.
func arbitrary() []byte {
	b := []byte("{\"n\":1}\x00\xff\xfe\r\n中文")
	for i := 0; i < 256; i++ {
		b = append(b, byte(i))
	}
	return b
}

func testSessionRoundTrip(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	got, err := s.LoadSession(ctx, "nobody")
	if err != nil || got != nil {
		t.Fatalf("LoadSession(absent) = %q, %v; want nil, nil", got, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	for _, tc := range []struct {
		id   string
		data []byte
	}{
		{"oABC123_-xyz", []byte(`{"count":1}`)},
		{"user with spaces/and:colons", arbitrary()},
		{"用户", []byte(`{"name":"张三"}`)},
		{"big", big},
	} {
		must(t, s.SaveSession(ctx, tc.id, tc.data))
		got, err := s.LoadSession(ctx, tc.id)
		must(t, err)
		if !bytes.Equal(got, tc.data) {
			t.Errorf("LoadSession(%q) = %d bytes, want the %d saved", tc.id, len(got), len(tc.data))
		}
	}
	// Overwrite.
	must(t, s.SaveSession(ctx, "oABC123_-xyz", []byte(`{"count":2}`)))
	got, err = s.LoadSession(ctx, "oABC123_-xyz")
	must(t, err)
	if string(got) != `{"count":2}` {
		t.Errorf("after overwrite LoadSession = %q", got)
	}
}

func testSessionEmptySaveDeletes(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	for _, empty := range [][]byte{nil, {}} {
		must(t, s.SaveSession(ctx, "u", []byte(`{"a":1}`)))
		must(t, s.SaveSession(ctx, "u", empty))
		got, err := s.LoadSession(ctx, "u")
		if err != nil || got != nil {
			t.Fatalf("after SaveSession(%#v) LoadSession = %q, %v; want nil, nil", empty, got, err)
		}
	}
	// Saving nothing for a user who has nothing is fine too.
	must(t, s.SaveSession(ctx, "never", nil))
}

func testSessionDelete(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	must(t, s.SaveSession(ctx, "u", []byte("x")))
	must(t, s.SaveSession(ctx, "other", []byte("y")))
	must(t, s.DeleteSession(ctx, "u"))
	if got, err := s.LoadSession(ctx, "u"); err != nil || got != nil {
		t.Fatalf("after DeleteSession LoadSession = %q, %v", got, err)
	}
	if got, _ := s.LoadSession(ctx, "other"); string(got) != "y" {
		t.Fatalf("DeleteSession(u) touched another session: %q", got)
	}
	must(t, s.DeleteSession(ctx, "absent"))
}

// testSessionCopies: the store must not keep or hand out the caller's
// buffers, or a handler reusing a buffer would change a stored session.
func testSessionCopies(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	buf := []byte("original")
	must(t, s.SaveSession(ctx, "u", buf))
	copy(buf, "CHANGED!")
	got, err := s.LoadSession(ctx, "u")
	must(t, err)
	if string(got) != "original" {
		t.Fatalf("changing the saved buffer changed the session: %q", got)
	}
	copy(got, "CHANGED!")
	again, _ := s.LoadSession(ctx, "u")
	if string(again) != "original" {
		t.Fatalf("changing a loaded buffer changed the session: %q", again)
	}
}

func testTokenRoundTrip(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	if _, err := s.LoadToken(ctx, "access_token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadToken(absent) error = %v, want ErrNotFound", err)
	}
	// Redis keeps milliseconds: a millisecond expiry round-trips exactly.
	exp := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	want := store.Token{Value: "tok-1", Expires: exp}
	must(t, s.SaveToken(ctx, "access_token", want))
	got, err := s.LoadToken(ctx, "access_token")
	must(t, err)
	if got.Value != want.Value || !got.Expires.Equal(want.Expires) {
		t.Fatalf("LoadToken = %+v, want %+v", got, want)
	}
	// A sub-millisecond expiry comes back within a millisecond.
	exp2 := time.Now().Add(time.Hour)
	must(t, s.SaveToken(ctx, "jsapi_ticket", store.Token{Value: "t2", Expires: exp2}))
	got, err = s.LoadToken(ctx, "jsapi_ticket")
	must(t, err)
	if d := got.Expires.Sub(exp2); d < -time.Millisecond || d > time.Millisecond {
		t.Fatalf("Expires came back %v off", d)
	}
	// A zero expiry means no expiry.
	must(t, s.SaveToken(ctx, "forever", store.Token{Value: "f"}))
	got, err = s.LoadToken(ctx, "forever")
	must(t, err)
	if got.Value != "f" || !got.Expires.IsZero() {
		t.Fatalf("LoadToken(forever) = %+v, want value f and a zero Expires", got)
	}
	// Overwrite, as a refresh does.
	must(t, s.SaveToken(ctx, "access_token", store.Token{Value: "tok-2", Expires: exp}))
	if got, _ := s.LoadToken(ctx, "access_token"); got.Value != "tok-2" {
		t.Fatalf("after refresh LoadToken = %+v", got)
	}
}

func testTokenInvalidate(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	must(t, s.SaveToken(ctx, "access_token", store.Token{Value: "fresh", Expires: exp}))
	// A caller that saw an older token fail must not delete the fresh one.
	must(t, s.InvalidateToken(ctx, "access_token", "stale"))
	got, err := s.LoadToken(ctx, "access_token")
	if err != nil || got.Value != "fresh" {
		t.Fatalf("InvalidateToken(other value) removed the token: %+v, %v", got, err)
	}
	must(t, s.InvalidateToken(ctx, "access_token", "fresh"))
	if _, err := s.LoadToken(ctx, "access_token"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("InvalidateToken(same value) kept the token: error = %v", err)
	}
	must(t, s.InvalidateToken(ctx, "absent", "x"))
}

func testDedupAddLoad(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	if got, err := s.LoadDedup(ctx, "k"); err != nil || got != nil {
		t.Fatalf("LoadDedup(absent) = %q, %v", got, err)
	}
	v1 := append([]byte("pending:"), arbitrary()...)
	added, cur, err := s.AddDedup(ctx, "k", v1, time.Minute)
	if err != nil || !added || cur != nil {
		t.Fatalf("first AddDedup = %v, %q, %v; want true, nil, nil", added, cur, err)
	}
	added, cur, err = s.AddDedup(ctx, "k", []byte("second"), time.Minute)
	if err != nil || added || !bytes.Equal(cur, v1) {
		t.Fatalf("second AddDedup = %v, %q, %v; want false and the first value", added, cur, err)
	}
	got, err := s.LoadDedup(ctx, "k")
	must(t, err)
	if !bytes.Equal(got, v1) {
		t.Fatalf("LoadDedup = %q, want %q", got, v1)
	}
}

func testDedupSwap(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	ok, err := s.SwapDedup(ctx, "absent", nil, []byte("x"), time.Minute)
	if err != nil || ok {
		t.Fatalf("SwapDedup(absent key) = %v, %v; want false", ok, err)
	}
	if got, _ := s.LoadDedup(ctx, "absent"); got != nil {
		t.Fatalf("SwapDedup on an absent key created it: %q", got)
	}
	_, _, err = s.AddDedup(ctx, "k", []byte("pending"), time.Minute)
	must(t, err)
	ok, err = s.SwapDedup(ctx, "k", []byte("other"), []byte("done"), time.Minute)
	if err != nil || ok {
		t.Fatalf("SwapDedup(wrong old) = %v, %v; want false", ok, err)
	}
	if got, _ := s.LoadDedup(ctx, "k"); string(got) != "pending" {
		t.Fatalf("SwapDedup(wrong old) changed the value to %q", got)
	}
	ok, err = s.SwapDedup(ctx, "k", []byte("pending"), []byte("done\x00reply"), time.Minute)
	if err != nil || !ok {
		t.Fatalf("SwapDedup(right old) = %v, %v; want true", ok, err)
	}
	if got, _ := s.LoadDedup(ctx, "k"); string(got) != "done\x00reply" {
		t.Fatalf("after SwapDedup LoadDedup = %q", got)
	}
}

// concurrency is how many goroutines race in the concurrent tests: more
// than the cores, so that the scheduler interleaves them.
const concurrency = 32

// testDedupConcurrentClaims is WeChat's retry storm: copies of one message
// arrive at once (possibly at different processes) and exactly one may run
// the handlers.
func testDedupConcurrentClaims(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("msg-%d", round)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
			seen    []string
		)
		start := make(chan struct{})
		for i := 0; i < concurrency; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				v := "claim-" + strconv.Itoa(i)
				added, cur, err := s.AddDedup(ctx, key, []byte(v), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if added {
					winners = append(winners, v)
				} else {
					seen = append(seen, string(cur))
				}
			}(i)
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d goroutines won the claim (%v), want exactly 1", round, len(winners), winners)
		}
		for _, c := range seen {
			if c != winners[0] {
				t.Fatalf("round %d: a loser saw %q, the winner stored %q", round, c, winners[0])
			}
		}
	}
}

// testDedupConcurrentSwaps: the hand-over of a record (pending → done, or
// a takeover) must have exactly one winner too.
func testDedupConcurrentSwaps(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("msg-%d", round)
		if _, _, err := s.AddDedup(ctx, key, []byte("pending"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []string
		)
		start := make(chan struct{})
		for i := 0; i < concurrency; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				v := "done-" + strconv.Itoa(i)
				ok, err := s.SwapDedup(ctx, key, []byte("pending"), []byte(v), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					mu.Lock()
					winners = append(winners, v)
					mu.Unlock()
				}
			}(i)
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d swaps won (%v), want exactly 1", round, len(winners), winners)
		}
		if got, _ := s.LoadDedup(ctx, key); string(got) != winners[0] {
			t.Fatalf("round %d: value is %q, the winning swap stored %q", round, got, winners[0])
		}
	}
}

func testValues(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	if got, err := s.Get(ctx, "k"); err != nil || got != nil {
		t.Fatalf("Get(absent) = %q, %v", got, err)
	}
	must(t, s.Set(ctx, "k", arbitrary(), 0))
	got, err := s.Get(ctx, "k")
	must(t, err)
	if !bytes.Equal(got, arbitrary()) {
		t.Fatalf("Get = %q", got)
	}
	must(t, s.Set(ctx, "k", []byte(`"v2"`), 0))
	if got, _ := s.Get(ctx, "k"); string(got) != `"v2"` {
		t.Fatalf("after overwrite Get = %q", got)
	}
	// An empty value is a value: Lua's "" must not read back as nil.
	must(t, s.Set(ctx, "empty", []byte{}, 0))
	got, err = s.Get(ctx, "empty")
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Fatalf("Get(empty value) = %#v, want a non-nil empty slice", got)
	}
	must(t, s.Delete(ctx, "k"))
	if got, err := s.Get(ctx, "k"); err != nil || got != nil {
		t.Fatalf("after Delete Get = %q, %v", got, err)
	}
	must(t, s.Delete(ctx, "k"))
}

func testIncr(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	for _, step := range []struct {
		n, want int64
	}{{1, 1}, {5, 6}, {-10, -4}, {0, -4}} {
		got, err := s.Incr(ctx, "c", step.n)
		must(t, err)
		if got != step.want {
			t.Fatalf("Incr(%d) = %d, want %d", step.n, got, step.want)
		}
	}
	if got, _ := s.Get(ctx, "c"); string(got) != "-4" {
		t.Fatalf("Get after Incr = %q, want the decimal -4", got)
	}
	must(t, s.Set(ctx, "set", []byte("41"), 0))
	if got, err := s.Incr(ctx, "set", 1); err != nil || got != 42 {
		t.Fatalf("Incr of a Set value = %d, %v; want 42", got, err)
	}
}

func testIncrConcurrent(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	const perG = 25
	var wg sync.WaitGroup
	for i := 0; i < concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perG; j++ {
				if _, err := s.Incr(ctx, "hits", 1); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.Incr(ctx, "hits", 0)
	must(t, err)
	if got != concurrency*perG {
		t.Fatalf("after %d concurrent increments the counter is %d", concurrency*perG, got)
	}
}

func testIncrNotInteger(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	for _, v := range []string{"abc", `"5"`, "1.5", "", " 1", "+5", "007", "99999999999999999999"} {
		must(t, s.Set(ctx, "v", []byte(v), 0))
		_, err := s.Incr(ctx, "v", 1)
		if !errors.Is(err, store.ErrNotInteger) {
			t.Errorf("Incr of %q: error = %v, want one wrapping ErrNotInteger", v, err)
		}
		if got, _ := s.Get(ctx, "v"); string(got) != v {
			t.Errorf("a failed Incr changed %q to %q", v, got)
		}
	}
}

func testIncrOverflow(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	must(t, s.Set(ctx, "c", []byte("9223372036854775807"), 0))
	if _, err := s.Incr(ctx, "c", 1); err == nil {
		t.Fatal("Incr past MaxInt64 succeeded")
	}
	if got, _ := s.Get(ctx, "c"); string(got) != "9223372036854775807" {
		t.Fatalf("a failed Incr changed the value to %q", got)
	}
}

// testNamespaces: the four kinds of data never see each other's keys, so a
// Lua script's robot.store key cannot clobber a user's session.
func testNamespaces(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	must(t, s.SaveSession(ctx, "k", []byte("session")))
	must(t, s.SaveToken(ctx, "k", store.Token{Value: "token", Expires: time.Now().Add(time.Hour)}))
	_, _, err := s.AddDedup(ctx, "k", []byte("dedup"), time.Minute)
	must(t, err)
	must(t, s.Set(ctx, "k", []byte("value"), 0))
	if got, _ := s.LoadSession(ctx, "k"); string(got) != "session" {
		t.Errorf("session = %q", got)
	}
	if got, _ := s.LoadToken(ctx, "k"); got.Value != "token" {
		t.Errorf("token = %q", got.Value)
	}
	if got, _ := s.LoadDedup(ctx, "k"); string(got) != "dedup" {
		t.Errorf("dedup = %q", got)
	}
	if got, _ := s.Get(ctx, "k"); string(got) != "value" {
		t.Errorf("value = %q", got)
	}
	must(t, s.Delete(ctx, "k"))
	if got, _ := s.LoadSession(ctx, "k"); string(got) != "session" {
		t.Errorf("Delete of a value removed the session: %q", got)
	}
}

func testNegativeTTL(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), -time.Second); err == nil {
		t.Error("Set with a negative TTL succeeded")
	}
	if _, _, err := s.AddDedup(ctx, "k", []byte("v"), -time.Second); err == nil {
		t.Error("AddDedup with a negative TTL succeeded")
	}
	if _, err := s.SwapDedup(ctx, "k", nil, []byte("v"), -time.Second); err == nil {
		t.Error("SwapDedup with a negative TTL succeeded")
	}
}

// calls lists one call of every method, for the tests that need them all
// to fail the same way.
func calls(s store.Store) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"LoadSession":   func(ctx context.Context) error { _, err := s.LoadSession(ctx, "u"); return err },
		"SaveSession":   func(ctx context.Context) error { return s.SaveSession(ctx, "u", []byte("x")) },
		"DeleteSession": func(ctx context.Context) error { return s.DeleteSession(ctx, "u") },
		"LoadToken":     func(ctx context.Context) error { _, err := s.LoadToken(ctx, "t"); return err },
		"SaveToken": func(ctx context.Context) error {
			return s.SaveToken(ctx, "t", store.Token{Value: "v", Expires: time.Now().Add(time.Hour)})
		},
		"InvalidateToken": func(ctx context.Context) error { return s.InvalidateToken(ctx, "t", "v") },
		"AddDedup": func(ctx context.Context) error {
			_, _, err := s.AddDedup(ctx, "d", []byte("v"), time.Minute)
			return err
		},
		"LoadDedup": func(ctx context.Context) error { _, err := s.LoadDedup(ctx, "d"); return err },
		"SwapDedup": func(ctx context.Context) error {
			_, err := s.SwapDedup(ctx, "d", []byte("v"), []byte("w"), time.Minute)
			return err
		},
		"Get":    func(ctx context.Context) error { _, err := s.Get(ctx, "k"); return err },
		"Set":    func(ctx context.Context) error { return s.Set(ctx, "k", []byte("v"), 0) },
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, "k") },
		"Incr":   func(ctx context.Context) error { _, err := s.Incr(ctx, "n", 1); return err },
	}
}

func testCanceled(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range calls(s) {
		if err := call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: error = %v, want context.Canceled", name, err)
		}
	}
}

func testClosed(t *testing.T, mk mkFunc) {
	s := mk(t, Options{})
	ctx := context.Background()
	must(t, s.SaveSession(ctx, "u", []byte("x")))
	must(t, s.Close())
	for name, call := range calls(s) {
		if err := call(ctx); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: error = %v, want one wrapping store.ErrClosed", name, err)
		}
	}
	// The suite's cleanup closes it again: that must be harmless.
}
