package luaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/internal/activity"
	"github.com/luarobot/luarobot/internal/deadline"
	"github.com/luarobot/luarobot/luaapi/internal/safehttp"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store"
)

// Options configures a Runtime.
type Options struct {
	// Dir is the scripts folder.
	Dir string
	// PoolSize is the most Lua states running Lua at once (default:
	// 2*GOMAXPROCS, at least 4). A state waiting in Go for the network
	// (robot.client, robot.send, robot.store: see state.wait) does not
	// count: handlers stuck on a hanging upstream leave the others room.
	// It is at most MaxStates.
	PoolSize int
	// MaxStates is the most Lua states alive at once, running or waiting
	// (default 256). A call that finds every state in use waits for one,
	// within its HandlerTimeout.
	MaxStates int
	// MemoryLimit is the Go heap, in bytes, past which the running Lua
	// calls are stopped (default 512 MiB; negative: no limit). See
	// memoryWatch for how it is enforced.
	MemoryLimit int64
	// HandlerTimeout bounds every Lua call: a handler, a robot.async
	// function, robot.on_load, the error page, the top level of the
	// scripts in a new state of the pool (default 30s).
	HandlerTimeout time.Duration
	// LoadTimeout bounds the scripts' top level during a (re)load, in
	// the state that checks a new set before it goes live (default 5s).
	LoadTimeout time.Duration
	// Config is robot.config, read-only in Lua. The caller removes the
	// secrets (token, app_secret, encoding_aes_key) first.
	Config map[string]any
	// Client backs robot.client; nil makes every robot.client call answer
	// nil, {errmsg = "robot.client: app_id/app_secret not configured"}.
	Client *client.Client
	// Values backs robot.store; nil makes robot.store calls raise an error.
	Values store.Values
	// Send delivers robot.send(openid, reply) through the customer-service
	// API; nil makes robot.send raise an error.
	Send func(ctx context.Context, openid string, r reply.Reply) error
	// Stats backs robot.stats(): it returns a struct value whose fields
	// (named by their luar tags) scripts read, e.g. the host's reply
	// counters. nil makes robot.stats() return nil.
	Stats func() any
	// Logger receives print, robot.log and the runtime's own messages
	// (default slog.Default()).
	Logger *slog.Logger
	// Metrics counts handler errors by script and loads of the scripts
	// folder; nil counts nothing.
	Metrics *metrics.Metrics
	// LogUserIDs (log_user_ids) writes openids in the runtime's log lines
	// about a user; by default they carry the short hash the host's
	// delivery line gives the user.
	LogUserIDs bool
	// Now is the wall clock scripts see (default time.Now): os.time and
	// os.date, and dialog timeouts. A test harness moves it forward.
	// Deadlines (handler_timeout, robot.sleep) stay on the real clock.
	Now func() time.Time
	// DialogMemory keeps the records of dialogs in progress in memory
	// instead of in the session: for a host that stores no sessions
	// (session_storage = "off"). They are lost on restart.
	DialogMemory bool

	// Settings is robot.settings, read-only in Lua: the scripts' own
	// settings (API keys, URLs), from the [settings] table of the
	// configuration and LUAROBOT_SETTINGS_<NAME>. The runtime never logs
	// them and never puts them in robot.config.
	Settings map[string]any

	// HTTPAllow lists where robot.http may go: "*", host names
	// ("api.example.com"), wildcards ("*.example.com"), IPs and CIDRs.
	// Loopback, private, link-local and metadata addresses are reached
	// only when named by an IP, a CIDR or the exact host name (see
	// luaapi/internal/safehttp). Nil means ["*"].
	HTTPAllow []string
	// HTTPTimeout is a robot.http request's timeout when the script sets
	// none (default 10s); the handler's deadline always ends it.
	HTTPTimeout time.Duration
	// HTTPMaxBody is the largest robot.http response body (default 4 MiB).
	HTTPMaxBody int64
	// HTTPProxy is robot.http's proxy URL; empty means the standard
	// HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables. The proxy must be
	// allowed by HTTPAllow like any host.
	HTTPProxy string
	// HTTPResolver replaces DNS for robot.http (tests map names to the
	// addresses they need). Nil: the system's resolver.
	HTTPResolver func(ctx context.Context, host string) ([]netip.Addr, error)
	// HTTPTransport, when set, carries robot.http's requests in place of
	// the guarded transport that dials the network (luarobot test answers
	// them with its fakes). The request is still checked and bounded as
	// usual (scheme, method, headers, body size, redirects); HTTPAllow,
	// HTTPProxy and HTTPResolver are not consulted, since nothing is
	// dialled.
	HTTPTransport http.RoundTripper
	// HTTPObserver, when set, is called once per robot.http request with
	// the URL's host and the response status, 0 when there was no response
	// (refused by HTTPAllow, transport error, timeout): the hook behind
	// luarobot_http_requests_total{host,status}. It must be quick and
	// safe for concurrent use.
	HTTPObserver func(host string, status int)
}

