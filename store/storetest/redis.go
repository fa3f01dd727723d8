package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DefaultRedisURL is the server the Redis tests use when
// REDIS_TEST_URL is not set: database 15 of a local redis-server,
// away from the 0 a developer's own data is likely in.
const DefaultRedisURL = "redis://127.0.0.1:6379/15"

var (
	redisOnce sync.Once
	redisURL  string
	redisErr  error
)

// RedisURL returns the URL of the Redis server for tests
// (REDIS_TEST_URL, or DefaultRedisURL; deliberately not a LUAROBOT_*
// variable, which the host would take for a configuration key). When no server answers
// there the test is skipped, unless the environment variable CI is set: CI
// must really test Redis, so there it fails.
func RedisURL(t testing.TB) string {
	t.Helper()
	redisOnce.Do(func() {
		redisURL = os.Getenv("REDIS_TEST_URL")
		if redisURL == "" {
			redisURL = DefaultRedisURL
		}
		o, err := goredis.ParseURL(redisURL)
		if err != nil {
			redisErr = fmt.Errorf("REDIS_TEST_URL: %w", err)
			return
		}
		o.DialTimeout = time.Second
		o.MaxRetries = -1
		o.DialerRetries = 1
		c := goredis.NewClient(o)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		redisErr = c.Ping(ctx).Err()
	})
	if redisErr != nil {
		msg := fmt.Sprintf("no redis-server at %s (%v); install redis-server or set REDIS_TEST_URL", redisURL, redisErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set: the Redis tests must run)")
		}
		t.Skip(msg)
	}
	return redisURL
}

// Namespace returns a fresh key prefix ("luarobot-test:<random>:"), so that
// tests share a Redis database, and run in parallel, without FLUSHDB.
func Namespace() string {
	b := make([]byte, 8)
	rand.Read(b)
	return "luarobot-test:" + hex.EncodeToString(b) + ":"
}

// DeleteKeys deletes every key that starts with prefix: the cleanup of a
// test that used Namespace.
func DeleteKeys(t testing.TB, c *goredis.Client, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleaning up %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("cleaning up %s*: %v", prefix, err)
		}
	}
}
