// Package redis is the store.Store for several host processes behind one
// load balancer: they share sessions, the access token and the retry-dedup
// records through one Redis server (session_storage = "redis", redis_url).
//
// Start with Open(Options{URL: "redis://127.0.0.1:6379/0"}).
//
// # Keys
//
// Sessions live under "ws_" + OpenID, the key and JSON value WeRoBot's
// RedisStorage uses; tokens under "luarobot:token:" (a hash of value and
// expires, in Unix milliseconds), dedup records under "luarobot:dedup:" and
// robot.store values under "luarobot:store:". Options.Prefixes changes them
// (tests give each run its own).
//
// # Atomicity
//
// What two processes must agree on is one Redis operation: AddDedup,
// SwapDedup and InvalidateToken are small Lua scripts (EVALSHA, falling
// back to EVAL when the server does not have them yet), Incr is INCRBY.
//
// # Failures
//
// Dial, read and write time out after a second, and commands are not
// retried: none of AddDedup, SwapDedup and Incr can be safely repeated when
// the first attempt's fate is unknown, and the pipeline would rather answer
// WeChat "success" than hang. Errors name the server, "redis
// 127.0.0.1:6379: load session "o1": connection refused", and once the
// server is back the client reconnects by itself.
package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/luarobot/luarobot/store"
)

// Prefixes are the key prefixes of the four kinds of data.
type Prefixes struct {
	Session string // WeRoBot's RedisStorage uses "ws_"
	Token   string
	Dedup   string
	Value   string
}

// DefaultPrefixes is the key layout of a production deployment.
var DefaultPrefixes = Prefixes{
	Session: "ws_",
	Token:   "luarobot:token:",
	Dedup:   "luarobot:dedup:",
	Value:   "luarobot:store:",
}

// Under returns the prefixes with ns in front of each, so that several
// bots (or test runs) can share one Redis database.
func (p Prefixes) Under(ns string) Prefixes {
	return Prefixes{ns + p.Session, ns + p.Token, ns + p.Dedup, ns + p.Value}
}

// Options configures Open.
type Options struct {
	// URL is redis://[user:password@]host:port/db or rediss:// for TLS
	// (the redis_url config key). Query parameters such as
	// ?dial_timeout=3s&pool_size=50 tune the client (go-redis's ParseURL).
	URL string
	// Prefixes are the key prefixes; a zero field takes DefaultPrefixes'.
	Prefixes Prefixes
	// SessionTTL expires sessions not saved for that long; 0 = never.
	SessionTTL time.Duration
	// Timeout bounds dialing, each read and each write, unless the URL
	// sets dial_timeout, read_timeout or write_timeout; 0 means a second.
	Timeout time.Duration
	// LoadingTimeout bounds how long Open waits for a server that is
	// still loading its dataset (it answers LOADING after a restart);
	// 0 means DefaultLoadingTimeout.
	LoadingTimeout time.Duration
	// Logger is told about each retry while the server loads; nil
	// discards.
	Logger *slog.Logger
}

// DefaultLoadingTimeout is how long Open waits, by default, for a server
// loading its dataset: a large dump takes minutes.
const DefaultLoadingTimeout = 5 * time.Minute

// Retries while the server loads back off from loadingRetryMin, doubling,
// to loadingRetryMax between attempts.
const (
	loadingRetryMin = 100 * time.Millisecond
	loadingRetryMax = 5 * time.Second
)

// Store is a store.Store on a Redis server. It is safe for concurrent use.
type Store struct {
	client     *goredis.Client
	addr       string
	p          Prefixes
	sessionTTL time.Duration

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open is OpenContext with a context that never ends.
func Open(opts Options) (*Store, error) {
	return OpenContext(context.Background(), opts)
}

// OpenContext connects to the server at opts.URL and checks that it
// answers, so that a wrong address or password shows at startup rather than
// at the first message. A server that is still loading its dataset (LOADING,
// as after a restart) is waited for, retrying with a logged back-off, up to
// opts.LoadingTimeout or until ctx ends. It leaks nothing when it returns an
// error.
func OpenContext(ctx context.Context, opts Options) (*Store, error) {
	if opts.URL == "" {
		return nil, errors.New(`redis_url is required when session_storage = "redis"`)
	}
	if opts.SessionTTL < 0 {
		return nil, fmt.Errorf("redis: negative session ttl %v", opts.SessionTTL)
	}
	o, err := goredis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("redis_url: %s (want redis://[:password@]host:port/db)", hideSecret(err.Error(), opts.URL))
	}
	configure(o, opts.Timeout)
	p := opts.Prefixes
	if p.Session == "" {
		p.Session = DefaultPrefixes.Session
	}
	if p.Token == "" {
		p.Token = DefaultPrefixes.Token
	}
	if p.Dedup == "" {
		p.Dedup = DefaultPrefixes.Dedup
	}
	if p.Value == "" {
		p.Value = DefaultPrefixes.Value
	}
	s := &Store{
		client:     goredis.NewClient(o),
		addr:       o.Addr,
		p:          p,
		sessionTTL: opts.SessionTTL,
	}
	if err := s.ping(ctx, o, opts); err != nil {
		s.client.Close()
		return nil, err
	}
	return s, nil
}