// cancelGrace is how long a call whose context ended may take to unwind
// before its state is given up. gopher-lua checks the context before every
// instruction, so a healthy state stops within microseconds — on an idle
// machine. On a loaded one the goroutine may wait its turn for a while, and
// giving up on a healthy state costs a new one: a twentieth of the timeout,
// between 100 ms and 1 s.
func (rt *Runtime) cancelGrace() time.Duration {
	return min(max(rt.opts.HandlerTimeout/20, 100*time.Millisecond), time.Second)
}

// Runtime runs the scripts of one folder: it implements the host's
// Dispatcher and ErrorPager. It is safe for concurrent use.
type Runtime struct {
	opts Options
	log  *slog.Logger
	pool *pool
	web  *safehttp.Client // robot.http (http.go); nil in Check
	mem  *memoryWatch     // nil: no MemoryLimit

	cur atomic.Pointer[version] // the scripts serving now
	seq atomic.Uint64

	reloadMu     sync.Mutex              // guards reloadGen and cancelReload
	reloadGen    uint64                  // the newest reload's number
	cancelReload context.CancelCauseFunc // stops the newest reload
	reloading    sync.WaitGroup          // reloads in progress
	commitMu     sync.Mutex              // one swap at a time

	mu     sync.RWMutex // guards closed and the Add of calls
	closed bool
	calls  activity.Group // calls in flight, and their robot.async work

	running atomic.Int64 // calls running Lua (abandoned ones included), and states being made

	dialogMem dialogMemory // dialog records, with DialogMemory

	inspect inspection // reload history and the last handler error (inspect.go)
}

// New loads the scripts of opts.Dir and returns a Runtime serving them. It
// runs robot.on_load. A script that fails to load is an *Error naming the
// file and line.
func New(opts Options) (*Runtime, error) {
	rt := newRuntime(opts)
	if err := rt.openHTTP(); err != nil {
		return nil, err
	}
	if err := rt.reload(context.Background(), true); err != nil {
		rt.pool.closeIdle()
		rt.web.Close()
		return nil, err
	}
	return rt, nil
}

func newRuntime(opts Options) *Runtime {
	if opts.Dir == "" {
		opts.Dir = "scripts"
	}
	if opts.MaxStates <= 0 {
		opts.MaxStates = 256
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = max(2*runtime.GOMAXPROCS(0), 4)
	}
	opts.PoolSize = min(opts.PoolSize, opts.MaxStates) // a running state is a state
	if opts.MemoryLimit == 0 {
		opts.MemoryLimit = 512 << 20
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = 30 * time.Second
	}
	if opts.LoadTimeout <= 0 {
		opts.LoadTimeout = 5 * time.Second
	}
	rt := &Runtime{opts: opts, log: opts.Logger}
	if rt.log == nil {
		rt.log = slog.Default()
	}
	rt.pool = newPool(rt, opts.PoolSize, opts.MaxStates)
	if opts.MemoryLimit > 0 {
		rt.mem = newMemoryWatch(uint64(opts.MemoryLimit), rt.log, rt.pool.closeIdle)
	}
	return rt
}

