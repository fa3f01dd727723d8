package luaapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// memoryWatch enforces lua_memory_limit (Options.MemoryLimit).
//
// gopher-lua has no allocation hook, and Lua values are ordinary Go
// values: what a script holds cannot be told apart from what the host
// holds. So the watch looks at the whole Go heap (the bytes of heap
// objects, from runtime/metrics), and when it passes the limit, every call
// running Lua at that moment is stopped through its context (gopher-lua
// checks it before each instruction) and its state is discarded, with the
// memory it held; the idle states are dropped too (a top-level cache may
// be what grew). Calls waiting in Go for the network are left alone: they
// are not allocating, and are watched again when they come back to Lua.
//
// The heap is read two ways. A sampler goroutine reads it every
// memorySampleInterval while Lua calls run. But one Lua instruction can
// allocate a lot at once (`s = s .. s` doubles s in one step), and the
// sampler may be late by tens of milliseconds exactly then (the collector
// stops the world, which waits for the copy of the big string to end; a
// busy machine does not run the sampler on time), long enough for the
// next doublings. So once the heap is over a quarter of the limit, the
// calls also check it themselves, in their context's Done, which
// gopher-lua calls before each instruction: an instruction that follows
// one that ran for memoryCheckInterval or more (as a big allocation and
// copy do) reads the heap, so the step that passes the limit is the last.
// That costs a clock read per instruction, and Lua runs slower while the
// heap is over a quarter of the limit.
//
// The precision: the heap is what is measured, so the host's own memory
// counts (a few MiB), and garbage not yet collected counts until the
// collector runs (serve sets Go's soft memory limit to the same value, so
// it collects harder as the heap nears it). The heap passes the limit by
// what the step that passed it allocated: one `..` of n operands makes its
// whole result in one allocation (so `s = s .. s` may reach about twice
// the limit), and one library call makes at most its own bound (16 MiB
// for table.concat, string.format, gsub). The `..` operator and a table's
// growth are VM operations with no hook: only this watch bounds them.
// Below a quarter of the limit, only the sampler watches: should it miss
// the whole climb from there to the limit (a few doublings), the heap
// passes the limit by more before a call is stopped.
type memoryWatch struct {
	limit  uint64
	log    *slog.Logger
	onTrip func() // drops the idle states

	// threshold is the heap past which calls are stopped: the limit;
	// from a stop until the collection that follows it, twice the heap
	// at the stop (the stopped calls' memory is still in it, see stop)
	// and a quarter of the limit for the calls that start meanwhile; more
	// while memory that is not the Lua calls' keeps the heap over the
	// limit (see settle). near is set while the heap is over a quarter of
	// the limit: calls then check it themselves (see watchedCall.Done).
	threshold atomic.Uint64
	near      atomic.Bool
	stops     chan memoryStopEvent // stops made by the calls themselves, for the sampler to settle

	mu       sync.Mutex
	calls    map[*watchedCall]struct{}
	sampling bool // the sampler goroutine runs
}

// memorySampleInterval is how often the sampler reads the heap while Lua
// calls run. Reading it costs about a microsecond.
const memorySampleInterval = time.Millisecond

// memoryCheckInterval is, near the limit, how long a call runs between two
// reads of the heap of its own. Copying a MiB takes longer: the
// instruction after a big allocation always checks.
const memoryCheckInterval = 50 * time.Microsecond

// memoryIdleSamples is how many samples the sampler waits without calls
// before it ends (it starts again with the next call).
const memoryIdleSamples = 100

// heapMetric is the bytes of heap objects: live, and dead ones the
// collector has not freed yet. It is exact at every read (/gc/heap/live
// is only updated at the end of a collection, too late here).
const heapMetric = "/memory/classes/heap/objects:bytes"

// ErrMemoryLimit is wrapped by the error of a Lua call stopped because the
// Go heap passed Options.MemoryLimit while it ran.
var ErrMemoryLimit = errors.New("lua_memory_limit passed")

// memoryStop is the cause of a call stopped by the watch.
type memoryStop struct {
	heap, limit uint64
	calls       int // running calls stopped with it
}

func (m *memoryStop) Error() string {
	return fmt.Sprintf("the Go heap (%s) passed lua_memory_limit (%s) while it ran; the %d Lua call(s) running then were stopped",
		formatBytes(m.heap), formatBytes(m.limit), m.calls)
}

// memoryStopEvent is one stop, for the log and settle.
type memoryStopEvent struct {
	heap    uint64
	stopped []*watchedCall
	where   []string // the functions the stopped calls ran
}

