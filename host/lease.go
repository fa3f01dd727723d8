package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// Handlers of one user run one at a time, so that two quick messages never
// overwrite each other's session changes: in this process through a keyed
// mutex, and, when several processes share the store (Options.SharedStore),
// through a lease record in the dedup store as well.
//
// A lease must never outlive the store trouble that kept it from being
// released: after a Redis restart, users whose messages waited for leases
// left from before it were answered late or not at all. So a lease is short
// (defaultLeaseTTL) and renewed while its handler runs; a lease whose
// release failed, or whose take broke off half-way, is released in the
// background once the store answers (orphanLeases); and a lease that nobody
// renews, its process dead or cut off, expires within its TTL — well within
// the handler_timeout its waiters have.

// freeLease is the value of a released lease: the dedup store has no
// delete, so a lease is released by swapping it to this value, and taken
// by adding it or swapping it from this value.
var freeLease = []byte("free")

const (
	// defaultLeaseTTL is how long a lease lasts without renewal; its
	// holder renews it every third of that, three chances before it lapses.
	defaultLeaseTTL = 10 * time.Second
	// leaseRelease bounds one attempt to release a lease.
	leaseRelease = 2 * time.Second
	// leaseRetry is the pause between attempts to release a lease while
	// the store fails.
	leaseRetry = 250 * time.Millisecond
)

// lockUser takes the user's lock until ctx ends and returns its unlock.
func (e *engine) lockUser(ctx context.Context, openid string) (func(), error) {
	unlockLocal, err := e.locks.lock(ctx, openid)
	if err != nil {
		return nil, err
	}
	if !e.opts.SharedStore {
		return unlockLocal, nil
	}
	release, err := e.takeLease(ctx, openid)
	if err != nil {
		unlockLocal()
		return nil, err
	}
	return func() {
		release()
		unlockLocal()
	}, nil
}

// takeLease takes the user's lease in the shared store. A store that fails
// does not stop the bot: the handler runs with the local lock only, and the
// failure is logged. A take whose outcome is unknown (the connection broke
// after the command was sent) may have taken the lease all the same: it is
// released once the store answers again, like a failed release.
func (e *engine) takeLease(ctx context.Context, openid string) (func(), error) {
	key := "lease|" + e.opts.AppID + "|" + openid
	var b [16]byte
	rand.Read(b[:])
	token := []byte(hex.EncodeToString(b[:]))
	for {
		added, current, err := e.dedup.AddDedup(ctx, key, token, e.leaseTTL)
		if err == nil && !added && bytes.Equal(current, freeLease) {
			added, err = e.dedup.SwapDedup(ctx, key, freeLease, token, e.leaseTTL)
		}
		if err != nil {
			e.releaseLater(key, token)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e.log.Error("user lease unavailable; the handler runs without cross-process serialisation", "user", e.user(openid), "error", e.logKeyError(key, err))
			return func() {}, nil
		}
		if added {
			stop := e.renewLease(key, token)
			return func() {
				stop()
				if !e.tryRelease(key, token) {
					e.log.Error("user lease not released; releasing it when the store answers", "user", e.user(openid))
					e.releaseLater(key, token)
				}
			}, nil
		}
		if !e.waitChange(ctx, key, time.Now().Add(e.leaseTTL)) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// renewLease keeps the lease alive while its handler runs, and returns the
// function that stops renewing.
func (e *engine) renewLease(key string, token []byte) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(e.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), leaseRelease)
			ok, err := e.dedup.SwapDedup(ctx, key, token, token, e.leaseTTL)
			cancel()
			switch {
			case err != nil:
				e.log.Warn("user lease not renewed; trying again", "key", e.logKey(key), "error", e.logKeyError(key, err))
			case !ok:
				// Lost (the store restarted empty, or the lease lapsed
				// and another message took it): nothing left to renew.
				e.log.Warn("user lease lost while its handler ran; messages of the user may overlap", "key", e.logKey(key))
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// tryRelease makes one attempt to free the lease; it reports whether the
// lease is no longer held by token (freed now, or lost before).
func (e *engine) tryRelease(key string, token []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), leaseRelease)
	defer cancel()
	if _, err := e.dedup.SwapDedup(ctx, key, token, freeLease, e.leaseTTL); err != nil {
		return false
	}
	e.notify.broadcast(key)
	return true
}

// orphanLeases are leases this process may hold without a handler: their
// release failed, or their take broke off with the outcome unknown. One
// background loop frees them once the store answers, so that a store that
// comes back with them (a Redis restart restores leases from its
// append-only file or dump) does not hold the users' next messages for the
// rest of the lease. Each is forgotten when it would have expired anyway.
type orphanLeases struct {
	mu      sync.Mutex
	byKey   map[string][]orphan
	running bool
}

type orphan struct {
	token []byte
	until time.Time
}

// releaseLater queues token's lease on key for the background release.
func (e *engine) releaseLater(key string, token []byte) {
	o := &e.orphans
	o.mu.Lock()
	if o.byKey == nil {
		o.byKey = map[string][]orphan{}
	}
	o.byKey[key] = append(o.byKey[key], orphan{token: token, until: time.Now().Add(e.leaseTTL)})
	start := !o.running
	o.running = true
	o.mu.Unlock()
	if start && !e.goWork("lease release", e.releaseOrphans) {
		o.mu.Lock()
		o.running = false // shutting down: the leases expire by themselves
		o.mu.Unlock()
	}
}

// releaseOrphans is the background loop of releaseLater. While the store
// fails it tries one key per round, so that an outage costs one failing
// call per leaseRetry however many messages met it.
func (e *engine) releaseOrphans() {
	o := &e.orphans
	for {
		select {
		case <-e.stopping:
			return // the leases expire by themselves
		case <-time.After(leaseRetry):
		}
		o.mu.Lock()
		pending := o.byKey
		o.byKey = nil
		o.mu.Unlock()

		keep := map[string][]orphan{}
		down := false
		now := time.Now()
		for key, orphans := range pending {
			live := orphans[:0]
			for _, x := range orphans {
				if now.Before(x.until) {
					live = append(live, x)
				}
			}
			if len(live) == 0 {
				continue
			}
			if down || !e.releaseOrphansOf(key, live) {
				down = true
				keep[key] = live
			}
		}

		o.mu.Lock()
		if o.byKey == nil {
			o.byKey = map[string][]orphan{}
		}
		for key, orphans := range keep {
			o.byKey[key] = append(orphans, o.byKey[key]...)
		}
		if len(o.byKey) == 0 {
			o.running = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
	}
}

// releaseOrphansOf frees key's lease if one of the tokens holds it, reading
// it once rather than trying each token. It reports false when the store
// failed.
func (e *engine) releaseOrphansOf(key string, orphans []orphan) bool {
	// Quietly: while the store is down this fails every round, and the
	// failures that matter are logged where they happen.
	ctx, cancel := context.WithTimeout(context.Background(), leaseRelease)
	current, err := e.dedup.LoadDedup(ctx, key)
	cancel()
	if err != nil {
		return false
	}
	for _, x := range orphans {
		if bytes.Equal(current, x.token) {
			if !e.tryRelease(key, x.token) {
				return false
			}
			e.log.Info("user lease left by a store failure released", "key", e.logKey(key))
		}
	}
	return true
}
