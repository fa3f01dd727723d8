// Package bolt is the default store.Store: one bbolt file (the db config
// key, luarobot.db by default) holding sessions, tokens, dedup records and
// robot.store values.
//
// Start with Open; Close it when the host stops, which also stops the
// background sweep. Only one process can have the file open at a time: a
// second Open fails after about a second with a message that says so. Use
// store/redis to run several host processes.
//
// # Durability and batching
//
// Every write is committed, and fsync'd, before the call returns: a
// session saved before the reply is sent survives a crash right after it.
// Concurrent writes share one commit through bbolt's DB.Batch, so a burst
// of messages costs a few fsyncs rather than one per message; a write with
// no other in flight commits at once instead of waiting for company.
// Options.NoBatch turns batching off, to measure what it buys.
//
// # Layout
//
// Four buckets: sessions, tokens, dedup and values, plus meta with the
// format version. Each record is an 8-byte big-endian expiry (Unix
// nanoseconds; 0 = never) followed by the data. Expired records are
// invisible at once and deleted by a sweep every Options.SweepInterval. A
// record too short for its expiry, or with an impossible one, is reported
// as an error naming the bucket and key (wrapping ErrCorrupt); it is never
// a panic and never silently dropped.
package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/internal/counter"
)

// ErrLocked is wrapped by Open's error when another process holds the file.
var ErrLocked = errors.New("the file is locked")

// ErrCorrupt is wrapped by the error for a record that cannot be decoded.
var ErrCorrupt = errors.New("corrupt record")

// Options configures Open. The zero value opens DefaultPath with batching.
type Options struct {
	// Path is the database file; empty means store.DefaultPath. It is
	// created (mode 0600: sessions are user data) when missing.
	Path string
	// SessionTTL expires sessions not saved for that long; 0 = never.
	SessionTTL time.Duration
	// NoBatch commits every write in a transaction of its own instead of
	// grouping concurrent writes with DB.Batch. Each write then waits for
	// its own fsync; only the batching benchmark wants this.
	NoBatch bool
	// BatchDelay is how long a write that overlaps others waits for more
	// to join its commit; 0 means DefaultBatchDelay. A write with no other
	// in flight does not wait; a burst shares one fsync per delay.
	BatchDelay time.Duration
	// SweepInterval is how often expired records are deleted; 0 means a
	// minute, a negative value turns the background sweep off.
	SweepInterval time.Duration
	// LockTimeout is how long Open waits for another process to release
	// the file; 0 means a second.
	LockTimeout time.Duration
	// Logger receives sweep errors and corrupt records found by the
	// sweep; nil discards them.
	Logger *slog.Logger
}

// DefaultBatchDelay is the default Options.BatchDelay: short next to
// WeChat's 5-second deadline, long enough for concurrent requests to meet.
const DefaultBatchDelay = time.Millisecond

// formatVersion is stored in the meta bucket; Open refuses other versions
// rather than misreading them.
const formatVersion = "1"

var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("sessions")
	bucketTokens   = []byte("tokens")
	bucketDedup    = []byte("dedup")
	bucketValues   = []byte("values")

	// dataBuckets are the buckets whose records carry an expiry.
	dataBuckets = [][]byte{bucketSessions, bucketTokens, bucketDedup, bucketValues}
)