func newMemoryWatch(limit uint64, log *slog.Logger, onTrip func()) *memoryWatch {
	w := &memoryWatch{limit: limit, log: log, onTrip: onTrip,
		stops: make(chan memoryStopEvent, 16), calls: make(map[*watchedCall]struct{})}
	w.threshold.Store(limit)
	return w
}

// watchedCall is one Lua call the watch may stop. It is the call's
// context: Done, which gopher-lua calls before each instruction, checks
// the heap while it is near the limit.
type watchedCall struct {
	context.Context
	w         *memoryWatch
	cancel    context.CancelCauseFunc
	task      *task        // nil for the top level of the scripts
	waiting   atomic.Bool  // in state.wait: not running Lua
	lastCheck atomic.Int64 // when it last read the heap (time.Time.UnixNano)
}

// Done reads the heap first, near the limit, when the call has run
// memoryCheckInterval since it last did (see memoryWatch); a call the
// check stops finds its channel closed.
func (c *watchedCall) Done() <-chan struct{} {
	if c.w.near.Load() && !c.waiting.Load() {
		now := time.Now().UnixNano()
		if last := c.lastCheck.Load(); now-last >= int64(memoryCheckInterval) && c.lastCheck.CompareAndSwap(last, now) {
			c.w.check()
		}
	}
	return c.Context.Done()
}

// setWaiting records whether the call waits in Go; c may be nil.
func (c *watchedCall) setWaiting(waiting bool) {
	if c != nil {
		c.waiting.Store(waiting)
	}
}

// where names the Lua function the call runs, for the log line listing
// the calls stopped (each call's own error names the line it was on).
func (c *watchedCall) where() string {
	if c.task == nil {
		return "the scripts' top level"
	}
	if p := c.task.calling.Load(); p != nil {
		return fmt.Sprintf("%s:%d", p.SourceName, p.LineDefined)
	}
	return "?"
}

// watch returns the context of a call about to run Lua: ctx, which the
// watch can stop. The call ends it with unwatch. w may be nil (no limit):
// then ctx is returned as it is, with a nil *watchedCall.
func (w *memoryWatch) watch(ctx context.Context, t *task) (context.Context, *watchedCall) {
	if w == nil {
		return ctx, nil
	}
	inner, cancel := context.WithCancelCause(ctx)
	c := &watchedCall{Context: inner, w: w, cancel: cancel, task: t}
	w.mu.Lock()
	w.calls[c] = struct{}{}
	if !w.sampling {
		w.sampling = true
		go w.sample()
	}
	w.mu.Unlock()
	return c, c
}

// unwatch ends the watch of the call; c may be nil.
func (c *watchedCall) unwatch() {
	if c == nil {
		return
	}
	c.w.mu.Lock()
	delete(c.w.calls, c)
	c.w.mu.Unlock()
	c.cancel(nil)
}

// heapReader reads the heap without allocating, once made: the sampler
// must not allocate while it watches, since with the heap over Go's soft
// memory limit an allocation can start a collection, whose stop-the-world
// waits for the big copy a Lua call is making to end.
type heapReader []metrics.Sample

func newHeapReader() heapReader { return heapReader{{Name: heapMetric}} }

func (r heapReader) read() uint64 {
	metrics.Read(r)
	return r[0].Value.Uint64()
}

// readHeap reads the heap once.
func readHeap() uint64 { return newHeapReader().read() }

// check is a call's own look at the heap (see watchedCall.Done).
func (w *memoryWatch) check() {
	if heap := readHeap(); heap > w.threshold.Load() {
		if ev, ok := w.stop(heap); ok {
			select {
			case w.stops <- ev:
			default: // the sampler has more to settle than it can keep: this one goes unlogged
			}
		}
	}
}

