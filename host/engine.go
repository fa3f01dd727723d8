package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/luarobot/luarobot/host/delivery"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/internal/activity"
	"github.com/luarobot/luarobot/internal/deadline"
	"github.com/luarobot/luarobot/metrics"
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
// across host processes that share a Redis. When the store fails and the
// state of a record cannot be known, the engine prefers answering twice to
// not answering.

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
	// deadline before sending it through the API instead: the retry may
	// be in another process, polling.
	handoverGrace = 250 * time.Millisecond
	// storeTimeout bounds one dedup-store call made in the background,
	// after the delivery has been answered.
	storeTimeout = 5 * time.Second
	// storeAttempts is how often a background store call is tried before
	// the engine falls back to the API.
	storeAttempts = 5
	// sendTimeout bounds one customer-service API call.
	sendTimeout = 30 * time.Second
	// saveTimeout bounds a session save; it gets its own context so that
	// a handler finishing near handler_timeout still has its session kept.
	saveTimeout = 5 * time.Second
)

// errClosed answers deliveries that arrive after Close.
var errClosed = errors.New("host: the handler is closed")

// engine is the dedup + deadline + session part of the pipeline.
type engine struct {
	opts   *Options
	log    *slog.Logger
	dedup  store.Dedup
	ttl    time.Duration
	locks  keyedMutex
	notify notifier
	stats  counters

	// leaseTTL is how long a user's lease lasts unrenewed (lease.go).
	leaseTTL time.Duration
	// orphans are leases to release once the store answers (lease.go).
	orphans orphanLeases

	mu     sync.Mutex
	closed bool
	// stopping is closed by close: background work that may give up
	// (retrying a lease release) stops then instead of holding Close.
	stopping chan struct{}
	// work tracks goroutines that outlive their request: handler runs
	// past the deadline, late deliveries, the rest of long texts.
	work activity.Group
}

func newEngine(opts *Options) *engine {
	e := &engine{opts: opts, log: opts.Logger, dedup: opts.Dedup, leaseTTL: defaultLeaseTTL, stopping: make(chan struct{})}
	if e.dedup == nil {
		e.dedup = memory.New(memory.Options{Now: opts.Now})
	}
	e.ttl = max(minDedupTTL, opts.HandlerTimeout+opts.ReplyTimeout+10*time.Second)
	return e
}

// goWork runs f in the background, tracked by Close and guarded against
// panics (a panicking Sender must not take the process down). It reports
// false, running nothing, once the engine is closed.
func (e *engine) goWork(what string, f func()) bool {
	run, ok := e.reserveWork(what)
	if ok {
		go run(f)
	}
	return ok
}

// reserveWork counts background work from now on, to be run later by the
// function it returns (exactly once: in a goroutine, or in the caller's).
// Wait and Close see the work as running from the reservation, which lets
// a delivery count what it leaves behind before its answer leaves. It
// reports false, counting nothing, once the engine is closed.
func (e *engine) reserveWork(what string) (run func(f func()), ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, false
	}
	e.work.Add(1)
	return func(f func()) {
		defer e.work.Done()
		defer func() {
			if p := recover(); p != nil {
				e.stats.failures.Add(1)
				e.log.Error("background work panicked", "work", what, "panic", fmt.Sprint(p))
			}
		}()
		f()
	}, true
}

// outcome is the answer to one delivery: body is the reply XML (nil means
// the plain "success").
type outcome struct {
	body []byte
	// sendRest sends the parts of a long text after the first through the
	// API, in order. It counts as background work from when the outcome was
	// made, so that whoever has the answer and calls Wait finds the rest
	// counted; it must be called once (finish does), or Wait and Close
	// would wait for it forever. Nil when there is no rest.
	sendRest func(background bool)
}

// finish sends the rest of a long text: in the background for an HTTP
// delivery, once its answer is written; at once for the console, which
// finds the parts in its Sender before it shows the answer.
func (o outcome) finish(background bool) {
	if o.sendRest != nil {
		o.sendRest(background)
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
	// For the delivery log line and metrics: where the handler that
	// answered was defined ("" when none did), the reply's kind, and why
	// the run failed (nil when it did not).
	handler string
	kind    string
	err     error
}

// deliveryContext is the context of the store calls of a delivery that
// arrived at start: they end at its deadline, but not when WeChat hangs
// up — a delivery dropped half-way must still leave its records, or its
// retry would run the handlers again.
func (e *engine) deliveryContext(reqCtx context.Context, start time.Time) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.WithoutCancel(reqCtx), start.Add(e.opts.ReplyTimeout))
}