// ping checks that the server answers, waiting while it loads.
func (s *Store) ping(ctx context.Context, o *goredis.Options, opts Options) error {
	limit := opts.LoadingTimeout
	if limit <= 0 {
		limit = DefaultLoadingTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	op := store.Op{Verb: "ping"}
	giveUp := time.Now().Add(limit)
	wait := loadingRetryMin
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 2*o.DialTimeout+o.ReadTimeout)
		err := s.client.Ping(pctx).Err()
		cancel()
		if err == nil || !goredis.IsLoadingError(err) {
			if err != nil {
				return s.fail(op, err)
			}
			if attempt > 1 {
				log.Info("redis finished loading its dataset", "addr", s.addr)
			}
			return nil
		}
		if !time.Now().Add(wait).Before(giveUp) {
			return s.fail(op, fmt.Errorf("still loading its dataset after %v (%w)", limit, err))
		}
		log.Warn("redis is loading its dataset; waiting", "addr", s.addr, "attempt", attempt, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return s.fail(op, fmt.Errorf("gave up waiting for the dataset to load: %w", ctx.Err()))
		}
		wait = min(2*wait, loadingRetryMax)
	}
}

// configure sets what the URL left unset: short timeouts, no command
// retries, and no extra handshakes.
func configure(o *goredis.Options, timeout time.Duration) {
	if timeout <= 0 {
		timeout = time.Second
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = timeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = timeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = timeout
	}
	// A caller's deadline (the reply deadline) also bounds the command.
	o.ContextTimeoutEnabled = true
	// No retries: a command whose reply was lost may have run, and running
	// SET NX, the swap script or INCRBY again would lie or count twice.
	// Dead pooled connections are not a reason to retry either: go-redis
	// checks each one before use and dials anew.
	if o.MaxRetries == 0 {
		o.MaxRetries = -1
	}
	// One dial per command: a refused connection is an answer, and the
	// pool keeps redialing in the background once the server is gone.
	o.DialerRetries = 1
	o.DialerRetryTimeout = time.Millisecond
	// Maintenance notifications are for Redis Enterprise/Cloud cluster
	// moves; with a plain server they are one more handshake per
	// connection that can fail.
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// hideSecret removes a password from a parse error that quotes the URL.
func hideSecret(msg, raw string) string {
	safe := "the URL"
	if u, err := url.Parse(raw); err == nil {
		safe = u.Redacted()
	}
	return strings.ReplaceAll(msg, raw, safe)
}

// Close closes the client. Later calls fail with store.ErrClosed; a second
// Close returns what the first did.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.client.Close(); err != nil {
			s.closeErr = s.fail(store.Op{Verb: "close"}, err)
		}
	})
	return s.closeErr
}

// SetClientLogger sends go-redis's own log lines (a failed dial, for
// instance: one per command while the server is down) to l at debug level
// instead of stderr, where they would repeat what the store's errors
// already say. go-redis has one logger per process: call this once, before
// Open.
func SetClientLogger(l *slog.Logger) {
	goredis.SetLogger(clientLogger{l})
}

type clientLogger struct{ l *slog.Logger }