// Dispatch runs the handlers for msg with the user's stored session (see
// host.Dispatcher). The handlers run apart from the caller with a deadline
// of HandlerTimeout (and the end of ctx): Dispatch returns at the deadline
// even if Lua is stuck in work that does not see it, and that state is
// discarded. The host passes a ctx that outlives its reply_timeout when it
// wants late answers (context.WithoutCancel).
//
// robot.async work queued by the handlers runs after Dispatch returns.
func (rt *Runtime) Dispatch(ctx context.Context, msg *message.Message, session []byte) (reply.Reply, []byte, error) {
	v, err := rt.run(ctx, func(ctx context.Context, st *state) (any, error) {
		r, s, err := st.dispatch(ctx, msg, session)
		if err != nil {
			return nil, err
		}
		return dispatchResult{r, s}, nil
	})
	if err != nil {
		rt.countError(err)
		rt.noteHandlerError(err)
		return nil, nil, err
	}
	res := v.(dispatchResult)
	return res.reply, res.session, nil
}

type dispatchResult struct {
	reply   reply.Reply
	session []byte
}

// ErrorPage runs the robot.error_page function for url (see
// host.ErrorPager); false when there is none or it failed (logged).
func (rt *Runtime) ErrorPage(ctx context.Context, url string) (string, bool) {
	ver := rt.cur.Load()
	if ver == nil || !ver.hasErrorPage {
		return "", false
	}
	v, err := rt.run(ctx, func(ctx context.Context, st *state) (any, error) {
		if st.errorPage == nil {
			return nil, nil
		}
		ret, err := st.call(ctx, st.errorPage, lua.LString(url))
		if err != nil {
			return nil, err
		}
		s, ok := ret.(lua.LString)
		if !ok {
			return nil, &Error{File: st.errorPage.Proto.SourceName, Line: st.errorPage.Proto.LineDefined,
				Message: "the robot.error_page function returned " + describe(ret) + "; it returns the page's HTML"}
		}
		return string(s), nil
	})
	if err != nil {
		rt.log.Error("robot.error_page failed; using the built-in page", "err", err)
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// Reload loads the folder now and, if every script loads, swaps the new
// set in and runs robot.on_load. When a script fails, the error names it
// (file:line: message) and the scripts loaded before keep serving.
// Requests in flight finish on the scripts they started with. A reload
// that starts while another is running stops the other one (see reload).
func (rt *Runtime) Reload() error {
	return rt.reload(context.Background(), true)
}

// errSuperseded is the cause of a reload stopped because a newer one
// started.
var errSuperseded = errors.New("superseded by a newer reload")

// reload loads the folder; unless force is set, it does nothing when no
// file changed since the last successful load. ctx ending stops it.
//
// Reloads do not wait for each other. Each reads the folder as it is when
// it starts, so a newer one supersedes one in progress: the older is
// stopped (its scripts' top level too) and never swapped in. A save that
// loops in its top level therefore holds nothing up: the next save's
// reload stops it and goes live at once, without waiting for load_timeout.
// Only the swap itself is done one reload at a time.
func (rt *Runtime) reload(ctx context.Context, force bool) error {
	ctx, gen, done, err := rt.startReload(ctx)
	if err != nil {
		return err
	}
	defer done()
	old := rt.cur.Load()
	start := time.Now()
	err = rt.load(ctx, gen, old, force)
	rt.noteReload(start, old, err)
	switch {
	case err == nil:
	case errors.Is(err, errSuperseded):
		rt.log.Info("a newer change superseded the reload in progress", "stopped", err)
	case errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled):
		rt.log.Info("a reload in progress was stopped", "stopped", err)
	case old != nil:
		rt.opts.Metrics.Reload(false)
		rt.log.Error("scripts not reloaded; the last good ones keep serving", "err", err)
	default:
		rt.opts.Metrics.Reload(false)
		rt.log.Error("scripts not loaded", "dir", rt.opts.Dir, "err", err)
	}
	return err
}

// countError counts a failed call against the script it failed in: an
// *Error names it. Errors of no script (no Lua state free) are not the
// handlers' and are not counted.
func (rt *Runtime) countError(err error) {
	var e *Error
	if errors.As(err, &e) && e.File != "" {
		rt.opts.Metrics.HandlerError(rt.errorScript(e))
	}
}

// errorScript is the file of the scripts folder an error was raised in,
// for the metric's label: its position when that is a file of the
// folder, else the first of its traceback that is (the position is read
// from the message, which error(text, 0) makes anything a user typed),
// else metrics.Other.
func (rt *Runtime) errorScript(e *Error) string {
	v := rt.cur.Load()
	if v == nil {
		return metrics.Other
	}
	for _, pos := range append([]string{e.File + ":"}, e.Trace...) {
		if i := strings.LastIndexByte(pos, ':'); i > 0 && v.hasFile(pos[:i]) {
			return pos[:i]
		}
	}
	return metrics.Other
}

// emptySaveRereads is how many times a reload reads the folder again,
// debounce apart, while a file it had is empty (see emptiedFiles).
const emptySaveRereads = 5

// load is the work of reload number gen: read, compile, validate and
// swap in the folder, unless (without force) it is what old already is.
func (rt *Runtime) load(ctx context.Context, gen uint64, old *version, force bool) error {
	start := time.Now()
	src, err := readSources(rt.opts.Dir)
	if err != nil {
		return err
	}
	// A file that had content and now has none is most likely a save
	// caught between its truncation and its write: read again a few
	// times before taking it for an emptied file (which stays possible).
	for i := 0; i < emptySaveRereads && len(emptiedFiles(old, src)) > 0; i++ {
		t := time.NewTimer(debounce)
		select {
		case <-ctx.Done():
			t.Stop()
			return context.Cause(ctx)
		case <-t.C:
		}
		if src, err = readSources(rt.opts.Dir); err != nil {
			return err
		}
	}
	if !force && old != nil && old.digest == digestSources(src) {
		return nil
	}
	for _, name := range sortedKeys(src.refused) {
		rt.log.Warn("not loaded: a link to outside the scripts folder; require of it fails",
			"file", name, "target", src.refused[name])
	}
	ver, err := compileSources(src)
	if err != nil {
		return err
	}
	ver.seq = rt.seq.Add(1)
	st, err := rt.validate(ctx, ver)
	if err != nil {
		return err
	}
	// What Lua only finds when it gets there: robot.subscibe in a
	// handler's body.
	if err := rt.lint(st, src.scripts, src.libs); err != nil {
		st.close()
		return err
	}
	return rt.commit(gen, ver, st, start)
}

// startReload registers a reload and stops the one in progress, if any.
// The context it returns ends when a newer reload starts (with the cause
// errSuperseded), when the Runtime closes, or when ctx ends; gen orders
// the reloads. done must be called when the reload ends.
func (rt *Runtime) startReload(ctx context.Context) (_ context.Context, gen uint64, done func(), _ error) {
	rt.mu.RLock()
	if rt.closed {
		rt.mu.RUnlock()
		return nil, 0, nil, ErrClosed
	}
	rt.reloading.Add(1)
	rt.mu.RUnlock()
	ctx, cancel := context.WithCancelCause(ctx)
	rt.reloadMu.Lock()
	if rt.cancelReload != nil {
		rt.cancelReload(errSuperseded)
	}
	rt.reloadGen++
	gen = rt.reloadGen
	rt.cancelReload = cancel
	if rt.isClosed() { // Close ran since the check above, and missed this one
		cancel(ErrClosed)
	}
	rt.reloadMu.Unlock()
	return ctx, gen, func() { cancel(nil); rt.reloading.Done() }, nil
}

// commit swaps in ver, validated by st, unless a newer reload started
// meanwhile, then runs ver's robot.on_load functions.
func (rt *Runtime) commit(gen uint64, ver *version, st *state, start time.Time) error {
	rt.commitMu.Lock()
	rt.reloadMu.Lock()
	newest := gen == rt.reloadGen
	rt.reloadMu.Unlock()
	if !newest || rt.isClosed() {
		rt.commitMu.Unlock()
		st.close()
		if !newest {
			return &Error{Message: "stopped: a newer change superseded this reload", err: errSuperseded}
		}
		return ErrClosed
	}
	ver.hasErrorPage = st.errorPage != nil
	ver.handlers = len(st.report)
	ver.report = st.report
	rt.cur.Store(ver)
	rt.pool.prune(ver)
	onLoad := len(st.onLoad)
	rt.pool.addIdle(st)
	rt.commitMu.Unlock()
	args := []any{"dir", rt.opts.Dir, "scripts", len(ver.scripts), "modules", len(ver.libs),
		"registrations", ver.handlers, "took", time.Since(start).Round(time.Microsecond)}
	if abs, err := filepath.Abs(rt.opts.Dir); err != nil || abs != ver.root {
		args = append(args, "path", ver.root) // the folder is, or is under, a link
	}
	rt.log.Info("scripts loaded", args...)
	rt.opts.Metrics.Reload(true)
	for i := 0; i < onLoad; i++ {
		rt.runOnLoad(ver, i)
	}
	return nil
}

// validate makes the first state of a new version, apart from the caller
// and within LoadTimeout: a script whose top level never ends must not
// stop reloads. ctx ending (a newer reload, Close) stops it too.
func (rt *Runtime) validate(parent context.Context, ver *version) (*state, error) {
	ctx, cancel := context.WithTimeout(parent, rt.opts.LoadTimeout)
	defer cancel()
	type result struct {
		st  *state
		err error
	}
	ch := make(chan result, 1)
	rt.running.Add(1)
	go func() {
		st, err := rt.newState(ctx, ver)
		rt.running.Add(-1)
		if err != nil {
			ch <- result{nil, err}
			return
		}
		st.jobs = make(chan *task)
		ch <- result{st, nil}
		rt.serve(st) // until the pool, or the timeout below, closes it
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		t := time.NewTimer(rt.cancelGrace())
		defer t.Stop()
		select {
		case r = <-ch:
		case <-t.C:
			// The top level is stuck where the context cannot reach
			// (in Go): leave it, and close its state when it returns.
			go func() {
				if r := <-ch; r.st != nil {
					r.st.close()
				}
			}()
			return nil, rt.loadStopped(parent, ver, nil)
		}
	}
	if r.err != nil && ctx.Err() != nil {
		return nil, rt.loadStopped(parent, ver, r.err)
	}
	return r.st, r.err
}

// loadStopped is the error of a validation that ctx stopped: at
// LoadTimeout, by a newer reload, or by Close. It names the script whose
// top level was running, and its line when the stop was seen there (err).
func (rt *Runtime) loadStopped(parent context.Context, ver *version, err error) *Error {
	e := &Error{}
	if se, ok := err.(*Error); ok {
		e.File, e.Line, e.Trace = se.File, se.Line, se.Trace
	} else if name := ver.loading.Load(); name != nil {
		e.File = *name
	}
	switch cause := context.Cause(parent); {
	case parent.Err() == nil:
		e.Message = fmt.Sprintf("stopped: the top level was still running at load_timeout (%s)", rt.opts.LoadTimeout)
		e.err = ErrTimeout
	case errors.Is(cause, errSuperseded):
		e.Message = "stopped: a newer change superseded this reload"
		e.err = errSuperseded
	case errors.Is(cause, ErrClosed):
		e.Message = "stopped: the runtime is closing"
		e.err = cause
	case errors.Is(cause, context.Canceled):
		e.Message = "stopped: cancelled (the watcher is stopping)"
		e.err = cause
	default:
		e.Message = "stopped: " + cause.Error()
		e.err = cause
	}
	return e
}

// runOnLoad runs the i-th robot.on_load function of ver in one state.
func (rt *Runtime) runOnLoad(ver *version, i int) {
	_, err := rt.run(context.Background(), func(ctx context.Context, st *state) (any, error) {
		if st.ver != ver || i >= len(st.onLoad) {
			// A newer version went live meanwhile, and runs its own; or a
			// top level that registers differently in each state.
			return nil, nil
		}
		_, err := st.call(ctx, st.onLoad[i])
		return nil, err
	})
	if err != nil {
		rt.log.Error("robot.on_load failed", "err", err)
	}
}

// Wait blocks until the calls in flight and their robot.async work are
// done, or returns ctx's error; new calls may start meanwhile. A test
// harness calls it to see everything a delivery caused.
func (rt *Runtime) Wait(ctx context.Context) error {
	return rt.calls.WaitContext(ctx)
}

// Close waits for the calls in flight and their robot.async work, then
// closes the states. Calls after Close fail with ErrClosed.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	rt.mu.Unlock()
	rt.reloadMu.Lock() // stop a reload in progress, and wait for it
	if rt.cancelReload != nil {
		rt.cancelReload(ErrClosed)
	}
	rt.reloadMu.Unlock()
	rt.reloading.Wait()
	rt.calls.Wait()
	rt.pool.closeIdle()
	if rt.web != nil {
		rt.web.Close()
	}
	return nil
}

