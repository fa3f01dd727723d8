package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/redis"
	"github.com/luarobot/luarobot/store/storetest"
)

var (
	adminOnce sync.Once
	admin     *goredis.Client
)

// adminClient is a client of the test server of its own, for looking at
// raw keys and for cleaning up after stores that the test closed.
func adminClient(t testing.TB) *goredis.Client {
	url := storetest.RedisURL(t)
	adminOnce.Do(func() {
		o, err := goredis.ParseURL(url)
		if err != nil {
			panic(err)
		}
		admin = goredis.NewClient(o)
	})
	return admin
}

// openNS opens a store whose keys all live under a fresh namespace, and
// deletes them when the test ends.
func openNS(t testing.TB, o redis.Options) (*redis.Store, string) {
	t.Helper()
	url := storetest.RedisURL(t)
	c := adminClient(t)
	ns := storetest.Namespace()
	t.Cleanup(func() { storetest.DeleteKeys(t, c, ns) })
	o.URL = url
	o.Prefixes = redis.DefaultPrefixes.Under(ns)
	if o.Timeout == 0 {
		// These tests check behaviour, not timeouts, and run -race on busy
		// machines: the 1s default would make them flaky.
		o.Timeout = 5 * time.Second
	}
	s, err := redis.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, ns
}

func TestMain(m *testing.M) {
	// The tests that stop servers would fill the output with go-redis's
	// "failed to dial" lines; the errors they check say the same.
	redis.SetClientLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	storetest.RedisURL(t) // skip (or fail, in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T, o storetest.Options) store.Store {
		s, _ := openNS(t, redis.Options{SessionTTL: o.SessionTTL})
		return s
	})
}

