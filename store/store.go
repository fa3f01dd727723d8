// Package store is LuaRoBot's persistence: user sessions, the access-token
// cache, the retry-dedup cache and the bot-wide values of robot.store,
// behind small interfaces with bbolt, Redis and in-memory implementations.
//
// Values are opaque bytes (the callers store JSON); the store only keeps
// them, expires them and offers the few atomic operations that several
// host processes need to agree (add-if-absent, compare-and-swap, incr).
//
// Main opens the configured store with storeopen.Open(Options{...}) and
// closes it on shutdown. The implementations are store/bolt (the default,
// one file), store/redis (several processes on one server) and
// store/memory (tests, session_storage = "memory" and "off"); each passes
// the conformance suite in store/storetest. This package imports nothing
// of the project, and the implementations import it, which is why Open
// lives in store/storeopen.
//
// Every method takes a context and fails fast when it is already done. After
// Close every method fails with an error wrapping ErrClosed.
package store

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// ErrNotFound is returned by Tokens.LoadToken when no token is cached.
var ErrNotFound = errors.New("not found")

// ErrClosed is wrapped by every error a store returns after Close, so that
// a request that races a shutdown fails cleanly instead of panicking.
var ErrClosed = errors.New("store is closed")

// ErrNotInteger is wrapped by the error of Values.Incr when the stored value
// is not a decimal integer, so that robot.store.incr can say so plainly.
var ErrNotInteger = errors.New("value is not an integer")

// Sessions keeps one document per user, keyed by the user's OpenID.
type Sessions interface {
	// LoadSession returns the stored session, or nil and no error when
	// there is none (or it expired).
	LoadSession(ctx context.Context, id string) ([]byte, error)
	// SaveSession stores the session; it is durable when SaveSession
	// returns. An empty data deletes the session.
	SaveSession(ctx context.Context, id string, data []byte) error
	// DeleteSession removes the session.
	DeleteSession(ctx context.Context, id string) error
}

// Token is a cached credential (access token, jsapi ticket) and its expiry.
type Token struct {
	Value   string
	Expires time.Time
}

// Tokens caches credentials by name so that a restart, or another host
// process, reuses them instead of fetching new ones.
type Tokens interface {
	// LoadToken returns the cached token or ErrNotFound.
	LoadToken(ctx context.Context, name string) (Token, error)
	// SaveToken caches the token until its expiry.
	SaveToken(ctx context.Context, name string, t Token) error
	// InvalidateToken deletes the cached token only if its value is still
	// value, so that callers that saw the same token fail do not throw away
	// a fresh one that another caller fetched meanwhile.
	InvalidateToken(ctx context.Context, name, value string) error
}

// Dedup is the retry cache of the reply engine: small records with a TTL
// and the atomic operations to hand one record between processes.
type Dedup interface {
	// AddDedup stores value under key if the key is absent. It reports
	// whether it added it and, when it did not, the current value.
	AddDedup(ctx context.Context, key string, value []byte, ttl time.Duration) (added bool, current []byte, err error)
	// LoadDedup returns the value, or nil when the key is absent.
	LoadDedup(ctx context.Context, key string) ([]byte, error)
	// SwapDedup replaces the value with new only if it is still old, and
	// reports whether it did. The TTL starts again.
	SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error)
}

// Values holds robot.store: bot-wide values shared by every user and every
// host process.
type Values interface {
	// Get returns the value, or nil when the key is absent or expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores the value; a ttl of 0 keeps it until it is deleted.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes the key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Incr adds n to the integer stored at key (absent counts as 0),
	// atomically, and returns the new value. A value that is not a decimal
	// integer is an error.
	Incr(ctx context.Context, key string, n int64) (int64, error)
}

// Op names a store operation in error messages: "save session \"o123\"".
// The implementations pass it by value and format it only when they return
// an error, so the hot path does not pay for fmt.
type Op struct{ Verb, Key string }

func (o Op) String() string {
	if o.Key == "" {
		return o.Verb // an operation on the whole store: "close", "sweep"
	}
	return o.Verb + " " + strconv.Quote(o.Key)
}

// Store is everything the host persists.
type Store interface {
	Sessions
	Tokens
	Dedup
	Values
	// Close releases the store; the store must not be used afterwards.
	Close() error
}
