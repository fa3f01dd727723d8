package bolt_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/bolt"
	"github.com/luarobot/luarobot/store/storetest"
)

func openT(t testing.TB, opts bolt.Options) *bolt.Store {
	t.Helper()
	if opts.Path == "" {
		opts.Path = filepath.Join(t.TempDir(), "luarobot.db")
	}
	s, err := bolt.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		return openT(t, bolt.Options{SessionTTL: o.SessionTTL})
	})
}

// TestConformanceNoBatch: the unbatched path must keep the same contract,
// since the benchmark compares the two.
func TestConformanceNoBatch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		return openT(t, bolt.Options{SessionTTL: o.SessionTTL, NoBatch: true})
	})
}

// TestLocked: a second luarobot on the same file must fail fast with a
// message that tells the operator why, not hang on the file lock.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // so that the error shows the default relative path
	first, err := bolt.Open(bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.Path() != "luarobot.db" {
		t.Fatalf("default path = %q", first.Path())
	}
	start := time.Now()
	second, err := bolt.Open(bolt.Options{})
	elapsed := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	const want = "open luarobot.db: is another luarobot running on luarobot.db? (the file is locked)"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	if !errors.Is(err, bolt.ErrLocked) {
		t.Errorf("error does not wrap ErrLocked")
	}
	// Without the timeout it would wait forever; the bound leaves room for
	// a busy machine running -race.
	if elapsed > 10*time.Second {
		t.Errorf("second Open took %v; want about the 1s lock timeout", elapsed)
	}
	// Once the first is closed the file opens again.
	first.Close()
	again, err := bolt.Open(bolt.Options{})
	if err != nil {
		t.Fatalf("Open after the other closed: %v", err)
	}
	again.Close()
}

// TestReopen: everything survives Close and Open, which is the point of the
// bolt store; expired records stay expired.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "luarobot.db")
	ctx := context.Background()
	s := openT(t, bolt.Options{Path: path})
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	steps := []error{
		s.SaveSession(ctx, "u1", []byte(`{"count":3}`)),
		s.SaveToken(ctx, "access_token", store.Token{Value: "tok", Expires: exp}),
		s.Set(ctx, "k", []byte("v"), 0),
		s.Set(ctx, "gone", []byte("v"), time.Millisecond),
	}
	_, _, err := s.AddDedup(ctx, "d", []byte("reply"), time.Hour)
	steps = append(steps, err)
	_, err = s.Incr(ctx, "n", 7)
	steps = append(steps, err)
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)

	s = openT(t, bolt.Options{Path: path})
	if got, err := s.LoadSession(ctx, "u1"); err != nil || string(got) != `{"count":3}` {
		t.Errorf("session after reopen = %q, %v", got, err)
	}
	if got, err := s.LoadToken(ctx, "access_token"); err != nil || got.Value != "tok" || !got.Expires.Equal(exp) {
		t.Errorf("token after reopen = %+v, %v", got, err)
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Errorf("value after reopen = %q, %v", got, err)
	}
	if got, err := s.Get(ctx, "gone"); err != nil || got != nil {
		t.Errorf("expired value after reopen = %q, %v", got, err)
	}
	if got, err := s.LoadDedup(ctx, "d"); err != nil || string(got) != "reply" {
		t.Errorf("dedup after reopen = %q, %v", got, err)
	}
	if got, err := s.Incr(ctx, "n", 1); err != nil || got != 8 {
		t.Errorf("counter after reopen = %d, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode %v, want 0600: sessions are user data", mode)
	}
}

// writeRaw puts records into the file behind the store's back, as a bug or
// a disk error might.
func writeRaw(t *testing.T, path string, bucket string, records map[string][]byte) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		for k, v := range records {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCorrupt: a damaged record is an error that names it, on every path
// that reads it, and never a panic; the sweep leaves it for the operator.
func TestCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "luarobot.db")
	s := openT(t, bolt.Options{Path: path})
	s.Close()
	badExpiry := make([]byte, 12)
	binary.BigEndian.PutUint64(badExpiry, 1<<63|42)
	short := []byte{1, 2, 3}
	writeRaw(t, path, "sessions", map[string][]byte{"short-user": short, "bad-expiry-user": badExpiry})
	writeRaw(t, path, "tokens", map[string][]byte{"access_token": short})
	writeRaw(t, path, "dedup", map[string][]byte{"dkey": short})
	writeRaw(t, path, "values", map[string][]byte{"vkey": badExpiry})

	s = openT(t, bolt.Options{Path: path})
	ctx := context.Background()
	check := func(what, key string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error for a corrupt record", what)
			return
		}
		if !errors.Is(err, bolt.ErrCorrupt) || !strings.Contains(err.Error(), `"`+key+`"`) {
			t.Errorf("%s: error %q does not wrap ErrCorrupt or does not name %q", what, err, key)
		}
	}
	_, err := s.LoadSession(ctx, "short-user")
	check("LoadSession(short)", "short-user", err)
	_, err = s.LoadSession(ctx, "bad-expiry-user")
	check("LoadSession(bad expiry)", "bad-expiry-user", err)
	_, err = s.LoadToken(ctx, "access_token")
	check("LoadToken", "access_token", err)
	check("InvalidateToken", "access_token", s.InvalidateToken(ctx, "access_token", "x"))
	_, err = s.LoadDedup(ctx, "dkey")
	check("LoadDedup", "dkey", err)
	_, _, err = s.AddDedup(ctx, "dkey", []byte("v"), time.Minute)
	check("AddDedup", "dkey", err)
	_, err = s.SwapDedup(ctx, "dkey", nil, []byte("v"), time.Minute)
	check("SwapDedup", "dkey", err)
	_, err = s.Get(ctx, "vkey")
	check("Get", "vkey", err)
	_, err = s.Incr(ctx, "vkey", 1)
	check("Incr", "vkey", err)
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("example: %v", err)

	// A corrupt record does not stop the sweep, which keeps it.
	if _, err := s.Sweep(); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	_, err = s.LoadSession(ctx, "short-user")
	check("LoadSession after sweep", "short-user", err)
	// Writing over a corrupt record repairs it.
	if err := s.SaveSession(ctx, "short-user", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSession(ctx, "short-user"); err != nil || string(got) != "ok" {
		t.Fatalf("after overwrite: %q, %v", got, err)
	}
}

