package memory_test

import (
	"context"
	"math/rand/v2"
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

// TestExpiryModel: random writes (with and without TTLs, longer and
// shorter than before), deletes and reads under a fake clock agree with a
// plain model; every write sweeps the entries whose expiry has passed (no
// heap item was lost or left too late), and once the clock passes every
// expiry the heap holds nothing for them.
func TestExpiryModel(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		now := time.Unix(1_700_000_000, 0)
		s := memory.New(memory.Options{Now: func() time.Time { return now }})
		ctx := context.Background()
		type rec struct {
			v   string
			exp time.Time
		}
		model := map[string]rec{}
		live := func(r rec) bool { return r.exp.IsZero() || now.Before(r.exp) }
		for step := range 400 {
			key := "k" + strconv.Itoa(rng.IntN(6))
			switch rng.IntN(6) {
			case 0, 1:
				var ttl time.Duration
				if rng.IntN(4) > 0 {
					ttl = time.Duration(1+rng.IntN(30)) * time.Second
				}
				v := strconv.Itoa(step)
				if err := s.Set(ctx, key, []byte(v), ttl); err != nil {
					t.Fatal(err)
				}
				r := rec{v: v}
				if ttl > 0 {
					r.exp = now.Add(ttl)
				}
				model[key] = r
				// The write swept every entry whose expiry has passed.
				alive := 0
				for _, r := range model {
					if live(r) {
						alive++
					}
				}
				if n := memory.Len(s); n != alive {
					t.Fatalf("seed %d step %d: %d entries held after a write, %d alive: an expired entry was not swept", seed, step, n, alive)
				}
			case 2:
				ttl := time.Duration(1+rng.IntN(30)) * time.Second
				v := strconv.Itoa(step)
				added, _, err := s.AddDedup(ctx, key, []byte(v), ttl)
				if err != nil {
					t.Fatal(err)
				}
				r, ok := model["d"+key]
				want := !ok || !live(r)
				if added != want {
					t.Fatalf("seed %d step %d: AddDedup %s added=%v, want %v", seed, step, key, added, want)
				}
				if added {
					model["d"+key] = rec{v: v, exp: now.Add(ttl)}
				}
			case 3:
				r, ok := model["d"+key]
				if !ok || !live(r) {
					break
				}
				ttl := time.Duration(1+rng.IntN(30)) * time.Second
				v := strconv.Itoa(step)
				swapped, err := s.SwapDedup(ctx, key, []byte(r.v), []byte(v), ttl)
				if err != nil || !swapped {
					t.Fatalf("seed %d step %d: swap %v %v", seed, step, swapped, err)
				}
				model["d"+key] = rec{v: v, exp: now.Add(ttl)}
			case 4:
				if rng.IntN(3) == 0 {
					s.Delete(ctx, key)
					delete(model, key)
				} else {
					now = now.Add(time.Duration(rng.IntN(8000)) * time.Millisecond)
				}
			case 5:
				got, _ := s.Get(ctx, key)
				r, ok := model[key]
				want := ""
				if ok && live(r) {
					want = r.v
				}
				if string(got) != want {
					t.Fatalf("seed %d step %d: Get %s = %q, want %q", seed, step, key, got, want)
				}
				got, _ = s.LoadDedup(ctx, key)
				r, ok = model["d"+key]
				want = ""
				if ok && live(r) {
					want = r.v
				}
				if string(got) != want {
					t.Fatalf("seed %d step %d: LoadDedup %s = %q, want %q", seed, step, key, got, want)
				}
			}
		}
		// Past every expiry: one write sweeps all the expired entries.
		now = now.Add(time.Hour)
		s.Set(ctx, "trigger", []byte("x"), 0)
		wantLen := 1
		for k, r := range model {
			if r.exp.IsZero() && k[0] != 'd' {
				wantLen++
			}
		}
		if n := memory.Len(s); n != wantLen {
			t.Fatalf("seed %d: %d entries after every expiry passed, want %d (those without expiry and the trigger)", seed, n, wantLen)
		}
		if n := memory.HeapLen(s); n != 0 {
			t.Fatalf("seed %d: %d heap items after every expiry passed", seed, n)
		}
		s.Close()
	}
}