// Store is a store.Store in a bbolt file. It is safe for concurrent use.
type Store struct {
	db         *bbolt.DB
	path       string
	sessionTTL time.Duration
	noBatch    bool
	log        *slog.Logger

	writers   atomic.Int32 // writes in flight, to skip batching when alone
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
	swept     sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database file and starts the background
// sweep. When another process holds the file it fails after
// Options.LockTimeout with an error wrapping ErrLocked. It leaks nothing
// when it returns an error.
func Open(opts Options) (*Store, error) {
	if opts.Path == "" {
		opts.Path = store.DefaultPath
	}
	if opts.SessionTTL < 0 {
		return nil, fmt.Errorf("bolt: negative session ttl %v", opts.SessionTTL)
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.BatchDelay <= 0 {
		opts.BatchDelay = DefaultBatchDelay
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := opts.Path
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		// Without a timeout bbolt waits forever for the file lock, and a
		// second luarobot started by mistake would hang silently.
		Timeout: opts.LockTimeout,
		// Sessions are rewritten on every message, which frees and
		// reuses pages all the time: the hashmap freelist keeps that
		// cheap, and not writing the freelist on every commit makes each
		// commit smaller (bbolt rebuilds it on open). etcd runs the same.
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: is another luarobot running on %s? (%w)", path, path, ErrLocked)
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) && pe.Path == path {
		err = pe.Err // "open x: open x: permission denied" says x once too often
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.MaxBatchDelay = opts.BatchDelay
	if err := initBuckets(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{
		db:         db,
		path:       path,
		sessionTTL: opts.SessionTTL,
		noBatch:    opts.NoBatch,
		log:        log.With("store", "bolt", "path", path),
		stop:       make(chan struct{}),
	}
	if opts.SweepInterval > 0 {
		s.swept.Add(1)
		go s.sweepLoop(opts.SweepInterval)
	}
	return s, nil
}

// initBuckets creates the buckets of a new file and checks the format of
// an existing one.
func initBuckets(db *bbolt.DB) error {
	return db.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get([]byte("format")); {
		case v == nil:
			if err := meta.Put([]byte("format"), []byte(formatVersion)); err != nil {
				return err
			}
		case string(v) != formatVersion:
			return fmt.Errorf("unsupported format %q (this luarobot reads format %s)", v, formatVersion)
		}
		for _, b := range dataBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
}

// Close stops the sweep and closes the file, waiting for transactions in
// flight. Later calls fail with store.ErrClosed; a second Close returns
// what the first did.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.swept.Wait()
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("bolt: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// --- records ---------------------------------------------------------

// expiryAt returns the record expiry for a TTL starting now; 0 = never.
func expiryAt(now time.Time, ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	return uint64(now.Add(ttl).UnixNano())
}

// encode builds a record: the expiry, then a copy of data. bbolt keeps a
// reference to the value until the transaction commits, so the caller's
// buffer must never be stored directly.
func encode(exp uint64, data []byte) []byte {
	rec := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(rec, exp)
	copy(rec[8:], data)
	return rec
}

// decode splits a record into its expiry and data. The data aliases rec,
// which bbolt only keeps valid inside the transaction.
func decode(bucket, key, rec []byte) (exp uint64, data []byte, err error) {
	if len(rec) < 8 {
		return 0, nil, fmt.Errorf("%w %q in bucket %s: %d bytes, too short for the 8-byte expiry", ErrCorrupt, key, bucket, len(rec))
	}
	exp = binary.BigEndian.Uint64(rec)
	if exp > math.MaxInt64 {
		return 0, nil, fmt.Errorf("%w %q in bucket %s: bad expiry %#x", ErrCorrupt, key, bucket, exp)
	}
	return exp, rec[8:], nil
}

func live(exp uint64, now int64) bool {
	return exp == 0 || int64(exp) > now
}

// lookup returns the live record under key: its expiry and its data (still
// aliasing the transaction's memory), or ok false.
func lookup(tx *bbolt.Tx, bucket, key []byte, now int64) (exp uint64, data []byte, ok bool, err error) {
	rec := tx.Bucket(bucket).Get(key)
	if rec == nil {
		return 0, nil, false, nil
	}
	exp, data, err = decode(bucket, key, rec)
	if err != nil || !live(exp, now) {
		return 0, nil, false, err
	}
	return exp, data, true, nil
}

// clone copies data out of a transaction; it keeps a non-nil result for an
// empty value so that "" is not mistaken for absent.
func clone(b []byte) []byte {
	return append(make([]byte, 0, len(b)), b...)
}

// --- transactions ----------------------------------------------------

// check fails fast for a canceled context or a closed store: bbolt cannot
// cancel a transaction, so this is the last point where ctx counts.
func (s *Store) check(ctx context.Context, op store.Op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bolt: %s: %w", op, err)
	}
	if s.closed.Load() {
		return fmt.Errorf("bolt: %s: %w", op, store.ErrClosed)
	}
	return nil
}

func (s *Store) wrap(op store.Op, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("bolt: %s: %w", op, store.ErrClosed)
	}
	return fmt.Errorf("bolt: %s: %w", op, err)
}

func (s *Store) view(ctx context.Context, op store.Op, fn func(*bbolt.Tx) error) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := s.db.View(fn); err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// update runs fn in a committed write transaction, shared with concurrent
// writers unless batching is off.
//
// DB.Batch may run fn more than once (when another function in the same
// batch fails, the batch is retried without it), so every fn here starts
// from the transaction's state and resets what it reports. And a fn that
// only has bad news and wrote nothing (a corrupt record, a value that is
// not an integer) reports it through a variable and returns nil, so that it
// does not make the whole batch roll back and run again.
func (s *Store) update(ctx context.Context, op store.Op, fn func(*bbolt.Tx) error) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	// A write with no other write in flight commits at once: waiting
	// BatchDelay for company that is not coming would only add latency.
	// Writes that overlap others go through DB.Batch and share a commit.
	alone := s.writers.Add(1) == 1
	defer s.writers.Add(-1)
	var err error
	if s.noBatch || alone {
		err = s.db.Update(fn)
	} else {
		err = s.db.Batch(fn)
	}
	if err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// --- store.Sessions --------------------------------------------------

// LoadSession implements store.Sessions.
func (s *Store) LoadSession(ctx context.Context, id string) ([]byte, error) {
	return s.load(ctx, store.Op{Verb: "load session", Key: id}, bucketSessions, id)
}

func (s *Store) load(ctx context.Context, op store.Op, bucket []byte, key string) ([]byte, error) {
	var out []byte
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		_, data, ok, err := lookup(tx, bucket, []byte(key), time.Now().UnixNano())
		if ok {
			out = clone(data)
		}
		return err
	})
	return out, err
}

// SaveSession implements store.Sessions. It returns once the session is
// on disk. Each save starts the session TTL again, so only idle sessions
// expire.
func (s *Store) SaveSession(ctx context.Context, id string, data []byte) error {
	op := store.Op{Verb: "save session", Key: id}
	if len(data) == 0 {
		return s.update(ctx, op, func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketSessions).Delete([]byte(id))
		})
	}
	// Encode outside the transaction: less work under bbolt's writer lock.
	key := []byte(id)
	rec := encode(expiryAt(time.Now(), s.sessionTTL), data)
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Put(key, rec)
	})
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.update(ctx, store.Op{Verb: "delete session", Key: id}, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSessions).Delete([]byte(id))
	})
}

