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
// holds. So the watch looks at the whole Go heap: while Lua calls run, a
// sampler reads the bytes of heap objects (runtime/metrics) every
// memorySampleInterval, and when they pass the limit, every call running
// Lua at that moment is stopped through its context (gopher-lua checks it
// before each instruction) and its state is discarded, with the memory it
// held; the idle states are dropped too (a top-level cache may be what
// grew). Calls waiting in Go for the network are left alone: they are not
// allocating, and are watched again when they come back to Lua.
//
// The precision: the heap is what is measured, so the host's own memory
// counts (a few MiB), and garbage not yet collected counts until the
// collector runs (serve sets Go's soft memory limit to the same value, so
// it collects harder as the heap nears it). The check runs between
// samples, so the heap may pass the limit by what the running calls
// allocate in one interval, plus whatever one instruction allocates at
// once: a `..` of n operands makes its whole result in one allocation
// before the call can be stopped (`s = s .. s` doubles s, so that one step
// may reach twice the limit). The library functions that make large values
// (string.rep, string.format, table.concat, gsub) refuse results over
// their own bounds before allocating; the `..` operator and a table's
// growth are VM operations with no hook, and only this watch bounds them.
type memoryWatch struct {
	limit  uint64
	log    *slog.Logger
	onTrip func() // drops the idle states

	mu       sync.Mutex
	calls    map[*watchedCall]struct{}
	sampling bool // the sampler goroutine runs
}

// memorySampleInterval is how often the heap is read while Lua calls run.
// The fastest growth a script can make is a string doubling (`s = s .. s`):
// the allocation is instant, but filling it takes a copy of the whole
// string (milliseconds for tens of MiB), and the next doubling cannot
// start before that. A millisecond catches it within the step that passed
// the limit; reading one metric costs about a microsecond.
const memorySampleInterval = time.Millisecond

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

func newMemoryWatch(limit uint64, log *slog.Logger, onTrip func()) *memoryWatch {
	return &memoryWatch{limit: limit, log: log, onTrip: onTrip, calls: make(map[*watchedCall]struct{})}
}

// watchedCall is one Lua call the watch may stop.
type watchedCall struct {
	cancel  context.CancelCauseFunc
	task    *task       // nil for the top level of the scripts
	waiting atomic.Bool // in state.wait: not running Lua
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

// watch returns ctx with a cancellation the watch can use, for a call
// about to run Lua; unwatch ends it. w may be nil (no limit).
func (w *memoryWatch) watch(ctx context.Context, t *task) (context.Context, *watchedCall, func()) {
	if w == nil {
		return ctx, nil, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	c := &watchedCall{cancel: cancel, task: t}
	w.mu.Lock()
	w.calls[c] = struct{}{}
	if !w.sampling {
		w.sampling = true
		go w.sample()
	}
	w.mu.Unlock()
	return ctx, c, func() {
		w.mu.Lock()
		delete(w.calls, c)
		w.mu.Unlock()
		cancel(nil)
	}
}

// sample reads the heap while calls are watched, and stops the running
// ones when it passes the limit.
func (w *memoryWatch) sample() {
	samples := []metrics.Sample{{Name: heapMetric}}
	tick := time.NewTicker(memorySampleInterval)
	defer tick.Stop()
	threshold := w.limit
	idle := 0
	for range tick.C {
		w.mu.Lock()
		if len(w.calls) > 0 {
			idle = 0
		} else if idle++; idle >= memoryIdleSamples {
			w.sampling = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		metrics.Read(samples)
		heap := samples[0].Value.Uint64()
		switch {
		case heap <= w.limit:
			threshold = w.limit
		case heap > threshold:
			threshold = w.trip(heap, samples)
		}
	}
}

// trip stops the calls running Lua, drops the idle states, and returns the
// heap size past which the next calls are stopped: the limit, or more
// when the memory over it is not the Lua calls' (it stayed after they
// were stopped), so that calls are not stopped one after another for
// memory they do not hold.
func (w *memoryWatch) trip(heap uint64, samples []metrics.Sample) uint64 {
	cause := &memoryStop{heap: heap, limit: w.limit}
	var stopped []*watchedCall
	var where []string
	w.mu.Lock()
	for c := range w.calls {
		if !c.waiting.Load() {
			stopped = append(stopped, c)
			where = append(where, c.where())
		}
	}
	cause.calls = len(stopped)
	for _, c := range stopped {
		c.cancel(cause)
	}
	w.mu.Unlock()
	w.onTrip()
	if len(stopped) > 0 {
		slices.Sort(where)
		w.log.Error("the Go heap passed lua_memory_limit: the Lua calls running now are stopped and their states discarded",
			"heap", formatBytes(heap), "lua_memory_limit", formatBytes(w.limit), "calls", strings.Join(where, ", "))
	}
	// The stopped calls end at their next instruction; once their states
	// are gone, a collection tells whether the memory was theirs.
	deadline := time.Now().Add(time.Second)
	for w.anyWatched(stopped) && time.Now().Before(deadline) {
		time.Sleep(memorySampleInterval)
	}
	runtime.GC()
	metrics.Read(samples)
	after := samples[0].Value.Uint64()
	if after <= w.limit {
		return w.limit
	}
	w.log.Error("the Go heap is still over lua_memory_limit with the running Lua calls stopped and the idle states dropped: "+
		"the memory is held elsewhere (calls waiting on the network, the host itself); until it falls under the limit, "+
		"Lua calls are stopped only when the heap grows by another quarter of the limit",
		"heap", formatBytes(after), "lua_memory_limit", formatBytes(w.limit))
	return after + w.limit/4
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
	var m *memoryStop
	return errors.As(context.Cause(ctx), &m)
}

// formatBytes writes n in MiB (KiB below one MiB).
func formatBytes(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dMiB", n>>20)
}