// sample reads the heap while calls are watched, stops the running ones
// when it passes the threshold, and settles every stop.
func (w *memoryWatch) sample() {
	tick := time.NewTicker(memorySampleInterval)
	defer tick.Stop()
	heapNow := newHeapReader()
	idle := 0
	for range tick.C {
		select {
		case ev := <-w.stops:
			w.settle(ev)
			continue
		default:
		}
		w.mu.Lock()
		if len(w.calls) > 0 {
			idle = 0
		} else if idle++; idle >= memoryIdleSamples && len(w.stops) == 0 {
			w.sampling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		heap := heapNow.read()
		w.near.Store(heap > w.limit/4)
		if heap <= w.limit {
			w.threshold.Store(w.limit)
		} else if ev, ok := w.stop(heap); ok {
			w.settle(ev)
		}
	}
}

// stop cancels the calls running Lua if the heap passed the threshold,
// which is raised until the stop is settled (see memoryWatch.threshold).
// Calls stopped before, still ending (their last instruction may still be
// allocating), are not stopped again; false means no call was stopped.
//
// The threshold is raised only once the calls are cancelled, all under
// mu: a call that checks the heap meanwhile compares it with the old
// threshold, finds it passed and waits in stop for mu, so it cannot run
// on. Were the threshold raised first, a call checking before its cancel
// would find the heap under the raised threshold and make its next
// allocation: stop can be held up between the two (an allocation of its
// own may wait for a collection, which waits for the call's copy of a big
// string to end: hundreds of milliseconds on a busy machine), and the
// next `s = s .. s` after 64 MiB is 128 MiB, then 256 MiB.
func (w *memoryWatch) stop(heap uint64) (memoryStopEvent, bool) {
	ev := memoryStopEvent{heap: heap}
	w.mu.Lock()
	defer w.mu.Unlock()
	if heap <= w.threshold.Load() {
		return ev, false // another check stopped the calls first
	}
	for c := range w.calls {
		if !c.waiting.Load() && c.Context.Err() == nil {
			ev.stopped = append(ev.stopped, c)
		}
	}
	if len(ev.stopped) == 0 {
		// All calls wait on the network: the threshold stays, and
		// one that comes back to Lua with the heap still over it is
		// stopped then.
		return ev, false
	}
	cause := &memoryStop{heap: heap, limit: w.limit, calls: len(ev.stopped)}
	for _, c := range ev.stopped {
		c.cancel(cause)
	}
	// The stopped calls' memory stays in the heap until it is
	// collected, with what a step they began before they saw the stop
	// allocates (a doubling at most, for a `..`).
	w.threshold.Store(2*heap + w.limit/4)
	for _, c := range ev.stopped {
		ev.where = append(ev.where, c.where())
	}
	return ev, true
}

// settle follows a stop: it logs it, drops the idle
// states, waits for the stopped calls to end, collects, and sets the next
// threshold: the limit, or more when the memory over it is not the Lua
// calls' (it stayed after they were stopped), so that calls are not
// stopped one after another for memory they do not hold.
func (w *memoryWatch) settle(ev memoryStopEvent) {
	w.onTrip()
	slices.Sort(ev.where)
	w.log.Error("the Go heap passed lua_memory_limit: the Lua calls running now are stopped and their states discarded",
		"heap", formatBytes(ev.heap), "lua_memory_limit", formatBytes(w.limit), "calls", strings.Join(ev.where, ", "))
	// The stopped calls end at their next instruction, and their states
	// are closed right after; once they are gone, a collection tells
	// whether the memory was theirs.
	deadline := time.Now().Add(time.Second)
	for w.anyWatched(ev.stopped) && time.Now().Before(deadline) {
		time.Sleep(memorySampleInterval)
	}
	var after uint64
	for try := 0; try < 3; try++ {
		if try > 0 {
			time.Sleep(20 * time.Millisecond) // a state still being closed
		}
		runtime.GC()
		if after = readHeap(); after <= w.limit {
			break
		}
	}
	w.near.Store(after > w.limit/4)
	if after <= w.limit {
		w.threshold.Store(w.limit)
		w.log.Info("the memory of the Lua calls stopped by lua_memory_limit is collected", "heap", formatBytes(after))
		return
	}
	w.threshold.Store(after + w.limit/4)
	w.log.Error("the Go heap is still over lua_memory_limit with the running Lua calls stopped and the idle states dropped: "+
		"the memory is held elsewhere (calls waiting on the network, the host itself); until it falls under the limit, "+
		"Lua calls are stopped only when the heap grows by another quarter of the limit",
		"heap", formatBytes(after), "lua_memory_limit", formatBytes(w.limit))
}

// anyWatched reports whether one of calls is still watched (running).
func (w *memoryWatch) anyWatched(calls []*watchedCall) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range calls {
		if _, ok := w.calls[c]; ok {
			return true
		}
	}
	return false
}

// stoppedForMemory reports whether the watch stopped the call of ctx.
func stoppedForMemory(ctx context.Context) bool {
	cause := context.Cause(ctx)
	if cause == nil {
		return false // not stopped: skip errors.As, whose target escapes (an allocation per call)
	}
	var m *memoryStop
	return errors.As(cause, &m)
}

// formatBytes writes n in MiB (KiB below one MiB).
func formatBytes(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}