// answer handles one delivery of msg, which arrived at start, and returns
// the answer to write by start + reply_timeout. reqCtx ends when WeChat
// hangs up.
func (e *engine) answer(reqCtx context.Context, start time.Time, msg *message.Message) (outcome, error) {
	ctx, cancel := e.deliveryContext(reqCtx, start)
	defer cancel()
	return e.answerIn(reqCtx, ctx, start, msg)
}

// answerIn is answer with the delivery's context made by the caller, who
// made store calls of its own in it (the replay record).
func (e *engine) answerIn(reqCtx, ctx context.Context, start time.Time, msg *message.Message) (outcome, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		// Refused before it is recorded, so that WeChat's retry can be
		// handled by a process still running.
		return outcome{}, errClosed
	}
	e.stats.deliveries.Add(1)
	deadline := start.Add(e.opts.ReplyTimeout)
	key := dedupKey(e.opts.AppID, msg)
	added, current, err := e.dedup.AddDedup(ctx, key, pendingRecord, e.ttl)
	if err != nil {
		// Without the store we cannot tell a retry from a first delivery;
		// answering twice is better than not answering.
		e.log.Error("dedup store unavailable; handling the delivery without retry protection", "key", e.logKey(key), "error", e.logKeyError(key, err))
		key = ""
	} else if !added {
		e.stats.retries.Add(1)
		out := e.joinRetry(ctx, key, current, deadline)
		e.observe(msg, observation{outcome: metrics.Retry, answered: time.Since(start), kind: payloadKind(out.body)})
		return out, nil
	}
	return e.runAndWait(reqCtx, ctx, key, msg, start, deadline)
}

// runAndWait starts the handlers and waits for them until the deadline.
func (e *engine) runAndWait(reqCtx, ctx context.Context, key string, msg *message.Message, start, deadline time.Time) (outcome, error) {
	done := make(chan result, 1)
	if !e.goWork("handler", func() { done <- e.run(msg) }) {
		return outcome{}, errClosed
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case res := <-done:
		e.observe(msg, resultObservation(res, time.Since(start), metrics.Replied))
		if res.first == nil {
			e.setFinal(ctx, key, pendingRecord, record{state: stateSent})
			return outcome{}, nil
		}
		e.setFinal(ctx, key, pendingRecord, record{state: statePassive, payload: res.first})
		return outcome{body: res.first, sendRest: e.restSender(msg.Source, res.parts[1:])}, nil
	case <-timer.C:
	case <-reqCtx.Done():
	}
	answered := time.Since(start)
	// The delivery closes now with "success"; the reply follows when the
	// handlers finish, to a retry that is waiting or through the API.
	// (The handler goroutine above is tracked, so this cannot fail where
	// that succeeded unless Close began in between; then the reply is
	// dropped with the rest of the shutdown.)
	if !e.goWork("late delivery", func() { e.deliverLate(key, msg, done, start, answered) }) {
		e.log.Error("shutting down: a late reply is dropped", "type", msg.Type, "user", e.user(msg.Source))
		e.observe(msg, observation{outcome: metrics.Late, answered: answered, extra: []any{"delivered", "no (shutting down)"}})
	}
	return outcome{}, nil
}

