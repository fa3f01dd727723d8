package storeopen_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/bolt"
	"github.com/luarobot/luarobot/store/memory"
	"github.com/luarobot/luarobot/store/redis"
	"github.com/luarobot/luarobot/store/storeopen"
	"github.com/luarobot/luarobot/store/storetest"
)

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		opts store.Options
		want string
	}{
		{store.Options{Kind: "mongo"}, `session_storage: unknown kind "mongo" (want bolt, redis, memory or off)`},
		{store.Options{Kind: "Bolt"}, `session_storage: unknown kind "Bolt" (want bolt, redis, memory or off)`},
		{store.Options{Kind: "redis"}, `redis_url is required when session_storage = "redis"`},
		{store.Options{Kind: "memory", SessionTTL: -time.Second}, "session ttl: -1s is negative (0 keeps sessions forever)"},
	} {
		if err := tc.opts.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("Validate(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
		s, err := storeopen.Open(tc.opts)
		if err == nil {
			s.Close()
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("Open(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

// TestDefaultIsBolt: with nothing configured the host gets luarobot.db in
// the working directory.
func TestDefaultIsBolt(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := storeopen.Open(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, ok := s.(*bolt.Store); !ok || b.Path() != "luarobot.db" {
		t.Fatalf("Open(zero Options) = %T, want a *bolt.Store on luarobot.db", s)
	}
	if _, err := os.Stat("luarobot.db"); err != nil {
		t.Fatal(err)
	}
}

func TestBoltPathAndTTL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.db")
	s, err := storeopen.Open(store.Options{Kind: "bolt", Path: path, SessionTTL: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.SaveSession(ctx, "u", []byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got, err := s.LoadSession(ctx, "u"); err != nil || got != nil {
		t.Fatalf("SessionTTL not passed on: LoadSession = %q, %v", got, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestBoltLocked: the "another luarobot" message reaches main unchanged.
func TestBoltLocked(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := storeopen.Open(store.Options{Kind: "bolt"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = storeopen.Open(store.Options{Kind: "bolt"})
	const want = "open luarobot.db: is another luarobot running on luarobot.db? (the file is locked)"
	if err == nil || err.Error() != want {
		t.Fatalf("second Open = %v, want %q", err, want)
	}
}

func TestMemory(t *testing.T) {
	s, err := storeopen.Open(store.Options{Kind: "memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*memory.Store); !ok {
		t.Fatalf("Open(memory) = %T", s)
	}
}

// TestOff: no sessions, but the host's token, dedup and robot.store still
// work.
func TestOff(t *testing.T) {
	s, err := storeopen.Open(store.Options{Kind: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.SaveSession(ctx, "u", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSession(ctx, "u"); err != nil || got != nil {
		t.Fatalf("LoadSession with sessions off = %q, %v; want nil, nil", got, err)
	}
	if err := s.DeleteSession(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveToken(ctx, "t", store.Token{Value: "v", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.LoadToken(ctx, "t"); err != nil || tok.Value != "v" {
		t.Fatalf("LoadToken = %+v, %v", tok, err)
	}
	if added, _, err := s.AddDedup(ctx, "d", []byte("v"), time.Minute); err != nil || !added {
		t.Fatalf("AddDedup = %v, %v", added, err)
	}
	if n, err := s.Incr(ctx, "n", 2); err != nil || n != 2 {
		t.Fatalf("Incr = %d, %v", n, err)
	}
}

func TestRedis(t *testing.T) {
	url := storetest.RedisURL(t)
	s, err := storeopen.Open(store.Options{Kind: "redis", RedisURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, ok := s.(*redis.Store)
	if !ok {
		t.Fatalf("Open(redis) = %T", s)
	}
	ctx := context.Background()
	key := "storeopen-test-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	defer r.Client().Del(ctx, "luarobot:store:"+key)
	if err := s.Set(ctx, key, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := r.Client().Get(ctx, "luarobot:store:"+key).Val(); got != "v" {
		t.Fatalf("the value is not under the default prefix: %q", got)
	}
}

func TestRedisUnreachable(t *testing.T) {
	_, err := storeopen.Open(store.Options{Kind: "redis", RedisURL: "redis://127.0.0.1:1/0"})
	if err == nil || !strings.HasPrefix(err.Error(), "redis 127.0.0.1:1: ping: ") {
		t.Fatalf("Open of a closed port: %v", err)
	}
}
