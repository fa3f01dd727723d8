package bottest

import (
	"context"
	"errors"
)

// A test's Lua state belongs to the test's goroutine, but the fakes whose
// answers a test writes as Lua functions (t.api:on, t.http:on) are asked
// from the bot's goroutines. The pump carries those calls over: while the
// test goroutine waits for the bot (a delivery, building the bot), it runs
// them one at a time; the asking goroutine waits for the result.
type pump struct {
	calls  chan func()
	closed chan struct{}
}

// errPumpClosed answers a fake asked after its test ended.
var errPumpClosed = errors.New("the test has ended")

func newPump() *pump {
	return &pump{calls: make(chan func()), closed: make(chan struct{})}
}

// do runs f on the test goroutine and returns when it has run, or when
// ctx ends or the test is over first.
func (p *pump) do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case p.calls <- func() { defer close(done); f() }:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closed:
		return errPumpClosed
	}
	<-done
	return nil
}

// run runs work on another goroutine and, until it returns, runs the
// calls that do hands over. It is called on the test goroutine. A panic
// in work is raised again here, where the test's Lua call catches it.
func (p *pump) run(work func()) {
	finished := make(chan struct{})
	var panicked any
	go func() {
		defer close(finished)
		defer func() { panicked = recover() }()
		work()
	}()
	for {
		select {
		case f := <-p.calls:
			f()
		case <-finished:
			if panicked != nil {
				panic(panicked)
			}
			return
		}
	}
}

// close refuses later calls.
func (p *pump) close() { close(p.closed) }
