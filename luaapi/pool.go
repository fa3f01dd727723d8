package luaapi

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// pool is the bounded set of Lua states. It has two bounds, one token of
// each kind per call:
//
//   - run (pool_size tokens) is held by a call while it runs Lua: from
//     the start of the call to its end, except while it waits in Go for
//     the network (state.wait), so that handlers waiting on a hanging
//     upstream leave the CPU to the others.
//   - states (max_states tokens) is held by a call for its whole life,
//     waiting included, from before its state is taken or made until the
//     state is given back.
//
// A call takes its states token first, then its run token: a call that
// holds a run token never waits for anything but Lua, so the two bounds
// cannot wait on each other.
//
// Idle states hold no token. They wait in a stack (the most recently used
// first: its memory is the warmest), each with its goroutine waiting for
// work; at most pool_size of them are kept, and never so many that the
// states in use and the idle ones together pass max_states. New states
// are made on demand, from the version the call asks for.
//
// Abandoned calls (see lease) are bounded too: at most pool_size of them
// give their tokens back while they still run, so that a stuck call does
// not take a place away for good; the next ones keep theirs until they
// return. A handler that gets stuck on every message therefore leaves at
// most pool_size calls running beyond the two bounds, and new messages
// wait (and time out) instead of starting more runaways.
//
// It is not a sync.Pool: that would drop states without closing them, and
// could not bound their number.
type pool struct {
	rt        *Runtime
	size      int // pool_size
	maxStates int
	run       *semaphore.Weighted
	states    *semaphore.Weighted

	// For Runtime.States: run tokens held by calls not abandoned, and
	// calls in state.wait (without a run token).
	running, waiting atomic.Int64

	mu    sync.Mutex
	idle  []*state
	inUse int // states tokens held (abandoned calls that gave theirs back excluded)

	// Abandoned calls still running, guarded by mu: freed is how many
	// gave their tokens back (at most size); holding are the others,
	// oldest first, which keep theirs.
	freed   int
	holding []*lease
}

func newPool(rt *Runtime, size, maxStates int) *pool {
	return &pool{rt: rt, size: size, maxStates: maxStates,
		run: semaphore.NewWeighted(int64(size)), states: semaphore.NewWeighted(int64(maxStates))}
}

// acquire waits until ctx ends for a place among max_states and a run
// token. They are given back by put, or by release.
func (p *pool) acquire(ctx context.Context) error {
	if err := p.states.Acquire(ctx, 1); err != nil {
		return p.rt.timeoutError(ctx, fmt.Sprintf(
			"waiting for a free Lua state: all max_states (%d) are in use, those waiting on the network included", p.maxStates))
	}
	if err := p.run.Acquire(ctx, 1); err != nil {
		p.states.Release(1)
		return p.rt.timeoutError(ctx, fmt.Sprintf("waiting for a free Lua state: all pool_size (%d) are running Lua", p.size))
	}
	p.running.Add(1)
	return nil
}

// take returns an idle state of ver for a call that acquired its tokens,
// or nil when the caller must make one. Idle states of other versions are
// closed on the way.
func (p *pool) take(ver *version) *state {
	var stale []*state
	var st *state
	p.mu.Lock()
	p.inUse++
	for len(p.idle) > 0 {
		s := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if s.ver == ver {
			st = s
			break
		}
		stale = append(stale, s)
	}
	p.mu.Unlock()
	for _, s := range stale {
		s.close()
	}
	return st
}

// put gives a state back with the call's tokens (its run token if it
// still holds one: running says so). A state of a version that is no
// longer current is closed: requests in flight finish on the old scripts,
// and their states go away with them.
//
// The state is among the idle ones before its tokens are given back: a
// call waiting for a token must find it there, not make a new state (and
// run every script's top level) that the pool would then have no room to
// keep.
func (p *pool) put(st *state, running bool) {
	keep := st.ver == p.rt.cur.Load() && !st.broken && !p.rt.isClosed()
	p.mu.Lock()
	p.inUse--
	if keep && p.roomForIdle() {
		p.idle = append(p.idle, st)
		st = nil
	}
	p.mu.Unlock()
	if running {
		p.releaseRun()
	}
	if st != nil {
		st.close()
	}
	p.states.Release(1)
}

// roomForIdle reports whether one more idle state may be kept. p.mu is held.
func (p *pool) roomForIdle() bool {
	return len(p.idle) < p.size && p.inUse+len(p.idle) < p.maxStates
}

// release gives back the tokens of a call whose state was never made.
func (p *pool) release() {
	p.releaseRun()
	p.mu.Lock()
	p.inUse--
	p.mu.Unlock()
	p.states.Release(1)
}

func (p *pool) releaseRun() {
	p.running.Add(-1)
	p.run.Release(1)
}

// abandonRunning gives back the tokens of a running call that the caller
// gave up on (l.mu is held), unless size abandoned calls have already
// given theirs: then the call keeps them until it returns (see
// abandonedDone). It reports whether the tokens were given back, and how
// many abandoned calls are running.
func (p *pool) abandonRunning(l *lease) (freed bool, running int) {
	// The call no longer counts among the live states.
	if l.slot {
		p.running.Add(-1)
	} else if l.inWait {
		p.waiting.Add(-1)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed < p.size {
		p.freed++
		p.releaseAbandoned(l)
		return true, p.freed + len(p.holding)
	}
	p.holding = append(p.holding, l)
	return false, p.freed + len(p.holding)
}

// releaseAbandoned gives back the tokens an abandoned call held when it
// was abandoned (they no longer change: see lease). p.mu is held.
func (p *pool) releaseAbandoned(l *lease) {
	p.inUse--
	if l.slot {
		p.run.Release(1)
	}
	p.states.Release(1)
}

// abandonedDone records that the abandoned call of l has returned (its
// state is closed). Its tokens are given back if it still held them; if it
// had given them back already, the oldest call that holds its tokens
// gives them back now, in its place.
func (p *pool) abandonedDone(l *lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.holding, l); i >= 0 {
		p.holding = slices.Delete(p.holding, i, i+1)
		p.releaseAbandoned(l)
		return
	}
	p.freed--
	if len(p.holding) > 0 {
		oldest := p.holding[0]
		p.holding = slices.Delete(p.holding, 0, 1)
		p.freed++
		p.releaseAbandoned(oldest)
	}
}