// run loads the user's session, runs the handlers, saves the session and
// renders the reply. It holds the user's lock throughout, so that two
// messages of one user never overwrite each other's session changes.
//
// A reply never claims what was not stored: when the session cannot be
// loaded the handlers do not run (on an empty session they would answer as
// if the user were new), and when the session they changed cannot be saved
// their reply is withheld. Either way the delivery gets StoreErrorReply
// instead, through the same paths as a reply (passive, a retry, or the API
// when late), so that a retry answers the same.
func (e *engine) run(msg *message.Message) (res result) {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.HandlerTimeout)
	defer cancel()
	// The dispatcher says there which handler answered.
	ctx, info := delivery.NewContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			e.stats.failures.Add(1)
			res = result{err: fmt.Errorf("handler panicked: %v", p)}
		}
	}()
	unlock, err := e.lockUser(ctx, msg.Source)
	if err != nil {
		e.stats.failures.Add(1)
		return result{err: fmt.Errorf("handler not run: earlier messages of the user still running: %w", err)}
	}
	defer unlock()

	var session []byte
	if e.opts.Sessions != nil {
		session, err = e.opts.Sessions.LoadSession(ctx, msg.Source)
		if err != nil {
			return e.storeFailed(msg, "session not loaded; the handlers did not run", err)
		}
	}
	r, newSession, err := e.opts.Dispatcher.Dispatch(ctx, msg, session)
	if err != nil {
		// The delivery's log line says it, with the script's file:line.
		e.stats.failures.Add(1)
		return result{err: err}
	}
	if newSession != nil && e.opts.Sessions != nil {
		// Committed before the reply leaves: a crash after the answer
		// loses nothing the user was answered about.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		err := e.opts.Sessions.SaveSession(sctx, msg.Source, newSession)
		cancel()
		if err != nil {
			return e.storeFailed(msg, "session not saved; the handlers' reply is withheld", err)
		}
	}
	if r == nil {
		return result{}
	}
	if _, ok := r.(*reply.Success); ok {
		return result{handler: info.Handler()}
	}
	res = e.render(msg, r)
	res.handler = info.Handler()
	return res
}

// render turns a reply into a result: the passive XML of its first part,
// and its parts as the API would send them.
func (e *engine) render(msg *message.Message, r reply.Reply) result {
	parts := e.splitReply(msg.Source, r)
	buf := make([]byte, 0, 512) // fits a typical reply: one allocation
	return result{first: reply.Render(buf, parts[0], msg.Source, msg.Target, e.opts.Now().Unix()), parts: parts, kind: r.Kind()}
}

// storeFailed returns what a delivery whose handlers' reply is withheld
// gets instead: StoreErrorReply, or nothing ("success"). Its outcome is
// error, and its log line says why (reply=text when StoreErrorReply
// answered).
func (e *engine) storeFailed(msg *message.Message, why string, err error) result {
	e.stats.failures.Add(1)
	e.stats.withheld.Add(1)
	res := result{}
	if e.opts.StoreErrorReply != "" {
		res = e.render(msg, &reply.Text{Content: e.opts.StoreErrorReply})
	}
	res.err = fmt.Errorf("%s: %w", why, err)
	return res
}

// joinRetry answers a delivery of a message that an earlier delivery is
// handling or has handled. ctx ends at the delivery's deadline.
func (e *engine) joinRetry(ctx context.Context, key string, current []byte, deadline time.Time) outcome {
	for {
		rec, err := decodeRecord(current)
		if err != nil {
			e.log.Error("corrupt dedup record; answering success", "key", e.logKey(key), "error", e.logKeyError(key, err))
			return outcome{}
		}
		switch rec.state {
		case statePassive:
			return outcome{body: rec.payload}
		case stateSent:
			return outcome{}
		case stateReady:
			// The handler finished after its own delivery closed: take
			// the reply if the API has not, and if there is still time
			// to answer with it.
			if !time.Now().Before(deadline) {
				return outcome{}
			}
			taken := record{state: statePassive, payload: rec.payload}
			ok, err := e.swap(ctx, key, current, taken)
			if ok {
				return outcome{body: rec.payload}
			}
			if err != nil {
				// The swap may have happened. Answering the reply again is
				// harmless (WeChat shows one answer per message); losing it
				// is not, and the owner only uses the API while it can
				// still swap ready to sent.
				return outcome{body: rec.payload}
			}
		case statePending:
			// Tell the handler's process a delivery is open until our
			// deadline, then wait for the reply.
			if until := deadline.UnixMilli(); rec.waiterUntil < until {
				rec.waiterUntil = until
				ok, err := e.swap(ctx, key, current, rec)
				if err != nil {
					return outcome{} // the store is failing: the API takes over
				}
				if !ok {
					break // changed meanwhile: reread
				}
			}
			if !e.waitChange(ctx, key, deadline) {
				return outcome{} // deadline: answer success, the API takes over
			}
		}
		current, err = e.dedup.LoadDedup(ctx, key)
		if err != nil || current == nil {
			e.log.Error("dedup record unreadable while a retry waited; answering success", "key", e.logKey(key), "error", e.logKeyError(key, err))
			return outcome{}
		}
	}
}