func (c clientLogger) Printf(ctx context.Context, format string, v ...any) {
	c.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// Addr is the server's address, host:port.
func (s *Store) Addr() string { return s.addr }

// Client is the go-redis client, for tests and for callers that need a
// command the store does not offer. Keys outside the prefixes are theirs.
func (s *Store) Client() *goredis.Client { return s.client }

// --- errors ----------------------------------------------------------

// Error is a failed command. Its message names the server, the operation
// and the cause in a few words; Unwrap gives the full cause (a
// *net.OpError, context.DeadlineExceeded, store.ErrClosed, ...).
type Error struct {
	Addr string // host:port
	Op   string // e.g. `load session "o1"`
	Err  error
}

func (e *Error) Error() string {
	return "redis " + e.Addr + ": " + e.Op + ": " + short(e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// short says what went wrong without repeating the address: a dial error
// reads "dial tcp 127.0.0.1:6379: connect: connection refused", and the
// operator only needs "connection refused".
func short(err error) string {
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout (no answer in time)"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func (s *Store) fail(op store.Op, err error) error {
	if errors.Is(err, goredis.ErrClosed) && !errors.Is(err, store.ErrClosed) {
		err = fmt.Errorf("%w (%w)", store.ErrClosed, err)
	}
	return &Error{Addr: s.addr, Op: op.String(), Err: err}
}

// check fails fast for a canceled context or a closed store.
func (s *Store) check(ctx context.Context, op store.Op) error {
	if err := ctx.Err(); err != nil {
		return s.fail(op, err)
	}
	if s.closed.Load() {
		return s.fail(op, store.ErrClosed)
	}
	return nil
}

// ms converts a TTL to whole milliseconds, rounding up so that a positive
// TTL never becomes 0 (which would mean "no expiry").
func ms(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

func checkTTL(op store.Op, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("redis: %s: negative ttl %v", op, ttl)
	}
	return nil
}

// get is GET with an absent key as nil.
func (s *Store) get(ctx context.Context, op store.Op, key string) ([]byte, error) {
	if err := s.check(ctx, op); err != nil {
		return nil, err
	}
	b, err := s.client.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, s.fail(op, err)
	}
	return b, nil
}

// set is SET, with PX when ttl > 0. A plain SET also drops an old TTL.
func (s *Store) set(ctx context.Context, op store.Op, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	var exp time.Duration
	if ttl > 0 {
		exp = time.Duration(ms(ttl)) * time.Millisecond
	}
	if value == nil {
		value = []byte{}
	}
	if err := s.client.Set(ctx, key, value, exp).Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

func (s *Store) del(ctx context.Context, op store.Op, key string) error {
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := s.client.Del(ctx, key).Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// --- store.Sessions --------------------------------------------------

// LoadSession implements store.Sessions.
func (s *Store) LoadSession(ctx context.Context, id string) ([]byte, error) {
	return s.get(ctx, store.Op{Verb: "load session", Key: id}, s.p.Session+id)
}

// SaveSession implements store.Sessions. Each save starts the session TTL
// again (SET PX), so only idle sessions expire.
func (s *Store) SaveSession(ctx context.Context, id string, data []byte) error {
	op := store.Op{Verb: "save session", Key: id}
	if len(data) == 0 {
		return s.del(ctx, op, s.p.Session+id)
	}
	return s.set(ctx, op, s.p.Session+id, data, s.sessionTTL)
}

// DeleteSession implements store.Sessions.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.del(ctx, store.Op{Verb: "delete session", Key: id}, s.p.Session+id)
}

// --- store.Tokens ----------------------------------------------------

// Token hash fields.
const (
	fieldValue   = "value"
	fieldExpires = "expires" // Unix milliseconds; absent = never
)

// LoadToken implements store.Tokens.
func (s *Store) LoadToken(ctx context.Context, name string) (store.Token, error) {
	op := store.Op{Verb: "load token", Key: name}
	if err := s.check(ctx, op); err != nil {
		return store.Token{}, err
	}
	key := s.p.Token + name
	h, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return store.Token{}, s.fail(op, err)
	}
	if len(h) == 0 {
		return store.Token{}, fmt.Errorf("redis %s: %s: %w", s.addr, op, store.ErrNotFound)
	}
	v, ok := h[fieldValue]
	if !ok {
		return store.Token{}, fmt.Errorf("redis %s: %s: hash %q has no %q field", s.addr, op, key, fieldValue)
	}
	t := store.Token{Value: v}
	if e, ok := h[fieldExpires]; ok {
		n, err := strconv.ParseInt(e, 10, 64)
		if err != nil || n <= 0 {
			return store.Token{}, fmt.Errorf("redis %s: %s: hash %q has a bad %q field %q", s.addr, op, key, fieldExpires, e)
		}
		t.Expires = time.UnixMilli(n)
		// Redis expires the key itself; this covers a Redis clock that
		// runs behind ours.
		if !t.Expires.After(time.Now()) {
			return store.Token{}, fmt.Errorf("redis %s: %s: %w", s.addr, op, store.ErrNotFound)
		}
	}
	return t, nil
}

// SaveToken implements store.Tokens: the hash is replaced in one MULTI, and
// Redis expires it with the token. A token already expired is not kept.
func (s *Store) SaveToken(ctx context.Context, name string, t store.Token) error {
	op := store.Op{Verb: "save token", Key: name}
	key := s.p.Token + name
	var ttl time.Duration
	if !t.Expires.IsZero() {
		ttl = time.Until(t.Expires)
		if ttl <= 0 {
			return s.del(ctx, op, key)
		}
	}
	if err := s.check(ctx, op); err != nil {
		return err
	}
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, key)
		if t.Expires.IsZero() {
			p.HSet(ctx, key, fieldValue, t.Value)
			return nil
		}
		p.HSet(ctx, key, fieldValue, t.Value, fieldExpires, t.Expires.UnixMilli())
		// Relative, not PEXPIREAT: the expiry was computed from our clock,
		// and the Redis server's may differ.
		p.PExpire(ctx, key, time.Duration(ms(ttl))*time.Millisecond)
		return nil
	})
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// invalidateScript deletes the token hash only if it still holds the value
// that failed: a fresh token saved by another process survives.
var invalidateScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], 'value') == ARGV[1] then
	return redis.call('DEL', KEYS[1])
