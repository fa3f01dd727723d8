package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
// (defaultLeaseTTL) and renewed while its handler runs; a release that fails is
// retried in the background until the store answers; and a lease that
// nobody renews, its process dead or cut off, expires within its TTL —
// well within the handler_timeout its waiters have.

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
// failure is logged.
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
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e.log.Error("user lease unavailable; the handler runs without cross-process serialisation", "user", openid, "error", err)
			return func() {}, nil
		}
		if added {
			stop := e.renewLease(key, token)
			return func() {
				stop()
				e.releaseLease(key, token, openid)
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
				e.log.Warn("user lease not renewed; trying again", "key", key, "error", err)
			case !ok:
				// Lost (the store restarted empty, or the lease lapsed
				// and another message took it): nothing left to renew.
				e.log.Warn("user lease lost while its handler ran; messages of the user may overlap", "key", key)
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
	}
}

// releaseLease frees the lease and wakes this process's waiters. When the
// store fails, releasing goes on in the background until it answers or the
// lease would have expired anyway, so that a store that comes back (a Redis
// restart restores leases from its dump) does not hold the user's next
// messages for the rest of the lease.
func (e *engine) releaseLease(key string, token []byte, openid string) {
	if e.tryRelease(key, token) {
		return
	}
	e.log.Error("user lease not released; retrying in the background", "user", openid)
	until := time.Now().Add(e.leaseTTL)
	e.goWork("lease release", func() {
		for time.Now().Before(until) {
			select {
			case <-e.stopping:
				return // shutting down: the lease expires by itself
			case <-time.After(leaseRetry):
			}
			if e.tryRelease(key, token) {
				e.log.Info("user lease released after the store came back", "user", openid)
				return
			}
		}
	})
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