// deliverLate waits for a handler whose delivery already closed (answered
// success after answered) and gets its reply to the user: to a retry
// waiting for it, or through the API. The delivery is observed then, when
// its outcome is known.
func (e *engine) deliverLate(key string, msg *message.Message, done <-chan result, start time.Time, answered time.Duration) {
	var res result
	select {
	case res = <-done:
	case <-time.After(e.opts.HandlerTimeout + 5*time.Second):
		// The dispatcher should have given up at handler_timeout.
		e.stats.failures.Add(1)
		e.setFinal(context.Background(), key, nil, record{state: stateSent})
		e.observe(msg, observation{outcome: metrics.Error, answered: answered,
			err: errors.New("handler still running past handler_timeout; its reply is dropped")})
		return
	}
	obs := resultObservation(res, answered, metrics.Late)
	obs.extra = []any{"reply_after", roundDuration(time.Since(start))}
	defer func() { e.observe(msg, obs) }()
	if res.first == nil {
		e.setFinal(context.Background(), key, nil, record{state: stateSent})
		return
	}
	if key != "" && !e.handOver(key, res) {
		// A retry answered with the reply; the rest of a long text follows.
		obs.extra = append(obs.extra, "delivered", "retry")
		e.sendRest(msg.Source, res.parts[1:])
		return
	}
	// late_replies counts the replies the user got: a failed send is a
	// failure, not a late reply.
	if e.sendRest(msg.Source, res.parts) > 0 {
		e.stats.late.Add(1)
		obs.extra = append(obs.extra, "delivered", "api")
	} else {
		obs.extra = append(obs.extra, "delivered", "no")
	}
}

// handOver offers a late reply to a retry that is waiting for it, and
// reports whether the API must deliver it: true when no retry took it,
// and when the store cannot tell.
func (e *engine) handOver(key string, res result) (useAPI bool) {
	for attempt := 0; attempt < storeAttempts; attempt++ {
		current, err := e.load(key)
		if err != nil {
			continue
		}
		if current == nil {
			return true // expired: nobody can be waiting
		}
		rec, err := decodeRecord(current)
		if err != nil {
			e.log.Error("corrupt dedup record; the reply goes through the API", "key", e.logKey(key), "error", e.logKeyError(key, err))
			return true
		}
		if rec.state != statePending {
			// Only this process moves a record on from pending.
			e.log.Error("dedup record in an unexpected state; the reply goes through the API", "key", e.logKey(key), "state", rec.state)
			return true
		}
		waiter := time.UnixMilli(rec.waiterUntil)
		if !waiter.After(time.Now()) {
			// Nobody waits: the API delivers, once this is recorded
			// (or the record can no longer be read).
			ok, err := e.swapBackground(key, current, record{state: stateSent})
			if ok || err != nil {
				return true
			}
			continue // a retry registered meanwhile
		}
		ready := record{state: stateReady, waiterUntil: rec.waiterUntil, payload: res.first}
		if ok, err := e.swapBackground(key, current, ready); !ok || err != nil {
			continue
		}
		return e.reclaim(key, ready.encode(), waiter.Add(handoverGrace))
	}
	e.log.Error("dedup store failing; the late reply goes through the API", "key", e.logKey(key))
	return true
}

// reclaim waits until until for a retry to take the ready record, then
// takes it back for the API; it reports whether the API must deliver.
func (e *engine) reclaim(key string, ready []byte, until time.Time) bool {
	ctx := context.Background()
	for e.waitChange(ctx, key, until) {
		if current, err := e.load(key); err == nil && !bytes.Equal(current, ready) {
			break // taken (or expired)
		}
	}
	for attempt := 0; attempt < storeAttempts; attempt++ {
		ok, err := e.swapBackground(key, ready, record{state: stateSent})
		if ok {
			return true
		}
		if err == nil {
			return false // a retry took it
		}
		// Unknown: if it is no longer ready, a retry took it.
		if current, err := e.load(key); err == nil && !bytes.Equal(current, ready) {
			return current == nil
		}
	}
	e.log.Error("dedup store failing during a hand-over; the late reply goes through the API and may reach the user twice", "key", e.logKey(key))
	return true
}