// --- store.Tokens ----------------------------------------------------

// LoadToken implements store.Tokens. The record's expiry is the token's.
func (s *Store) LoadToken(ctx context.Context, name string) (store.Token, error) {
	op := store.Op{Verb: "load token", Key: name}
	var (
		tok   store.Token
		found bool
	)
	err := s.view(ctx, op, func(tx *bbolt.Tx) error {
		exp, data, ok, err := lookup(tx, bucketTokens, []byte(name), time.Now().UnixNano())
		if ok {
			found = true
			tok.Value = string(data)
			if exp != 0 {
				tok.Expires = time.Unix(0, int64(exp))
			}
		}
		return err
	})
	if err != nil {
		return store.Token{}, err
	}
	if !found {
		return store.Token{}, fmt.Errorf("bolt: %s: %w", op, store.ErrNotFound)
	}
	return tok, nil
}

// SaveToken implements store.Tokens. A token already expired is not kept
// (and replaces, so removes, an older one); a zero expiry keeps it until
// it is invalidated.
func (s *Store) SaveToken(ctx context.Context, name string, t store.Token) error {
	key := []byte(name)
	var exp uint64
	if !t.Expires.IsZero() {
		if !t.Expires.After(time.Now()) {
			return s.update(ctx, store.Op{Verb: "save token", Key: name}, func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketTokens).Delete(key)
			})
		}
		exp = uint64(t.Expires.UnixNano())
	}
	rec := encode(exp, []byte(t.Value))
	return s.update(ctx, store.Op{Verb: "save token", Key: name}, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTokens).Put(key, rec)
	})
}