// abandonedRunning is how many abandoned calls are still running.
func (p *pool) abandonedRunning() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.freed + len(p.holding)
}

// counts returns how many states are idle, running Lua and waiting in Go.
func (p *pool) counts() StateCounts {
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	return StateCounts{Idle: idle, Running: int(p.running.Load()), Waiting: int(p.waiting.Load())}
}

// addIdle adds a state that holds no token (the one a reload validated the
// scripts with), if there is room.
func (p *pool) addIdle(st *state) {
	p.mu.Lock()
	if st.ver == p.rt.cur.Load() && p.roomForIdle() && !p.rt.isClosed() {
		p.idle = append(p.idle, st)
		st = nil
	}
	p.mu.Unlock()
	if st != nil {
		st.close()
	}
}

// prune closes the idle states of every version but ver: after a swap they
// would never be used again.
func (p *pool) prune(ver *version) {
	p.mu.Lock()
	var stale []*state
	kept := p.idle[:0]
	for _, s := range p.idle {
		if s.ver == ver {
			kept = append(kept, s)
		} else {
			stale = append(stale, s)
		}
	}
	for i := len(kept); i < len(p.idle); i++ {
		p.idle[i] = nil
	}
	p.idle = kept
	p.mu.Unlock()
	for _, s := range stale {
		s.close()
	}
}

// closeIdle closes every idle state.
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, s := range idle {
		s.close()
	}
}

// lease follows one state through a call made apart from the caller (see
// Runtime.run): the caller may give up on it at the timeout, and then the
// state must never return to the pool, because it may still be running.
// It also knows which tokens the call holds, so that the caller can give
// them back when it gives up: once the call is abandoned they belong to
// the pool's bookkeeping (abandonRunning, abandonedDone), and the call's
// goroutine no longer gives back or takes any.
type lease struct {
	mu     sync.Mutex
	phase  leasePhase
	slot   bool // holds a run token
	inWait bool // in state.wait, its run token given back
}

type leasePhase int

const (
	leaseWaiting   leasePhase = iota // the goroutine has no state yet
	leaseRunning                     // it holds a state and its tokens
	leaseDone                        // it gave the state back
	leaseAbandoned                   // the caller gave up on it
)

// start records that the goroutine got its state (and holds the run token
// the caller took for it); false means the caller already gave up, and the
// goroutine must give the state back unused.
func (l *lease) start() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == leaseAbandoned {
		return false
	}
	l.phase = leaseRunning
	l.slot = true
	return true
}

// finish records that the goroutine is done with its state; false means the
// lease was abandoned: the state must be closed, and pool.abandonedDone
// called. running says whether the call still holds its run token (not
// when its last state.wait could not take one back).
func (l *lease) finish() (ok, running bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == leaseAbandoned {
		return false, false
	}
	l.phase = leaseDone
	return true, l.slot
}

// yield gives the run token back as the call starts waiting in Go.
func (l *lease) yield(p *pool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase != leaseRunning {
		return // abandoned: its tokens are the pool's business now
	}
	if l.slot {
		l.slot = false
		p.releaseRun()
	}
	l.inWait = true
	p.waiting.Add(1)
}

// errAbandoned ends the wait of a call the caller gave up on.
var errAbandoned = fmt.Errorf("%w: the call was given up", ErrTimeout)

// resume takes a run token back as the call returns to Lua, waiting until
// ctx ends.
func (l *lease) resume(ctx context.Context, p *pool) error {
	l.mu.Lock()
	abandoned := l.phase != leaseRunning
	l.mu.Unlock()
	if abandoned {
		return errAbandoned
	}
	err := p.run.Acquire(ctx, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase != leaseRunning {
		// Abandoned while it waited: abandonRunning counted it out.
		if err == nil {
			p.run.Release(1)
		}
		return errAbandoned
	}
	l.inWait = false
	p.waiting.Add(-1)
	if err != nil {
		return err
	}
	l.slot = true
	p.running.Add(1)
	return nil
}

// abandon gives up on the call. A running call's tokens are given back at
// once (within the bound of pool.abandonRunning), so that the pool can
// make a replacement, and the state is closed when (if ever) its call
// returns; a state still being made is given back unused when it is ready
// (its tokens are given back then). It returns the phase it found:
// leaseRunning or leaseWaiting when it gave up on the call, else leaseDone,
// in which case the caller, not the state's goroutine, accounts for the
// call's end. For a running call, freed and running are
// pool.abandonRunning's.
func (l *lease) abandon(p *pool) (was leasePhase, freed bool, running int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.phase {
	case leaseRunning:
		l.phase = leaseAbandoned
		freed, running = p.abandonRunning(l)
		return leaseRunning, freed, running
	case leaseWaiting:
		l.phase = leaseAbandoned
		return leaseWaiting, false, 0
	}
	return leaseDone, false, 0
}

// abandoned reports whether the caller gave up.
func (l *lease) abandoned() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phase == leaseAbandoned
}