// StateCounts is how many Lua states are idle (ready for a call),
// running Lua (at most PoolSize), and waiting in Go for the network (they
// count against MaxStates only). Abandoned states (see Runtime.run) are
// in none of them.
type StateCounts struct {
	Idle, Running, Waiting int
}

// States returns the Lua states by what they do now, for the
// luarobot_lua_states metric. A state being made counts as running.
func (rt *Runtime) States() StateCounts {
	return rt.pool.counts()
}

func (rt *Runtime) isClosed() bool {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.closed
}

// job is work on a state; ctx is the call's context (also set on the state).
type job func(ctx context.Context, st *state) (any, error)

type jobResult struct {
	v   any
	err error
}

// task is one call handed to a state's worker goroutine.
type task struct {
	ctx     context.Context // the caller's: robot.async work inherits its values
	callCtx context.Context // ctx with the deadline of the call
	ver     *version
	j       job
	lease   *lease
	done    chan jobResult

	// Where the call is, for the error of a call abandoned at its
	// deadline (the caller reads them while the state's goroutine runs):
	// the Lua function it called last, and the Go function that may block
	// it is in, if any (see state.goCall).
	calling atomic.Pointer[lua.FunctionProto]
	goCall  atomic.Pointer[string]
}

// run runs j on a pooled state of the current version and returns its
// result — or an ErrTimeout error once the call has run HandlerTimeout (or
// ctx ended) and did not unwind within cancelGrace. Such a state is
// abandoned: its tokens are given back at once (unless PoolSize abandoned
// calls are running already: see pool), and the state is closed when its
// call finally returns, never reused. After j, the state runs the
// robot.async work j queued; the caller does not wait for it.
//
// The call runs apart from the caller, on the goroutine that belongs to the
// state (see serve): the caller only waits, so it can stop waiting.
func (rt *Runtime) run(ctx context.Context, j job) (any, error) {
	rt.mu.RLock()
	if rt.closed {
		rt.mu.RUnlock()
		return nil, ErrClosed
	}
	rt.calls.Add(1)
	rt.mu.RUnlock()

	// The host's context already ends at handler_timeout: no second
	// timer for the same deadline.
	callCtx, cancel := deadline.AtMost(ctx, rt.opts.HandlerTimeout)
	defer cancel()
	if err := rt.pool.acquire(callCtx); err != nil {
		rt.calls.Done()
		return nil, err
	}
	// The version is read once the call has a slot: a call that waited
	// through a reload runs on the new scripts.
	ver := rt.cur.Load()
	t := &task{ctx: ctx, callCtx: callCtx, ver: ver, j: j, lease: &lease{}, done: make(chan jobResult, 1)}
	if st := rt.pool.take(ver); st != nil {
		st.jobs <- t
	} else {
		go rt.serveNew(t)
	}

	select {
	case r := <-t.done:
		return r.v, r.err
	case <-callCtx.Done():
	}
	grace := time.NewTimer(rt.cancelGrace())
	defer grace.Stop()
	select {
	case r := <-t.done:
		return r.v, r.err
	case <-grace.C:
	}
	was, freed, running := t.lease.abandon(rt.pool)
	if was == leaseDone {
		// It finished between the timer and the abandon.
		r := <-t.done
		return r.v, r.err
	}
	rt.calls.Done()
	err := rt.abandonedError(ctx, t, was)
	switch {
	case was == leaseWaiting:
		rt.log.Warn("a Lua state was still being made at the deadline; the call is given up", "err", err)
	case freed:
		rt.log.Warn("a Lua call did not stop at its deadline; its state is discarded and replaced",
			"err", err, "abandoned_running", running)
	default:
		rt.log.Warn("a Lua call did not stop at its deadline, and the most abandoned calls allowed (pool_size) are still running: "+
			"its state keeps its place in the pool until the call returns, so new messages wait for the other states",
			"err", err, "abandoned_running", running, "pool_size", rt.opts.PoolSize)
	}
	return nil, err
}