// InvalidateToken implements store.Tokens: compare and delete in one
// transaction, so a token saved meanwhile by another request survives.
func (s *Store) InvalidateToken(ctx context.Context, name, value string) error {
	key := []byte(name)
	var soft error
	err := s.update(ctx, store.Op{Verb: "invalidate token", Key: name}, func(tx *bbolt.Tx) error {
		soft = nil
		b := tx.Bucket(bucketTokens)
		_, data, ok, err := lookup(tx, bucketTokens, key, time.Now().UnixNano())
		if err != nil {
			soft = err
			return nil
		}
		if ok && string(data) == value {
			return b.Delete(key)
		}
		return nil
	})
	if err == nil && soft != nil {
		err = fmt.Errorf("bolt: invalidate token %q: %w", name, soft)
	}
	return err
}

// --- store.Dedup -----------------------------------------------------

func checkTTL(op store.Op, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("bolt: %s: negative ttl %v", op, ttl)
	}
	return nil
}

// AddDedup implements store.Dedup.
func (s *Store) AddDedup(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, []byte, error) {
	op := store.Op{Verb: "add dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, nil, err
	}
	k := []byte(key)
	var (
		added bool
		cur   []byte
		soft  error
	)
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		added, cur, soft = false, nil, nil
		now := time.Now()
		_, data, ok, err := lookup(tx, bucketDedup, k, now.UnixNano())
		if err != nil {
			soft = err
			return nil
		}
		if ok {
			cur = clone(data)
			return nil
		}
		added = true
		return tx.Bucket(bucketDedup).Put(k, encode(expiryAt(now, ttl), value))
	})
	if err == nil && soft != nil {
		err = fmt.Errorf("bolt: %s: %w", op, soft)
	}
	if err != nil {
		return false, nil, err
	}
	return added, cur, nil
}

// LoadDedup implements store.Dedup.
func (s *Store) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	return s.load(ctx, store.Op{Verb: "load dedup", Key: key}, bucketDedup, key)
}

// SwapDedup implements store.Dedup. An absent key never matches old.
func (s *Store) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	op := store.Op{Verb: "swap dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, err
	}
	k := []byte(key)
	var (
		swapped bool
		soft    error
	)
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		swapped, soft = false, nil
		now := time.Now()
		_, data, ok, err := lookup(tx, bucketDedup, k, now.UnixNano())
		if err != nil {
			soft = err
			return nil
		}
		if !ok || string(data) != string(old) {
			return nil
		}
		swapped = true
		return tx.Bucket(bucketDedup).Put(k, encode(expiryAt(now, ttl), new))
	})
	if err == nil && soft != nil {
		err = fmt.Errorf("bolt: %s: %w", op, soft)
	}
	if err != nil {
		return false, err
	}
	return swapped, nil
}

// --- store.Values ----------------------------------------------------

// Get implements store.Values.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return s.load(ctx, store.Op{Verb: "get", Key: key}, bucketValues, key)
}

// Set implements store.Values.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	op := store.Op{Verb: "set", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return err
	}
	k := []byte(key)
	rec := encode(expiryAt(time.Now(), ttl), value)
	return s.update(ctx, op, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketValues).Put(k, rec)
	})
}