// setFinal records the end state of a delivery (best effort: if it fails,
// retries wait and answer success until the record expires). expected,
// when known, is the record's likely current value: usually the pending
// record this delivery added, which saves a read.
func (e *engine) setFinal(ctx context.Context, key string, expected []byte, final record) {
	if key == "" {
		return
	}
	if ctx.Err() != nil {
		ctx = context.Background() // the delivery is answered; finish the bookkeeping
	}
	// Within the delivery's deadline that is no new context.
	ctx, cancel := deadline.AtMost(ctx, storeTimeout)
	defer cancel()
	if expected != nil {
		if ok, _ := e.swap(ctx, key, expected, final); ok {
			return
		}
	}
	for range 8 {
		current, err := e.dedup.LoadDedup(ctx, key)
		if err != nil {
			e.log.Error("dedup record not updated", "key", e.logKey(key), "error", e.logKeyError(key, err))
			return
		}
		if current == nil {
			return
		}
		if ok, err := e.swap(ctx, key, current, final); ok || err != nil {
			return
		}
	}
	e.log.Error("dedup record not updated: too much contention", "key", e.logKey(key))
}

// swap is SwapDedup that logs failures and wakes local waiters.
func (e *engine) swap(ctx context.Context, key string, old []byte, rec record) (bool, error) {
	ok, err := e.dedup.SwapDedup(ctx, key, old, rec.encode(), e.ttl)
	if err != nil {
		e.log.Error("dedup store", "key", e.logKey(key), "error", e.logKeyError(key, err))
		return false, err
	}
	if ok {
		e.notify.broadcast(key)
	}
	return ok, nil
}

// swapBackground and load are the store calls of background work, each
// with its own timeout.
func (e *engine) swapBackground(key string, old []byte, rec record) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	return e.swap(ctx, key, old, rec)
}

func (e *engine) load(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	b, err := e.dedup.LoadDedup(ctx, key)
	if err != nil {
		e.log.Error("dedup store", "key", e.logKey(key), "error", e.logKeyError(key, err))
	}
	return b, err
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
	changed, release := e.notify.wait(key)
	defer release()
	select {
	case <-changed:
	case <-t.C:
	case <-ctx.Done():
		return false
	}
	return time.Now().Before(until)
}

// restSender returns the function that sends parts through the API, or
// nil when there are none. The work is counted now, before the answer
// leaves: a harness that calls Wait once it has the answer (bottest,
// luarobot test) must find the rest counted, not a moment later.
func (e *engine) restSender(openid string, parts []reply.Reply) func(background bool) {
	if len(parts) == 0 {
		return nil
	}
	run, ok := e.reserveWork("rest of a long text")
	if !ok {
		return func(bool) {
			e.log.Error("shutting down: the rest of a long text is dropped", "user", e.user(openid), "parts", len(parts))
		}
	}
	return func(background bool) {
		send := func() { e.sendRest(openid, parts) }
		if background {
			go run(send)
		} else {
			run(send)
		}
	}
}

// sendRest sends parts in order, stopping at the first failure (the
// following parts would read wrong without it), and returns how many it
// sent.
func (e *engine) sendRest(openid string, parts []reply.Reply) (sent int) {
	for i, p := range parts {
		if err := e.send(openid, p); err != nil {
			e.stats.failures.Add(1)
			e.log.Error("reply not delivered through the customer-service API", "user", e.user(openid), "part", i+1, "of", len(parts), "kind", p.Kind(), "error", err)
			return i
		}
	}
	return len(parts)
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

// wait blocks until the background work is done, or ctx ends.
func (e *engine) wait(ctx context.Context) error {
	return e.work.WaitContext(ctx)
}

// close refuses new deliveries and waits, until ctx ends, for the work
// still running.
func (e *engine) close(ctx context.Context) error {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.stopping)
	}
	e.mu.Unlock()
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