// abandonedError is the error of a call given up at its deadline: where
// the handler is defined, and the Go function it is stuck in when that is
// known.
func (rt *Runtime) abandonedError(ctx context.Context, t *task, was leasePhase) error {
	e := &Error{err: ErrTimeout}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		e.err = ctx.Err()
		e.Message = "stopped: the request was cancelled, but the Lua call did not stop"
	} else {
		e.Message = fmt.Sprintf("stopped: still running at handler_timeout (%s), and the Lua call did not stop", rt.opts.HandlerTimeout)
	}
	if was == leaseWaiting {
		e.Message = strings.Replace(e.Message, "the Lua call", "making a Lua state (the scripts' top level)", 1)
	}
	if p := t.calling.Load(); p != nil {
		e.File, e.Line = p.SourceName, p.LineDefined
	}
	if g := t.goCall.Load(); g != nil {
		e.Message += ": it is in " + *g + ", which does not see the deadline"
	}
	e.Message += "; its Lua state is abandoned"
	return e
}

// serveNew makes a state for t (the pool had none idle), runs t on it, and
// then serves the state's later tasks.
func (rt *Runtime) serveNew(t *task) {
	rt.running.Add(1)
	st, err := rt.newState(t.callCtx, t.ver)
	rt.running.Add(-1)
	if err != nil {
		if t.callCtx.Err() != nil && !errors.As(err, new(*Error)) {
			err = rt.timeoutError(t.ctx, "making a Lua state")
		}
		t.done <- jobResult{err: err}
		if ok, _ := t.lease.finish(); ok {
			rt.calls.Done() // else the caller did, when it gave up
		}
		rt.pool.release() // the tokens the caller took for t
		return
	}
	st.jobs = make(chan *task)
	rt.runTask(st, t)
	rt.serve(st)
}

