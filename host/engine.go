package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/memory"
)

// The reply engine answers each WeChat delivery (an HTTP request) of a
// message. WeChat resends a message up to three times when it has no
// answer within 5 s, and drops answers that come later. The engine runs the
// handlers once per message however many deliveries arrive, answers every
// delivery within reply_timeout, and makes sure the reply reaches the user
// exactly once: passively, as the answer of a delivery that is still open,
// or through the customer-service API when none is.
//
// Who delivers is decided through a record in the dedup store (see
// record.go), changed only by compare-and-swap, so the same rules hold
// across host processes that share a Redis.

const (
	// minDedupTTL is how long a delivery is remembered: WeChat's retries
	// come within ~15 s, but a record must outlive its handler run.
	minDedupTTL = time.Minute
	// pollInterval is how often a waiting delivery rereads a record that
	// another process may change; changes made in this process wake it at
	// once.
	pollInterval = 50 * time.Millisecond
	// handoverGrace is how long a finished handler whose own delivery has
	// closed leaves a reply for a waiting retry beyond that retry's
	// deadline before sending it through the API instead.
	handoverGrace = 250 * time.Millisecond
	// sendTimeout bounds one customer-service API call.
	sendTimeout = 30 * time.Second
)

// engine is the dedup + deadline + session part of the pipeline.
type engine struct {
	opts   *Options
	log    *slog.Logger
	dedup  store.Dedup
	ttl    time.Duration
	locks  keyedMutex
	notify notifier
	stats  counters
	// work tracks goroutines that outlive their request: handler runs
	// past the deadline, late deliveries, the rest of long texts.
	work sync.WaitGroup
}

func newEngine(opts *Options) *engine {
	e := &engine{opts: opts, log: opts.Logger, dedup: opts.Dedup}
	if e.dedup == nil {
		e.dedup = memory.New(memory.Options{})
	}
	e.ttl = max(minDedupTTL, opts.HandlerTimeout+opts.ReplyTimeout+10*time.Second)
	return e
}

// outcome is the answer to one delivery: body is the reply XML (nil means
// the plain "success"); then runs once the answer is written (it sends the
// remaining parts of a long text through the API, in order).
type outcome struct {
	body []byte
	then func()
}

func (o outcome) done() {
	if o.then != nil {
		o.then()
	}
}

// result is what one handler run produced.
type result struct {
	// first is the rendered passive reply, nil when there is nothing to
	// say (no handler answered, success(), or the handler failed).
	first []byte
	// parts is the reply as the API would send it: the whole reply, or a
	// long text cut into pieces; parts[0] is what first renders.
	parts []reply.Reply
}

// answer handles one delivery of msg and returns the answer to write.
func (e *engine) answer(reqCtx context.Context, msg *message.Message) outcome {
	e.stats.deliveries.Add(1)
	deadline := time.Now().Add(e.opts.ReplyTimeout)
	key := dedupKey(e.opts.AppID, msg)
	added, current, err := e.dedup.AddDedup(reqCtx, key, pendingRecord, e.ttl)
	if err != nil {
		// Without the store we cannot tell a retry from a first delivery;
		// answering twice is better than not answering.
		e.log.Error("dedup store unavailable; handling the delivery without retry protection", "key", key, "error", err)
		return e.runAndWait(reqCtx, "", msg, deadline)
	}
	if !added {
		e.stats.retries.Add(1)
		return e.joinRetry(reqCtx, key, current, msg, deadline)
	}
	e.notify.broadcast(key)
	return e.runAndWait(reqCtx, key, msg, deadline)
}

// runAndWait starts the handlers and waits for them until the deadline.
func (e *engine) runAndWait(reqCtx context.Context, key string, msg *message.Message, deadline time.Time) outcome {
	done := make(chan result, 1)
	e.work.Add(1)
	go func() {
		defer e.work.Done()
		done <- e.run(msg)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case res := <-done:
		if res.first == nil {
			e.setFinal(key, pendingRecord, record{state: stateSent})
			return outcome{}
		}
		e.setFinal(key, pendingRecord, record{state: statePassive, payload: res.first})
		return outcome{body: res.first, then: e.sendRestLater(msg.Source, res.parts[1:])}
	case <-timer.C:
	case <-reqCtx.Done():
	}
	// The delivery closes now with "success"; the reply follows when the
	// handlers finish, to a retry that is waiting or through the API.
	e.work.Add(1)
	go func() {
		defer e.work.Done()
		e.deliverLate(key, msg, done)
	}()
	return outcome{}
}

