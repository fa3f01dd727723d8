// Package storeopen builds the store.Store that the configuration asks for:
// the one call main makes, storeopen.Open(store.Options{...}).
//
// It is a package of its own because it imports every implementation, and
// the implementations import package store for its interfaces and errors:
// Open in package store would be an import cycle.
package storeopen

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/bolt"
	"github.com/luarobot/luarobot/store/memory"
	"github.com/luarobot/luarobot/store/redis"
)

// Open is OpenContext with a context that never ends.
func Open(opts store.Options) (store.Store, error) {
	return OpenContext(context.Background(), opts)
}

// OpenContext validates opts and opens the store it describes:
//
//   - "bolt" (or ""): the bbolt file opts.Path (default luarobot.db);
//   - "redis": the server at opts.RedisURL;
//   - "memory": process memory;
//   - "off": no sessions (LoadSession returns nil, SaveSession does
//     nothing), with tokens, dedup and values in memory.
//
// Configuration errors name the config key. Open leaks nothing when it
// returns an error; the caller closes the store it returns. ctx bounds
// the wait for a Redis server that is still loading its dataset.
func OpenContext(ctx context.Context, opts store.Options) (store.Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch opts.Kind {
	case "", store.KindBolt:
		s, err := bolt.Open(bolt.Options{
			Path:       opts.Path,
			SessionTTL: opts.SessionTTL,
			Logger:     log,
		})
		if err != nil {
			return nil, err
		}
		return s, nil
	case store.KindRedis:
		if opts.Logger != nil {
			redis.SetClientLogger(opts.Logger)
		}
		s, err := redis.OpenContext(ctx, redis.Options{URL: opts.RedisURL, SessionTTL: opts.SessionTTL, Logger: log})
		if err != nil {
			return nil, err
		}
		return s, nil
	case store.KindMemory:
		return memory.New(memory.Options{SessionTTL: opts.SessionTTL}), nil
	case store.KindOff:
		return store.WithoutSessions(memory.New(memory.Options{})), nil
	}
	// Validate lets no other kind through.
	return nil, fmt.Errorf("session_storage: unknown kind %q", opts.Kind)
}