// serve is the goroutine of a state: it runs the tasks sent to the state
// until the state is closed. One goroutine per state keeps the Lua call off
// the caller's goroutine without starting a goroutine per call, and keeps
// the stack that gopher-lua's deep calls grew.
func (rt *Runtime) serve(st *state) {
	for t := range st.jobs {
		rt.runTask(st, t)
	}
}

// runTask runs one task and gives the state back (or closes it, when the
// caller abandoned it).
func (rt *Runtime) runTask(st *state, t *task) {
	rt.running.Add(1)
	defer rt.running.Add(-1)
	if !t.lease.start() {
		rt.pool.put(st, true) // the caller gave up before the state ran anything
		return
	}
	st.task = t
	defer func() { st.task = nil }()
	v, err := st.exec(t.callCtx, t.j)
	if err != nil {
		clear(st.async) // a failed handler's follow-up work does not run
		st.async = st.async[:0]
	}
	t.done <- jobResult{v, err}
	rt.runAsync(t.ctx, st, t.lease)
	if ok, running := t.lease.finish(); ok {
		rt.pool.put(st, running)
		rt.calls.Done()
		return
	}
	st.close()
	rt.pool.abandonedDone(t.lease)
	rt.log.Warn("an abandoned Lua state has returned and is closed", "abandoned_running", rt.pool.abandonedRunning())
}