// run loads the user's session, runs the handlers, saves the session and
// renders the reply. It holds the user's lock throughout, so that two
// messages of one user never overwrite each other's session changes.
func (e *engine) run(msg *message.Message) (res result) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.HandlerTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			e.stats.failures.Add(1)
			e.log.Error("handler panicked", "type", msg.Type, "user", msg.Source, "panic", fmt.Sprint(p))
			res = result{}
		}
	}()
	unlock, err := e.locks.lock(ctx, msg.Source)
	if err != nil {
		e.stats.failures.Add(1)
		e.log.Error("handler not run: earlier messages of the user still running", "user", msg.Source, "error", err)
		return result{}
	}
	defer unlock()

	var session []byte
	if e.opts.Sessions != nil {
		session, err = e.opts.Sessions.LoadSession(ctx, msg.Source)
		if err != nil {
			e.log.Error("session not loaded; the handler runs with an empty session", "user", msg.Source, "error", err)
			session = nil
		}
	}
	r, newSession, err := e.opts.Dispatcher.Dispatch(ctx, msg, session)
	if err != nil {
		e.stats.failures.Add(1)
		e.log.Error("handler failed", "type", msg.Type, "user", msg.Source, "error", err)
		return result{}
	}
	if newSession != nil && e.opts.Sessions != nil {
		// Committed before the reply leaves: a crash after the answer
		// loses nothing the user was answered about.
		if err := e.opts.Sessions.SaveSession(ctx, msg.Source, newSession); err != nil {
			e.stats.failures.Add(1)
			e.log.Error("session not saved", "user", msg.Source, "error", err)
		}
	}
	if r == nil {
		return result{}
	}
	if _, ok := r.(*reply.Success); ok {
		return result{}
	}
	parts := splitReply(r)
	buf := make([]byte, 0, 512) // fits a typical reply: one allocation
	return result{first: reply.Render(buf, parts[0], msg.Source, msg.Target, time.Now().Unix()), parts: parts}
}

// joinRetry answers a delivery of a message that an earlier delivery is
// handling or has handled.
func (e *engine) joinRetry(ctx context.Context, key string, current []byte, msg *message.Message, deadline time.Time) outcome {
	for {
		rec, err := decodeRecord(current)
		if err != nil {
			e.log.Error("corrupt dedup record; answering success", "key", key, "error", err)
			return outcome{}
		}
		switch rec.state {
		case statePassive:
			return outcome{body: rec.payload}
		case stateSent:
			return outcome{}
		case stateReady:
			// The handler finished after its own delivery closed: take
			// the reply if the API has not.
			taken := record{state: statePassive, payload: rec.payload}
			if ok := e.swap(ctx, key, current, taken); ok {
				return outcome{body: rec.payload}
			}
		case statePending:
			// Tell the handler's process a delivery is open until our
			// deadline, then wait for the reply.
			until := deadline.UnixMilli()
			if rec.waiterUntil < until {
				rec.waiterUntil = until
				if !e.swap(ctx, key, current, rec) {
					break // changed meanwhile: reread
				}
			}
			if !e.waitChange(ctx, key, deadline) {
				return outcome{} // deadline: answer success, the API takes over
			}
		}
		current, err = e.dedup.LoadDedup(ctx, key)
		if err != nil || current == nil {
			e.log.Error("dedup record lost while a retry waited; answering success", "key", key, "error", err)
			return outcome{}
		}
	}
}

