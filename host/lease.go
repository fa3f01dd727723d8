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

// freeLease is the value of a released lease: the dedup store has no
// delete, so a lease is released by swapping it to this value, and taken
// by adding it or swapping it from this value.
var freeLease = []byte("free")

// leaseRelease bounds the release of a lease; an unreleased lease expires.
const leaseRelease = 2 * time.Second

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
	// A lease outlives the longest handler run, so that a process that
	// dies holding one only delays the user's next message.
	ttl := e.opts.HandlerTimeout + 10*time.Second
	for {
		added, current, err := e.dedup.AddDedup(ctx, key, token, ttl)
		if err == nil && !added && bytes.Equal(current, freeLease) {
			added, err = e.dedup.SwapDedup(ctx, key, freeLease, token, ttl)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			e.log.Error("user lease unavailable; the handler runs without cross-process serialisation", "user", openid, "error", err)
			return func() {}, nil
		}
		if added {
			return func() {
				rctx, cancel := context.WithTimeout(context.Background(), leaseRelease)
				defer cancel()
				if _, err := e.dedup.SwapDedup(rctx, key, token, freeLease, ttl); err != nil {
					e.log.Error("user lease not released; it expires by itself", "user", openid, "error", err)
				}
				e.notify.broadcast(key)
			}, nil
		}
		if !e.waitChange(ctx, key, time.Now().Add(ttl)) && ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}