func (rt *Runtime) timeoutError(ctx context.Context, what string) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%w: %s within handler_timeout (%s)", ErrTimeout, what, rt.opts.HandlerTimeout)
}

// runAsync runs the robot.async functions the last call queued (those
// they queue in turn included), detached from the request's cancellation
// and within one HandlerTimeout for all of them: a delivery's follow-up
// work holds its state for at most that long. A watchdog abandons the
// state if one of them hangs where the context cannot reach.
func (rt *Runtime) runAsync(parent context.Context, st *state, l *lease) {
	if len(st.async) == 0 {
		return
	}
	defer func() {
		clear(st.async)
		st.async = st.async[:0]
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), rt.opts.HandlerTimeout)
	defer cancel()
	var current atomic.Pointer[string] // where the function running now was queued
	current.Store(&st.async[0].where)
	watchdog := time.AfterFunc(rt.opts.HandlerTimeout+rt.cancelGrace(), func() {
		if was, freed, running := l.abandon(rt.pool); was != leaseDone {
			rt.calls.Done()
			rt.log.Warn("a robot.async function did not stop at its deadline; its state is discarded",
				"queued_at", *current.Load(), "slot_freed", freed, "abandoned_running", running)
		}
	})
	defer watchdog.Stop()
	for i := 0; i < len(st.async); i++ {
		a := st.async[i]
		// Abandoned by the watchdog (a function that did not stop in
		// time, on a busy machine) or past the deadline: either way the
		// rest is not run, and the log says so.
		if l.abandoned() || ctx.Err() != nil {
			rt.log.Error("robot.async functions not run: the message's robot.async work used up handler_timeout",
				"handler_timeout", rt.opts.HandlerTimeout, "not_run", len(st.async)-i, "first_queued_at", a.where)
			return
		}
		current.Store(&a.where)
		_, err := st.exec(ctx, func(ctx context.Context, st *state) (any, error) {
			return st.call(ctx, a.fn)
		})
		if err != nil {
			rt.countError(err)
			rt.log.Error("robot.async function failed", "err", err, "queued_at", a.where)
			if st.broken {
				return // stopped by the memory watchdog, or a Go panic: the state is done
			}
		}
	}
}

// exec runs j with the state's context set to ctx. A Go panic in our own
// code (outside Lua's protection) becomes an error and the state is not
// reused; so does a call the memory watchdog stopped, whose memory goes
// with its state.
func (st *state) exec(ctx context.Context, j job) (v any, err error) {
	L := st.L
	ctx, watched := st.rt.mem.watch(ctx, st.task)
	st.watched = watched
	defer func() {
		st.watched = nil
		watched.unwatch()
		if r := recover(); r != nil {
			st.broken = true
			err = fmt.Errorf("luaapi: internal error: %v", r)
		}
		if stoppedForMemory(ctx) {
			st.broken = true
			if err == nil {
				st.rt.log.Warn("a Lua call returned as lua_memory_limit stopped it; its state is discarded")
			} else {
				st.rt.log.Warn("a Lua call was stopped by lua_memory_limit; its state is discarded", "err", err)
			}
		}
	}()
	L.SetContext(ctx)
	defer L.RemoveContext()
	defer L.SetTop(0)
	return j(ctx, st)
}
