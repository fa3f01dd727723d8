package luaapi

import (
	"context"
	"slices"
	"sync"
)

// pool is the bounded set of Lua states. A token of sem is held by every
// call in progress; idle states wait in a stack (the most recently used
// first: its memory is the warmest), each with its goroutine waiting for
// work. New states are made on demand, from the version the call asks for,
// so there are never more than size states alive besides abandoned ones
// (see lease).
//
// Abandoned states are bounded too: at most size of them give their slot
// back while they still run (so that a stuck call does not take a slot
// away for good); the next ones keep their slot until they return. A
// handler that gets stuck on every message therefore leaves at most
// 2*size Lua calls running, and new messages wait (and time out) instead
// of starting more runaways.
//
// It is not a sync.Pool: that would drop states without closing them, and
// could not bound their number.
type pool struct {
	rt   *Runtime
	sem  chan struct{}
	mu   sync.Mutex
	idle []*state

	// Abandoned calls still running, guarded by mu: freed is how many
	// gave their slot back (at most cap(sem)); holding are the others,
	// oldest first, which keep theirs.
	freed   int
	holding []*lease
}

func newPool(rt *Runtime, size int) *pool {
	return &pool{rt: rt, sem: make(chan struct{}, size)}
}

// acquire waits for a free slot until ctx ends. The slot is given back by
// put, or by release.
func (p *pool) acquire(ctx context.Context) error {
	select {
	case p.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// popIdle returns an idle state of ver, or nil when the caller must make
// one. Idle states of other versions are closed on the way.
func (p *pool) popIdle(ver *version) *state {
	var stale []*state
	var st *state
	p.mu.Lock()
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

// put gives a state back and frees its slot. A state of a version that is
// no longer current is closed: requests in flight finish on the old
// scripts, and their states go away with them.
func (p *pool) put(st *state) {
	if st.ver == p.rt.cur.Load() && !st.broken && !p.rt.isClosed() {
		p.mu.Lock()
		if len(p.idle) < cap(p.sem) {
			p.idle = append(p.idle, st)
			st = nil
		}
		p.mu.Unlock()
	}
	if st != nil {
		st.close()
	}
	<-p.sem
}

// release frees the slot of a state that was never made.
func (p *pool) release() {
	<-p.sem
}

// abandonRunning frees the slot of a running call that the caller gave up
// on, unless cap(sem) abandoned calls have already freed theirs: then the
// call keeps its slot until it returns (see abandonedDone). It reports
// whether the slot was freed, and how many abandoned calls are running.
func (p *pool) abandonRunning(l *lease) (freed bool, running int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed < cap(p.sem) {
		p.freed++
		<-p.sem
		return true, p.freed + len(p.holding)
	}
	p.holding = append(p.holding, l)
	return false, p.freed + len(p.holding)
}

// abandonedDone records that the abandoned call of l has returned (its
// state is closed). Its slot is freed if it still held one; if it had
// given it back already, the oldest call that holds one gives it back
// now, in its place.
func (p *pool) abandonedDone(l *lease) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i := slices.Index(p.holding, l); i >= 0 {
		p.holding = slices.Delete(p.holding, i, i+1)
		<-p.sem
		return
	}
	p.freed--
	if len(p.holding) > 0 {
		p.holding = slices.Delete(p.holding, 0, 1)
		p.freed++
		<-p.sem
	}
}

// abandonedRunning is how many abandoned calls are still running.
func (p *pool) abandonedRunning() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.freed + len(p.holding)
}

// addIdle adds a state that holds no slot (the one a reload validated the
// scripts with), if there is room.
func (p *pool) addIdle(st *state) {
	p.mu.Lock()
	if st.ver == p.rt.cur.Load() && len(p.idle) < cap(p.sem) && !p.rt.isClosed() {
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
type lease struct {
	mu    sync.Mutex
	phase leasePhase
}

type leasePhase int

const (
	leaseWaiting   leasePhase = iota // the goroutine has no state yet
	leaseRunning                     // it holds a state and a slot
	leaseDone                        // it gave the state back
	leaseAbandoned                   // the caller gave up on it
)

// start records that the goroutine got its state; false means the caller
// already gave up, and the goroutine must give the state back unused.
func (l *lease) start() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == leaseAbandoned {
		return false
	}
	l.phase = leaseRunning
	return true
}

// finish records that the goroutine is done with its state; false means the
// lease was abandoned: the state must be closed, and pool.abandonedDone
// called.
func (l *lease) finish() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.phase == leaseAbandoned {
		return false
	}
	l.phase = leaseDone
	return true
}

// abandon gives up on the call. A running state's slot is freed at once
// (within the bound of pool.abandonRunning), so that the pool can make a
// replacement, and the state is closed when (if ever) its call returns; a
// state still being made is given back unused when it is ready (its slot
// is freed then). It returns the phase it found: leaseRunning or
// leaseWaiting when it gave up on the call, else leaseDone, in which case
// the caller, not the state's goroutine, accounts for the call's end.
// For a running call, freed and running are pool.abandonRunning's.
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