// TestKeys: sessions are where WeRoBot's RedisStorage puts them ("ws_" +
// OpenID, the JSON as is), so a bot moving from WeRoBot keeps its users'
// sessions; the rest is under luarobot: prefixes.
func TestKeys(t *testing.T) {
	url := storetest.RedisURL(t)
	c := adminClient(t)
	s, err := redis.Open(redis.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	id := "oTest" + strings.TrimSuffix(strings.TrimPrefix(storetest.Namespace(), "luarobot-test:"), ":")
	keys := []string{"ws_" + id, "luarobot:token:" + id, "luarobot:dedup:" + id, "luarobot:store:" + id}
	defer c.Del(context.Background(), keys...)

	if err := s.SaveSession(ctx, id, []byte(`{"count": 1}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "ws_"+id).Result(); err != nil || got != `{"count": 1}` {
		t.Errorf("GET ws_%s = %q, %v", id, got, err)
	}
	// And the other way: a session WeRoBot wrote.
	if err := c.Set(ctx, "ws_"+id, `{"last": "hi"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadSession(ctx, id); err != nil || string(got) != `{"last": "hi"}` {
		t.Errorf("LoadSession of a WeRoBot session = %q, %v", got, err)
	}

	exp := time.Now().Add(time.Hour)
	if err := s.SaveToken(ctx, id, store.Token{Value: "tok", Expires: exp}); err != nil {
		t.Fatal(err)
	}
	h, err := c.HGetAll(ctx, "luarobot:token:"+id).Result()
	if err != nil || h["value"] != "tok" || h["expires"] != strconv.FormatInt(exp.UnixMilli(), 10) {
		t.Errorf("HGETALL luarobot:token:%s = %v, %v", id, h, err)
	}
	if ttl := c.PTTL(ctx, "luarobot:token:"+id).Val(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("token key TTL = %v, want about an hour", ttl)
	}
	if _, _, err := s.AddDedup(ctx, id, []byte("d"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "luarobot:dedup:"+id).Val(); got != "d" {
		t.Errorf("GET luarobot:dedup:%s = %q", id, got)
	}
	if err := s.Set(ctx, id, []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if got := c.Get(ctx, "luarobot:store:"+id).Val(); got != "v" {
		t.Errorf("GET luarobot:store:%s = %q", id, got)
	}
}

// TestTwoProcesses: two stores (two host processes) on one server see
// each other's records, and a claim raced from both has one winner.
func TestTwoProcesses(t *testing.T) {
	a, ns := openNS(t, redis.Options{})
	b, err := redis.Open(redis.Options{URL: storetest.RedisURL(t), Prefixes: redis.DefaultPrefixes.Under(ns)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()

	if added, _, err := a.AddDedup(ctx, "m1", []byte("pending-a"), time.Minute); err != nil || !added {
		t.Fatalf("a.AddDedup = %v, %v", added, err)
	}
	added, cur, err := b.AddDedup(ctx, "m1", []byte("pending-b"), time.Minute)
	if err != nil || added || string(cur) != "pending-a" {
		t.Fatalf("b.AddDedup of a's key = %v, %q, %v; want false and a's value", added, cur, err)
	}
	if ok, err := a.SwapDedup(ctx, "m1", []byte("pending-a"), []byte("reply"), time.Minute); err != nil || !ok {
		t.Fatalf("a.SwapDedup = %v, %v", ok, err)
	}
	if got, err := b.LoadDedup(ctx, "m1"); err != nil || string(got) != "reply" {
		t.Fatalf("b.LoadDedup after a's swap = %q, %v", got, err)
	}

	// Race: both processes, many goroutines each.
	for round := 0; round < 5; round++ {
		key := fmt.Sprintf("race-%d", round)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins []string
		)
		start := make(chan struct{})
		for i := 0; i < 16; i++ {
			for name, s := range map[string]*redis.Store{"a": a, "b": b} {
				wg.Add(1)
				go func(who string, s *redis.Store) {
					defer wg.Done()
					<-start
					added, _, err := s.AddDedup(ctx, key, []byte(who), time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if added {
						mu.Lock()
						wins = append(wins, who)
						mu.Unlock()
					}
				}(name+strconv.Itoa(i), s)
			}
		}
		close(start)
		wg.Wait()
		if len(wins) != 1 {
			t.Fatalf("round %d: %d winners (%v), want 1", round, len(wins), wins)
		}
	}

	// The token one process fetched is the other's too, and only the
	// failed value is invalidated.
	if err := a.SaveToken(ctx, "access_token", store.Token{Value: "t1", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if tok, err := b.LoadToken(ctx, "access_token"); err != nil || tok.Value != "t1" {
		t.Fatalf("b.LoadToken = %+v, %v", tok, err)
	}
	if err := b.InvalidateToken(ctx, "access_token", "t0"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := a.LoadToken(ctx, "access_token"); tok.Value != "t1" {
		t.Fatal("invalidating a stale value deleted the fresh token")
	}
}

// TestScriptsReload: after a restart or SCRIPT FLUSH the server has
// forgotten the scripts; EVALSHA's NOSCRIPT must fall back to EVAL.
func TestScriptsReload(t *testing.T) {
	s, _ := openNS(t, redis.Options{})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := adminClient(t).ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		key := "k" + strconv.Itoa(i)
		if added, _, err := s.AddDedup(ctx, key, []byte("a"), time.Minute); err != nil || !added {
			t.Fatalf("AddDedup after SCRIPT FLUSH = %v, %v", added, err)
		}
		adminClient(t).ScriptFlush(ctx)
		if ok, err := s.SwapDedup(ctx, key, []byte("a"), []byte("b"), time.Minute); err != nil || !ok {
			t.Fatalf("SwapDedup after SCRIPT FLUSH = %v, %v", ok, err)
		}
		adminClient(t).ScriptFlush(ctx)
		if err := s.InvalidateToken(ctx, key, "x"); err != nil {
			t.Fatalf("InvalidateToken after SCRIPT FLUSH: %v", err)
		}
	}
}

// TestIncrWrongType: a key of another type (someone's LPUSH) is a clear
// error, not an ErrNotInteger.
func TestIncrWrongType(t *testing.T) {
	s, ns := openNS(t, redis.Options{})
	ctx := context.Background()
	if err := adminClient(t).LPush(ctx, ns+"luarobot:store:list", "x").Err(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Incr(ctx, "list", 1)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), `incr "list"`) {
		t.Fatalf("Incr of a list: %v", err)
	}
	if errors.Is(err, store.ErrNotInteger) {
		t.Errorf("WRONGTYPE reported as ErrNotInteger")
	}
	if _, err := s.Get(ctx, "list"); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Errorf("Get of a list: %v", err)
	}
}

// TestCorruptToken: a token hash that lacks its fields is an error naming
// the key, never a panic or a token with an empty value.
func TestCorruptToken(t *testing.T) {
	s, ns := openNS(t, redis.Options{})
	ctx := context.Background()
	c := adminClient(t)
	c.HSet(ctx, ns+"luarobot:token:a", "other", "x")
	c.HSet(ctx, ns+"luarobot:token:b", "value", "v", "expires", "soon")
	for _, name := range []string{"a", "b"} {
		_, err := s.LoadToken(ctx, name)
		if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "luarobot:token:"+name) {
			t.Errorf("LoadToken(%s) of a broken hash: %v", name, err)
		}
	}
}

// TestDatabase: the /db of the URL selects the database.
func TestDatabase(t *testing.T) {
	url := storetest.RedisURL(t)
	o, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	other := *o
	other.DB = (o.DB + 1) % 16
	otherURL := fmt.Sprintf("redis://%s/%d", o.Addr, other.DB)
	if o.Password != "" || o.TLSConfig != nil {
		t.Skip("REDIS_TEST_URL has a password or TLS; this test builds plain URLs")
	}
	s1, ns := openNS(t, redis.Options{})
	s2, err := redis.Open(redis.Options{URL: otherURL, Prefixes: redis.DefaultPrefixes.Under(ns)})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	ctx := context.Background()
	if err := s1.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx, "k"); err != nil || got != nil {
		t.Fatalf("database %d sees database %d's key: %q, %v", other.DB, o.DB, got, err)
	}
}

func TestBadURL(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", `redis_url is required when session_storage = "redis"`},
		{"http://127.0.0.1:6379", "redis_url: "},
		{"redis://:hunter2@127.0.0.1:6379/notanumber", "redis_url: "},
		{"redis://:hunter2@127.0.0.1:6379/0?dial_timeout=forever", "redis_url: "},
	} {
		_, err := redis.Open(redis.Options{URL: tc.url})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Open(%q) error = %v, want it to start with %q", tc.url, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) error shows the password: %v", tc.url, err)
		}
	}
}

// freePort returns a loopback port nothing listens on (for a moment).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// TestUnreachable: a server that is not there is a fast, clear error that
// names it, not a hung request.
func TestUnreachable(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	start := time.Now()
	_, err := redis.Open(redis.Options{URL: "redis://" + addr + "/0"})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	want := "redis " + addr + ": ping: connection refused"
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
	// A refused connection takes a millisecond; the bound leaves room
	// for a loaded machine running -race.
	if elapsed > 2*time.Second {
		t.Errorf("Open of a closed port took %v", elapsed)
	}
}

// TestSilentServer: a server that accepts but never answers (a hung Redis,
// a firewall that drops) times out at Options.Timeout.
func TestSilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	_, err = redis.Open(redis.Options{URL: "redis://" + l.Addr().String() + "/0", Timeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("Open of a silent server: %v", err)
	}
	// About 200ms when the machine is idle; the bound leaves room for a
	// loaded one, and is still far from "hangs".
	if elapsed > 5*time.Second {
		t.Errorf("Open of a silent server took %v with a 200ms timeout", elapsed)
	}
	t.Logf("after %v: %v", elapsed.Round(time.Millisecond), err)
}

// redisServer runs a throwaway redis-server on port until the test ends or
// stop is called.
type redisServer struct {
	cmd *exec.Cmd
}

func startRedis(t *testing.T, bin string, port int) *redisServer {
	t.Helper()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{cmd: cmd}
	t.Cleanup(s.stop)
	// Wait until it accepts connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not start: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *redisServer) stop() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// TestServerGoesAway: when the server dies, requests fail fast with an
// error naming it; when it is back, the same store works again by itself.
func TestServerGoesAway(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH; this test starts its own")
	}
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := startRedis(t, bin, port)
	s, err := redis.Open(redis.Options{URL: "redis://" + addr + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}

	srv.stop()
	// More calls than the connection pool has slots: the first ones dial
	// and are refused, the later ones get the pool's remembered error.
	for i := 0; i < 30; i++ {
		start := time.Now()
		_, err := s.Get(ctx, "k")
		elapsed := time.Since(start)
		if err == nil {
			t.Fatalf("call %d: Get succeeded with the server gone", i)
		}
		if !strings.HasPrefix(err.Error(), "redis "+addr+`: get "k": `) {
			t.Fatalf("call %d: error %q does not name the server and the operation", i, err)
		}
		if elapsed > 2*time.Second {
			t.Fatalf("call %d: failing took %v", i, elapsed)
		}
		if i == 0 {
			t.Logf("server gone: %v (after %v)", err, elapsed.Round(time.Microsecond))
		}
	}

	startRedis(t, bin, port)
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		err := s.Set(ctx, "k", []byte("back"), 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within 10s of the server coming back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("recovered %v after the server came back", time.Since(start).Round(time.Millisecond))
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "back" {
		t.Fatalf("after recovery Get = %q, %v", got, err)
	}
}

func BenchmarkSession(b *testing.B) {
	s, _ := openNS(b, redis.Options{})
	b.Run("parallel", func(b *testing.B) { storetest.BenchmarkSession(b, s) })
	b.Run("serial", func(b *testing.B) { storetest.BenchmarkSessionSerial(b, s) })
}