end
return 0
`)

// InvalidateToken implements store.Tokens.
func (s *Store) InvalidateToken(ctx context.Context, name, value string) error {
	op := store.Op{Verb: "invalidate token", Key: name}
	if err := s.check(ctx, op); err != nil {
		return err
	}
	if err := invalidateScript.Run(ctx, s.client, []string{s.p.Token + name}, value).Err(); err != nil {
		return s.fail(op, err)
	}
	return nil
}

// --- store.Dedup -----------------------------------------------------

// addScript is SET NX PX that also returns the current value when the key
// exists, in one atomic step (SET NX GET needs Redis 7; this runs on any).
// ARGV[2] is the TTL in milliseconds, "0" for none.
var addScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
	return {0, cur}
end
if ARGV[2] == '0' then
	redis.call('SET', KEYS[1], ARGV[1])
else
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return {1}
`)

// swapScript sets KEYS[1] to ARGV[2] with TTL ARGV[3] ms only if it holds
// ARGV[1]; an absent key holds nothing.
var swapScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
if ARGV[3] == '0' then
	redis.call('SET', KEYS[1], ARGV[2])
else
	redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
`)

// AddDedup implements store.Dedup.
func (s *Store) AddDedup(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, []byte, error) {
	op := store.Op{Verb: "add dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, nil, err
	}
	if err := s.check(ctx, op); err != nil {
		return false, nil, err
	}
	if value == nil {
		value = []byte{}
	}
	res, err := addScript.Run(ctx, s.client, []string{s.p.Dedup + key}, value, ms(ttl)).Slice()
	if err != nil {
		return false, nil, s.fail(op, err)
	}
	if len(res) == 1 {
		return true, nil, nil
	}
	if len(res) == 2 {
		if cur, ok := res[1].(string); ok {
			return false, []byte(cur), nil
		}
	}
	return false, nil, s.fail(op, fmt.Errorf("unexpected script reply %#v", res))
}

// LoadDedup implements store.Dedup.
func (s *Store) LoadDedup(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, store.Op{Verb: "load dedup", Key: key}, s.p.Dedup+key)
}

// SwapDedup implements store.Dedup.
func (s *Store) SwapDedup(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	op := store.Op{Verb: "swap dedup", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return false, err
	}
	if err := s.check(ctx, op); err != nil {
		return false, err
	}
	if old == nil {
		old = []byte{}
	}
	if new == nil {
		new = []byte{}
	}
	n, err := swapScript.Run(ctx, s.client, []string{s.p.Dedup + key}, old, new, ms(ttl)).Int()
	if err != nil {
		return false, s.fail(op, err)
	}
	return n == 1, nil
}

// --- store.Values ----------------------------------------------------

// Get implements store.Values.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	return s.get(ctx, store.Op{Verb: "get", Key: key}, s.p.Value+key)
}

// Set implements store.Values.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	op := store.Op{Verb: "set", Key: key}
	if err := checkTTL(op, ttl); err != nil {
		return err
	}
	return s.set(ctx, op, s.p.Value+key, value, ttl)
}

// Delete implements store.Values.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.del(ctx, store.Op{Verb: "delete", Key: key}, s.p.Value+key)
}

// Incr implements store.Values with INCRBY, which keeps the key's TTL.
func (s *Store) Incr(ctx context.Context, key string, n int64) (int64, error) {
	op := store.Op{Verb: "incr", Key: key}
	if err := s.check(ctx, op); err != nil {
		return 0, err
	}
	v, err := s.client.IncrBy(ctx, s.p.Value+key, n).Result()
	if err != nil {
		// The server's words ("ERR value is not an integer or out of
		// range", "WRONGTYPE ...") stay in the message; ErrNotInteger lets
		// robot.store.incr tell a bad value from a dead server.
		if goredis.HasErrorPrefix(err, "value is not an integer") {
			err = fmt.Errorf("%w (%w)", store.ErrNotInteger, err)
		}
		return 0, s.fail(op, err)
	}
	return v, nil
}