// Delete implements store.Values.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.update(ctx, store.Op{Verb: "delete", Key: key}, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketValues).Delete([]byte(key))
	})
}

// Incr implements store.Values. Like Redis's INCRBY it keeps the key's
// expiry.
func (s *Store) Incr(ctx context.Context, key string, n int64) (int64, error) {
	op := store.Op{Verb: "incr", Key: key}
	k := []byte(key)
	var (
		result int64
		soft   error
	)
	err := s.update(ctx, op, func(tx *bbolt.Tx) error {
		result, soft = 0, nil
		exp, data, ok, err := lookup(tx, bucketValues, k, time.Now().UnixNano())
		if err != nil {
			soft = err
			return nil
		}
		if !ok {
			data, exp = nil, 0
		}
		v, err := counter.Add(data, n)
		if err != nil {
			soft = err
			return nil
		}
		result = v
		return tx.Bucket(bucketValues).Put(k, encode(exp, strconv.AppendInt(nil, v, 10)))
	})
	if err == nil && soft != nil {
		err = fmt.Errorf("bolt: %s: %w", op, soft)
	}
	if err != nil {
		return 0, err
	}
	return result, nil
}

// --- sweep -----------------------------------------------------------

func (s *Store) sweepLoop(every time.Duration) {
	defer s.swept.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			n, err := s.Sweep()
			if err != nil && !errors.Is(err, store.ErrClosed) {
				s.log.Error("sweeping expired records", "err", err)
			} else if n > 0 {
				s.log.Debug("swept expired records", "count", n)
			}
		}
	}
}

// sweepChunk bounds the keys one read transaction of the sweep visits:
// a long read transaction would stall writers that need to grow the file.
const sweepChunk = 2000

// Sweep deletes the expired records now and reports how many. The
// background sweep calls it every Options.SweepInterval; reads never
// return expired records either way, so calling it only frees space.
// Corrupt records are logged and left in place, for the operator to see.
func (s *Store) Sweep() (int, error) {
	total := 0
	for _, bucket := range dataBuckets {
		var after []byte
		for {
			if s.closed.Load() {
				return total, fmt.Errorf("bolt: sweep: %w", store.ErrClosed)
			}
			expired, next, err := s.scanExpired(bucket, after)
			if err != nil {
				return total, s.wrap(store.Op{Verb: "sweep"}, err)
			}
			if len(expired) > 0 {
				n, err := s.deleteExpired(bucket, expired)
				total += n
				if err != nil {
					return total, s.wrap(store.Op{Verb: "sweep"}, err)
				}
			}
			if next == nil {
				break
			}
			after = next
		}
	}
	return total, nil
}

// scanExpired visits up to sweepChunk keys after the key after (from the
// start when nil) and returns the expired ones, and the last key visited
// when there may be more.
func (s *Store) scanExpired(bucket, after []byte) (expired [][]byte, next []byte, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.First()
		} else if k, v = c.Seek(after); k != nil && string(k) == string(after) {
			k, v = c.Next()
		}
		now := time.Now().UnixNano()
		for n := 0; k != nil; k, v = c.Next() {
			exp, _, err := decode(bucket, k, v)
			if err != nil {
				s.log.Warn("corrupt record", "err", err)
			} else if !live(exp, now) {
				expired = append(expired, clone(k))
			}
			if n++; n == sweepChunk {
				next = clone(k)
				break
			}
		}
		return nil
	})
	return expired, next, err
}

// deleteExpired deletes the keys that are still expired: between the scan
// and this transaction a key may have been written again.
func (s *Store) deleteExpired(bucket []byte, keys [][]byte) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		n = 0
		b := tx.Bucket(bucket)
		now := time.Now().UnixNano()
		for _, k := range keys {
			v := b.Get(k)
			if v == nil {
				continue
			}
			if exp, _, err := decode(bucket, k, v); err != nil || live(exp, now) {
				continue
			}
			if err := b.Delete(k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
