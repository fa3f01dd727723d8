package store

import (
	"fmt"
	"log/slog"
	"time"
)

// The kinds of store, as written in the session_storage config key.
const (
	KindBolt   = "bolt"   // one bbolt file; the default
	KindRedis  = "redis"  // a Redis server shared by several host processes
	KindMemory = "memory" // process memory; lost on restart
	KindOff    = "off"    // no sessions; the rest in memory
)

// DefaultPath is the bbolt file used when Options.Path is empty (the db
// config key's default).
const DefaultPath = "luarobot.db"

// Options selects and configures a store. The fields mirror the config
// keys session_storage, db and redis_url; storeopen.Open builds the store.
type Options struct {
	// Kind is KindBolt, KindRedis, KindMemory or KindOff; empty means
	// KindBolt.
	Kind string
	// Path is the bbolt file; empty means DefaultPath.
	Path string
	// RedisURL is redis://[:password@]host:port/db or rediss://...;
	// required for KindRedis.
	RedisURL string
	// SessionTTL expires sessions that were not saved for that long; 0
	// keeps them forever.
	SessionTTL time.Duration
	// Logger receives the store's background errors (a failed sweep, a
	// corrupt record); nil discards them.
	Logger *slog.Logger
}

// Validate reports a configuration error in the words of the config file,
// so that the operator knows which key to fix. It does not touch any file or
// server: main can call it before anything is opened.
func (o Options) Validate() error {
	switch o.Kind {
	case "", KindBolt, KindMemory, KindOff:
	case KindRedis:
		if o.RedisURL == "" {
			return fmt.Errorf("redis_url is required when session_storage = %q", KindRedis)
		}
	default:
		return fmt.Errorf("session_storage: unknown kind %q (want bolt, redis, memory or off)", o.Kind)
	}
	if o.SessionTTL < 0 {
		return fmt.Errorf("session ttl: %v is negative (0 keeps sessions forever)", o.SessionTTL)
	}
	return nil
}
