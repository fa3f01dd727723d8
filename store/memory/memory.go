// Package memory is the in-process implementation of store.Store: maps
// behind one mutex, with TTLs. It backs tests and session_storage =
// "memory", and holds tokens, dedup and values when sessions are "off".
//
// Everything is lost when the process exits, and several host processes do
// not share it: use store/bolt or store/redis for that.
package memory

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/internal/counter"
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// SessionTTL expires sessions not saved for that long; 0 = never.
	SessionTTL time.Duration
	// Now is the clock of every TTL and token expiry (default time.Now):
	// a test harness moves it forward to expire sessions and values.
	Now func() time.Time
}

// Store is an in-memory store.Store. It is safe for concurrent use.
type Store struct {
	sessionTTL time.Duration
	now        func() time.Time

	mu     sync.Mutex
	closed bool
	// One map per kind of data, so that a session and a value with the
	// same key never collide (the other stores use separate buckets or key
	// prefixes for the same reason).
	sessions map[string]entry
	tokens   map[string]entry
	dedup    map[string]entry
	values   map[string]entry
	// expiries orders every entry written with a TTL by its expiry, so
	// that each write drops what has expired since the last one: memory
	// is freed continuously, with no sweep that walks a whole map under
	// the lock (a busy host holds a minute of dedup records).
	expiries expiryHeap
}

// entry is a stored value and when it stops existing (zero = never).
type entry struct {
	data    []byte
	expires time.Time
}

func (e entry) live(now time.Time) bool {
	return e.expires.IsZero() || now.Before(e.expires)
}

var _ store.Store = (*Store)(nil)

// New returns an empty Store.
func New(opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		sessionTTL: opts.SessionTTL,
		now:        now,
		sessions:   make(map[string]entry),
		tokens:     make(map[string]entry),
		dedup:      make(map[string]entry),
		values:     make(map[string]entry),
	}
}

// lock takes the mutex after checking ctx, and fails once the store is
// closed. On success the caller must unlock s.mu.
func (s *Store) lock(ctx context.Context, op op) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s: %w", op, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("memory: %s: %w", op, store.ErrClosed)
	}
	return nil
}

// op names an operation for error messages (see store.Op).
type op = store.Op

// get returns the live entry under key. The caller holds s.mu.
func get(m map[string]entry, key string, now time.Time) (entry, bool) {
	e, ok := m[key]
	if !ok {
		return entry{}, false
	}
	if !e.live(now) {
		delete(m, key)
		return entry{}, false
	}
	return e, true
}

// put stores a copy of data, so that a caller reusing its buffer cannot
// change what is stored. The caller holds s.mu.
//
// An entry rewritten with a later expiry keeps the heap item of the one
// it replaces, which dropExpired moves on when it comes due: a dedup
// record is written twice (pending, then final) and needs one item, not
// two, for the minute it is kept.
func (s *Store) put(m map[string]entry, key string, data []byte, now time.Time, ttl time.Duration) {
	e := entry{data: clone(data)}
	if ttl > 0 {
		e.expires = now.Add(ttl)
		if old, ok := m[key]; !ok || old.expires.IsZero() || e.expires.Before(old.expires) {
			s.expiries.push(expiry{m: m, key: key, at: e.expires})
		}
	}
	m[key] = e
	s.dropExpired(now)
}

// dropExpired deletes the entries whose expiry has passed. A heap item
// whose entry was rewritten since with a later expiry is pushed again for
// that one (see put); one whose entry was rewritten without expiry, or
// dropped, is only popped. The caller holds s.mu.
//
// Every entry with an expiry (tokens aside, which are only hidden once
// expired) has an item in the heap at or before its expiry: put pushes one
// unless the entry it replaces had one that early, and an item is dropped
// only for an entry that has no expiry, or none after the item's.
func (s *Store) dropExpired(now time.Time) {
	for len(s.expiries) > 0 && !now.Before(s.expiries[0].at) {
		x := s.expiries.pop()
		e, ok := x.m[x.key]
		switch {
		case !ok || e.expires.IsZero() || e.expires.Before(x.at):
			// Stale: rewritten without expiry, dropped, or rewritten with
			// an earlier expiry, which has an item of its own.
		case e.expires.Equal(x.at):
			delete(x.m, x.key)
		default:
			x.at = e.expires
			s.expiries.push(x)
		}
	}
}

// expiry is when the entry key of map m was set to expire.
type expiry struct {
	m   map[string]entry
	key string
	at  time.Time
}

// expiryHeap is a min-heap of expiries by time. It is not a
// container/heap, which takes and gives each item as an interface: an
// allocation per push and per pop, three of each per message for a host's
// dedup store (the replay record, the pending record, the final one).
type expiryHeap []expiry

func (h *expiryHeap) push(x expiry) {
	q := append(*h, x)
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q[i].at.Before(q[parent].at) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
	*h = q
}

// pop removes the earliest expiry; the heap must not be empty.
func (h *expiryHeap) pop() expiry {
	q := *h
	x := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = expiry{} // let the map and key go
	q = q[:n]
	for i := 0; ; {
		first := 2*i + 1
		if first >= n {
			break
		}
		if second := first + 1; second < n && q[second].at.Before(q[first].at) {
			first = second
		}
		if !q[first].at.Before(q[i].at) {
			break
		}
		q[i], q[first] = q[first], q[i]
		i = first
	}
	*h = q
	return x
}

