package memory_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/memory"
	"github.com/luarobot/luarobot/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		return memory.New(memory.Options{SessionTTL: o.SessionTTL})
	})
}

// TestSweep: expired entries are dropped from the maps, not only hidden,
// so that a long-running host with a memory store does not grow forever.
func TestSweep(t *testing.T) {
	s := memory.New(memory.Options{})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		if _, _, err := s.AddDedup(ctx, strconv.Itoa(i), []byte("v"), time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Set(ctx, "trigger", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if n := memory.Len(s); n != 1 {
		t.Fatalf("after the sweep %d entries are left, want 1", n)
	}
	// A rewritten entry is not dropped at its old expiry.
	s.Set(ctx, "k", []byte("short"), time.Millisecond)
	s.Set(ctx, "k", []byte("kept"), 0)
	time.Sleep(5 * time.Millisecond)
	s.Set(ctx, "trigger2", []byte("x"), 0)
	if v, _ := s.Get(ctx, "k"); string(v) != "kept" {
		t.Errorf("rewritten entry = %q, want kept", v)
	}
	if n := memory.HeapLen(s); n != 0 {
		t.Errorf("%d stale expiries left in the heap", n)
	}
}

func BenchmarkSession(b *testing.B) {
	storetest.BenchmarkSession(b, memory.New(memory.Options{}))
}

// TestClock: every expiry reads Options.Now, so a test harness expires
// sessions, values, dedup records and tokens by moving its clock.
func TestClock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := memory.New(memory.Options{SessionTTL: 30 * time.Minute, Now: func() time.Time { return now }})
	defer s.Close()
	ctx := context.Background()
	s.SaveSession(ctx, "u", []byte(`{"n":1}`))
	s.Set(ctx, "v", []byte("1"), time.Minute)
	s.AddDedup(ctx, "d", []byte("r"), time.Minute)
	s.SaveToken(ctx, "tok", store.Token{Value: "T", Expires: now.Add(2 * time.Hour)})

	now = now.Add(59 * time.Second)
	if v, _ := s.Get(ctx, "v"); string(v) != "1" {
		t.Errorf("value gone before its TTL: %q", v)
	}
	now = now.Add(time.Second)
	if v, _ := s.Get(ctx, "v"); v != nil {
		t.Errorf("value kept past its TTL: %q", v)
	}
	if added, _, _ := s.AddDedup(ctx, "d", []byte("r2"), time.Minute); !added {
		t.Error("dedup record kept past its TTL")
	}
	if sess, _ := s.LoadSession(ctx, "u"); string(sess) != `{"n":1}` {
		t.Errorf("session gone before session_ttl: %q", sess)
	}
	now = now.Add(30 * time.Minute)
	if sess, _ := s.LoadSession(ctx, "u"); sess != nil {
		t.Errorf("session kept past session_ttl: %q", sess)
	}
	if _, err := s.LoadToken(ctx, "tok"); err != nil {
		t.Errorf("token gone before its expiry: %v", err)
	}
	now = now.Add(2 * time.Hour)
	if _, err := s.LoadToken(ctx, "tok"); err == nil {
		t.Error("token kept past its expiry")
	}
}

// TestRewrittenExpiry: a record rewritten with a later expiry (a dedup
// record going from pending to final) keeps one heap item, and expires
// at its last expiry, not its first; one rewritten with an earlier expiry
// expires then.
func TestRewrittenExpiry(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := memory.New(memory.Options{Now: func() time.Time { return now }})
	defer s.Close()
	ctx := context.Background()
	if added, _, err := s.AddDedup(ctx, "k", []byte("pending"), time.Minute); err != nil || !added {
		t.Fatal(added, err)
	}
	for i := range 5 {
		now = now.Add(10 * time.Second)
		old, _ := s.LoadDedup(ctx, "k")
		if ok, err := s.SwapDedup(ctx, "k", old, []byte("v"+strconv.Itoa(i)), time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	if n := memory.HeapLen(s); n != 1 {
		t.Errorf("%d heap items for one record rewritten with later expiries, want 1", n)
	}
	// Written last at +50 s: alive at +109 s, past the first expiry (+60 s).
	now = now.Add(59 * time.Second)
	s.Set(ctx, "trigger", []byte("x"), 0) // runs the sweep
	if v, _ := s.LoadDedup(ctx, "k"); string(v) != "v4" {
		t.Fatalf("at 59 s after its last write the record is %q, want v4", v)
	}
	if n := memory.Len(s); n != 2 {
		t.Fatalf("%d entries, want the record and the trigger", n)
	}
	now = now.Add(time.Second)
	s.Set(ctx, "trigger", []byte("x"), 0)
	if n := memory.Len(s); n != 1 {
		t.Errorf("%d entries a minute after the last write, want only the trigger: the record was not swept", n)
	}
	if n := memory.HeapLen(s); n != 0 {
		t.Errorf("%d heap items left", n)
	}

	// A shorter expiry than the one it replaces is kept too.
	s.Set(ctx, "v", []byte("long"), time.Hour)
	s.Set(ctx, "v", []byte("short"), time.Second)
	now = now.Add(time.Second)
	s.Set(ctx, "trigger", []byte("x"), 0)
	if n := memory.Len(s); n != 1 {
		t.Errorf("%d entries after the shorter expiry passed, want only the trigger", n)
	}
	now = now.Add(time.Hour)
	s.Set(ctx, "trigger", []byte("x"), 0)
	if n := memory.HeapLen(s); n != 0 {
		t.Errorf("%d heap items left after every expiry passed", n)
	}
}