// TestSweep: expired records are deleted from the file, in chunks, and
// live ones are kept.
func TestSweep(t *testing.T) {
	s := openT(t, bolt.Options{SweepInterval: -1})
	ctx := context.Background()
	const n = 5000 // more than one sweep chunk
	err := bolt.DB(s).Update(func(tx *bbolt.Tx) error {
		// Write directly: 5000 separate commits would make the test slow.
		b := tx.Bucket([]byte("dedup"))
		past := make([]byte, 8)
		binary.BigEndian.PutUint64(past, uint64(time.Now().Add(-time.Second).UnixNano()))
		for i := 0; i < n; i++ {
			if err := b.Put([]byte{byte(i >> 8), byte(i)}, past); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddDedup(ctx, "live", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveSession(ctx, "u", []byte("v")); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Sweep()
	if err != nil {
		t.Fatal(err)
	}
	if removed != n {
		t.Errorf("Sweep removed %d records, want %d", removed, n)
	}
	if got, _ := s.LoadDedup(ctx, "live"); string(got) != "v" {
		t.Errorf("Sweep removed a live record")
	}
	if got, _ := s.LoadSession(ctx, "u"); string(got) != "v" {
		t.Errorf("Sweep removed a session without TTL")
	}
	left := 0
	bolt.DB(s).View(func(tx *bbolt.Tx) error {
		left = tx.Bucket([]byte("dedup")).Stats().KeyN
		return nil
	})
	if left != 1 {
		t.Errorf("%d dedup records left in the file, want 1", left)
	}
}

// TestBackgroundSweep: the sweep runs by itself and Close stops it.
func TestBackgroundSweep(t *testing.T) {
	s := openT(t, bolt.Options{SweepInterval: 20 * time.Millisecond})
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := 0
		bolt.DB(s).View(func(tx *bbolt.Tx) error {
			n = tx.Bucket([]byte("values")).Stats().KeyN
			return nil
		})
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not delete an expired record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFormatVersion: a file written by a future format is refused, not
// misread.
func TestFormatVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "luarobot.db")
	writeRaw(t, path, "meta", map[string][]byte{"format": []byte("99")})
	_, err := bolt.Open(bolt.Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), `unsupported format "99"`) {
		t.Fatalf("Open of a format-99 file: %v", err)
	}
}

// TestNotADatabase: a file that is not bbolt's is a clear error.
func TestNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "luarobot.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := bolt.Open(bolt.Options{Path: path})
	if err == nil || !strings.HasPrefix(err.Error(), "open "+path+": ") {
		t.Fatalf("Open of a text file: %v", err)
	}
}

// TestOpenErrors: a path that cannot be opened says so once, plainly.
func TestOpenErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "luarobot.db")
	_, err := bolt.Open(bolt.Options{Path: path})
	want := "open " + path + ": no such file or directory"
	if err == nil || err.Error() != want {
		t.Fatalf("Open in a missing folder: %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error does not wrap os.ErrNotExist")
	}
	if _, err := bolt.Open(bolt.Options{Path: path, SessionTTL: -time.Second}); err == nil {
		t.Errorf("Open with a negative session TTL succeeded")
	}
}

func BenchmarkSession(b *testing.B) {
	b.Run("batch", func(b *testing.B) {
		storetest.BenchmarkSession(b, openT(b, bolt.Options{}))
	})
	b.Run("nobatch", func(b *testing.B) {
		storetest.BenchmarkSession(b, openT(b, bolt.Options{NoBatch: true}))
	})
	b.Run("batch-serial", func(b *testing.B) {
		storetest.BenchmarkSessionSerial(b, openT(b, bolt.Options{}))
	})
	b.Run("nobatch-serial", func(b *testing.B) {
		storetest.BenchmarkSessionSerial(b, openT(b, bolt.Options{NoBatch: true}))
	})
}