// clone copies b; it returns a non-nil slice for a non-nil b so that an
// empty stored value is not mistaken for an absent one.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func checkTTL(op op, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("memory: %s: negative ttl %v", op, ttl)
	}
	return nil
}

// LoadSession implements store.Sessions.
func (s *Store) LoadSession(ctx context.Context, id string) ([]byte, error) {
	if err := s.lock(ctx, op{Verb: "load session", Key: id}); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := get(s.sessions, id, s.now())
	if !ok {
		return nil, nil
	}
	return clone(e.data), nil
}

// SaveSession implements store.Sessions. Each save starts the session TTL
// again, so that only idle sessions expire.
func (s *Store) SaveSession(ctx context.Context, id string, data []byte) error {
	if err := s.lock(ctx, op{Verb: "save session", Key: id}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if len(data) == 0 {
		delete(s.sessions, id)
		return nil
	}
	s.put(s.sessions, id, data, s.now(), s.sessionTTL)
	return nil
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if err := s.lock(ctx, op{Verb: "delete session", Key: id}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.sessions, id)
	return nil
}

// LoadToken implements store.Tokens.
func (s *Store) LoadToken(ctx context.Context, name string) (store.Token, error) {
	if err := s.lock(ctx, op{Verb: "load token", Key: name}); err != nil {
		return store.Token{}, err
	}
	defer s.mu.Unlock()
	e, ok := get(s.tokens, name, s.now())
	if !ok {
		return store.Token{}, fmt.Errorf("memory: load token %q: %w", name, store.ErrNotFound)
	}
	return store.Token{Value: string(e.data), Expires: e.expires}, nil
}

// SaveToken implements store.Tokens. A token whose expiry has passed is
// not kept; a zero expiry keeps it until it is invalidated.
func (s *Store) SaveToken(ctx context.Context, name string, t store.Token) error {
	if err := s.lock(ctx, op{Verb: "save token", Key: name}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.now()
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		delete(s.tokens, name)
		return nil
	}
	// Strip the monotonic clock reading so that the Expires we hand back
	// compares equal (==) to one read from bolt or Redis.
	s.tokens[name] = entry{data: []byte(t.Value), expires: t.Expires.Round(0)}
	s.dropExpired(now)
	return nil
}

// InvalidateToken implements store.Tokens.
func (s *Store) InvalidateToken(ctx context.Context, name, value string) error {
	if err := s.lock(ctx, op{Verb: "invalidate token", Key: name}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if e, ok := get(s.tokens, name, s.now()); ok && string(e.data) == value {
		delete(s.tokens, name)
	}
	return nil
}

// AddDedup implements store.Dedup.
func (s *Store) AddDedup(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, []byte, error) {
	op := op{Verb: "add dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, nil, err
	}
	if err := s.lock(ctx, op); err != nil {
		return false, nil, err
	}
	defer s.mu.Unlock()
	now := s.now()
	if e, ok := get(s.dedup, key, now); ok {
		return false, clone(e.data), nil
	}
	s.put(s.dedup, key, value, now, ttl)
	return true, nil, nil
}

// LoadDedup implements store.Dedup.
func (s *Store) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	if err := s.lock(ctx, op{Verb: "load dedup", Key: key}); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := get(s.dedup, key, s.now())
	if !ok {
		return nil, nil
	}
	return clone(e.data), nil
}

// SwapDedup implements store.Dedup. An absent key never matches old.
func (s *Store) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	op := op{Verb: "swap dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, err
	}
	if err := s.lock(ctx, op); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.now()
	e, ok := get(s.dedup, key, now)
	if !ok || string(e.data) != string(old) {
		return false, nil
	}
	s.put(s.dedup, key, new, now, ttl)
	return true, nil
}

// Get implements store.Values.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.lock(ctx, op{Verb: "get", Key: key}); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := get(s.values, key, s.now())
	if !ok {
		return nil, nil
	}
	return clone(e.data), nil
}

// Set implements store.Values.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	op := op{Verb: "set", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return err
	}
	if err := s.lock(ctx, op); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if value == nil {
		value = []byte{}
	}
	s.put(s.values, key, value, s.now(), ttl)
	return nil
}

// Delete implements store.Values.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.lock(ctx, op{Verb: "delete", Key: key}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.values, key)
	return nil
}

// Incr implements store.Values. Like Redis's INCRBY, it keeps the key's
// TTL.
func (s *Store) Incr(ctx context.Context, key string, n int64) (int64, error) {
	op := op{Verb: "incr", Key: key}
	if err := s.lock(ctx, op); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.now()
	e, _ := get(s.values, key, now)
	v, err := counter.Add(e.data, n)
	if err != nil {
		return 0, fmt.Errorf("memory: %s: %w", op, err)
	}
	e.data = strconv.AppendInt(nil, v, 10)
	s.values[key] = e
	s.dropExpired(now)
	return v, nil
}

// Close implements store.Store: it drops everything. Later calls fail with
// store.ErrClosed; a second Close does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.sessions, s.tokens, s.dedup, s.values = nil, nil, nil, nil
	return nil
}