// deliverLate waits for a handler whose delivery already closed and gets
// its reply to the user: to a retry waiting for it, or through the API.
func (e *engine) deliverLate(key string, msg *message.Message, done <-chan result) {
	var res result
	select {
	case res = <-done:
	case <-time.After(e.opts.HandlerTimeout + 5*time.Second):
		// The dispatcher should have given up at handler_timeout.
		e.stats.failures.Add(1)
		e.log.Error("handler still running past handler_timeout; its reply is dropped", "type", msg.Type, "user", msg.Source)
		e.setFinal(key, nil, record{state: stateSent})
		return
	}
	if res.first == nil {
		e.setFinal(key, nil, record{state: stateSent})
		return
	}
	ctx := context.Background()
	for key != "" {
		current, err := e.dedup.LoadDedup(ctx, key)
		if err != nil || current == nil {
			break
		}
		rec, err := decodeRecord(current)
		if err != nil || rec.state != statePending {
			break
		}
		waiter := time.UnixMilli(rec.waiterUntil)
		if !waiter.After(time.Now()) {
			if e.swap(ctx, key, current, record{state: stateSent}) {
				break
			}
			continue
		}
		ready := record{state: stateReady, waiterUntil: rec.waiterUntil, payload: res.first}
		if !e.swap(ctx, key, current, ready) {
			continue
		}
		// A retry is open: leave it the reply until its deadline.
		e.waitChange(ctx, key, waiter.Add(handoverGrace))
		if e.swap(ctx, key, ready.encode(), record{state: stateSent}) {
			break // nobody took it: the API delivers
		}
		// A retry took it passively; the rest of a long text follows.
		e.sendRest(msg.Source, res.parts[1:])
		return
	}
	e.stats.late.Add(1)
	e.sendRest(msg.Source, res.parts)
}

// setFinal records the end state of a delivery (best effort: if it fails,
// retries answer success when the record expires or times out). expected,
// when known, is the record's likely current value: usually the pending
// record this delivery added, which saves a read.
func (e *engine) setFinal(key string, expected []byte, final record) {
	if key == "" {
		return
	}
	ctx := context.Background()
	if expected != nil && e.swap(ctx, key, expected, final) {
		return
	}
	for range 8 {
		current, err := e.dedup.LoadDedup(ctx, key)
		if err != nil {
			e.log.Error("dedup record not updated", "key", key, "error", err)
			return
		}
		if current == nil {
			return
		}
		if e.swap(ctx, key, current, final) {
			return
		}
	}
	e.log.Error("dedup record not updated: too much contention", "key", key)
}

// swap is SwapDedup that logs failures and wakes local waiters.
func (e *engine) swap(ctx context.Context, key string, old []byte, rec record) bool {
	ok, err := e.dedup.SwapDedup(ctx, key, old, rec.encode(), e.ttl)
	if err != nil {
		e.log.Error("dedup store", "key", key, "error", err)
		return false
	}
	if ok {
		e.notify.broadcast(key)
	}
	return ok
}

// waitChange blocks until this process changes key, a poll interval passes
// (another process may have), or until; it reports false at until.
func (e *engine) waitChange(ctx context.Context, key string, until time.Time) bool {
	left := time.Until(until)
	if left <= 0 {
		return false
	}
	t := time.NewTimer(min(left, pollInterval))
	defer t.Stop()
	select {
	case <-e.notify.wait(key):
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return time.Now().Before(until)
}

// sendRestLater returns a function that sends parts through the API in
// the background, or nil when there are none.
func (e *engine) sendRestLater(openid string, parts []reply.Reply) func() {
	if len(parts) == 0 {
		return nil
	}
	return func() {
		e.work.Add(1)
		go func() {
			defer e.work.Done()
			e.sendRest(openid, parts)
		}()
	}
}

// sendRest sends parts in order, stopping at the first failure (the
// following parts would read wrong without it).
func (e *engine) sendRest(openid string, parts []reply.Reply) {
	for i, p := range parts {
		if err := e.send(openid, p); err != nil {
			e.stats.failures.Add(1)
			e.log.Error("reply not delivered through the customer-service API", "user", openid, "part", i+1, "of", len(parts), "kind", p.Kind(), "error", err)
			return
		}
	}
}

func (e *engine) send(openid string, r reply.Reply) error {
	if e.opts.Sender == nil {
		return errors.New("no Client configured (app_id and app_secret are needed to send replies after the deadline)")
	}
	if _, ok := r.(*reply.TransferCustomerService); ok {
		return errors.New("a transfer to customer service can only be a passive reply, and the deadline passed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	if err := e.opts.Sender(ctx, openid, r); err != nil {
		return err
	}
	e.stats.apiSends.Add(1)
	return nil
}

func (e *engine) close(ctx context.Context) error {
	finished := make(chan struct{})
	go func() {
		e.work.Wait()
		close(finished)
	}()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("host: replies still being delivered: %w", ctx.Err())
	}
}
