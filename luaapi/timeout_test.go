package luaapi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/reply"
)

const shortTimeout = 300 * time.Millisecond

// luaStopped reports whether no goroutine runs Lua any more: the call that
// was stopped has really ended, it does not burn CPU in the background.
func luaStopped(rt *Runtime) bool {
	return rt.running.Load() == 0
}

// A handler that loops forever is stopped at handler_timeout: Dispatch
// returns an ErrTimeout error naming the line, the loop stops (its state
// comes back to the pool instead of burning CPU), and the state serves the
// next request.
func TestRunawayLoopIsStopped(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"loop.lua": `
robot.text(function(msg)
  if msg.content == "loop" then
    while true do end
  end
  if msg.content == "pcall" then
    -- pcall cannot swallow the deadline: the loop around it stops too.
    while true do pcall(function() while true do end end) end
  end
  if msg.content == "pattern" then
    -- A backtracking pattern that would run for hours.
    return tostring(string.find(string.rep("a", 200000), ".-.-.-.-b"))
  end
  return "alive"
end)`}, Options{PoolSize: 1, HandlerTimeout: shortTimeout})
	for _, in := range []string{"loop", "pcall", "pattern"} {
		start := time.Now()
		_, _, err := rt.Dispatch(context.Background(), textMsg(in), nil)
		took := time.Since(start)
		if !errors.Is(err, ErrTimeout) || !strings.HasPrefix(err.Error(), "loop.lua:") {
			t.Errorf("%s: err = %v, want ErrTimeout with the script's position", in, err)
		}
		if took < shortTimeout || took > shortTimeout+5*time.Second {
			t.Errorf("%s: Dispatch took %s with a %s timeout", in, took, shortTimeout)
		}
		eventually(t, in+" to stop running", func() bool { return luaStopped(rt) })
		if r, _ := dispatch(t, rt, textMsg("ok"), nil); textOf(r) != "alive" {
			t.Errorf("after %s: %q", in, textOf(r))
		}
	}
}

// Work that does not see the context (here a Go function that ignores it)
// cannot be stopped: Dispatch still returns at the deadline, the state is
// abandoned and replaced, and it is closed when the call finally returns.
func TestStuckGoCallAbandonsTheState(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		entered <- struct{}{}
		<-release // ignores ctx on purpose
		return nil
	}
	rt, logs := startRuntime(t, map[string]string{"stuck.lua": `
robot.text(function(msg)
  if msg.content == "stuck" then robot.send(msg.source, "hi") end
  return "alive"
end)`}, Options{PoolSize: 1, HandlerTimeout: shortTimeout, Send: send})
	defer close(release)

	start := time.Now()
	_, _, err := rt.Dispatch(context.Background(), textMsg("stuck"), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The error names the handler, and the Go call it is stuck in.
	if want := "stuck.lua:2: stopped: still running at handler_timeout (300ms), and the Lua call did not stop: " +
		"it is in robot.send (stuck.lua:3), which does not see the deadline; its Lua state is abandoned"; err.Error() != want {
		t.Errorf("err:\n got %v\nwant %s", err, want)
	}
	if took := time.Since(start); took > shortTimeout+5*time.Second {
		t.Errorf("Dispatch took %s", took)
	}
	<-entered
	// The pool had one state, now abandoned: a replacement serves.
	if r, _ := dispatch(t, rt, textMsg("ok"), nil); textOf(r) != "alive" {
		t.Errorf("after the stuck call: %q", textOf(r))
	}
	if !strings.Contains(logs.String(), "its state is discarded and replaced") {
		t.Errorf("no log line for the abandoned state:\n%s", logs)
	}
	release <- struct{}{}
	eventually(t, "the abandoned state to close", func() bool {
		return strings.Contains(logs.String(), "an abandoned Lua state has returned and is closed") && tokensBack(rt)
	})
}

// A top level that never ends fails the load at handler_timeout.
func TestRunawayTopLevel(t *testing.T) {
	dir := writeScripts(t, map[string]string{"forever.lua": "while true do end"})
	start := time.Now()
	_, err := New(Options{Dir: dir, HandlerTimeout: shortTimeout, Logger: discardLogger()})
	if !errors.Is(err, ErrTimeout) || !strings.HasPrefix(err.Error(), "forever.lua:") || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("err = %v", err)
	}
	if took := time.Since(start); took > shortTimeout+5*time.Second {
		t.Errorf("New took %s", took)
	}
}

// The caller's context stops the handlers too.
func TestCallerCancels(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"loop.lua": `robot.text(function() while true do end end)`}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	_, _, err := rt.Dispatch(ctx, textMsg("x"), nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "the request was cancelled") {
		t.Errorf("err = %v", err)
	}
}

// A call whose state is still being made when the deadline passes (a top
// level stuck in a Go call) is given up too, and nothing is left waiting:
// the state is given back when it is ready, and Close returns.
func TestStuckWhileMakingAState(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		<-release // ignores ctx on purpose
		return nil
	}
	values := newMemValues()
	dir := writeScripts(t, map[string]string{"boot.lua": `
-- The first state (made by New) boots fast; the next ones hang.
if robot.store.incr("boot") > 1 then robot.send("x", "top level") end
robot.text(function(msg)
  if msg.content == "hold" then robot.send(msg.source, "hold") end
  return "alive"
end)`})
	logger, _ := newTestLogger()
	rt, err := New(Options{Dir: dir, PoolSize: 2, HandlerTimeout: shortTimeout, Send: send, Values: values, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	// The one state is busy with "hold"; the next call must make a state.
	held := make(chan error, 1)
	go func() {
		_, _, err := rt.Dispatch(context.Background(), textMsg("hold"), nil)
		held <- err
	}()
	eventually(t, "the first call to hold its state", func() bool { return rt.running.Load() == 1 })
	_, _, err = rt.Dispatch(context.Background(), textMsg("x"), nil)
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if err := <-held; !errors.Is(err, ErrTimeout) {
		t.Errorf("the held call: %v", err)
	}
	unblock()
	closed := make(chan struct{})
	go func() { rt.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return: a call was left unaccounted for")
	}
	eventually(t, "every Lua call to end", func() bool { return luaStopped(rt) })
}

// Abandoned calls that are still running are bounded: at most PoolSize of
// them give their place back. With a handler stuck on every message in Go
// work that holds its pool slot (robot.stats here: it does not wait on
// the network), the next ones keep their slot, so new messages wait (and
// time out) instead of leaving one more runaway call each: at most
// 2*PoolSize Lua calls run. When the stuck calls return, the slots come
// back and the pool serves.
func TestAbandonedCallsAreBounded(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	stats := func() any {
		<-release // ignores the deadline on purpose
		return testStats{}
	}
	const timeout = 100 * time.Millisecond
	rt, logs := startRuntime(t, map[string]string{"stuck.lua": `
robot.text(function(msg)
  if msg.content == "stuck" then robot.stats() end
  return "alive"
end)`}, Options{PoolSize: 1, HandlerTimeout: timeout, Stats: stats})
	waited := 0
	for i := 0; i < 6; i++ {
		_, _, err := rt.Dispatch(context.Background(), textMsg("stuck"), nil)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("message %d: err = %v, want ErrTimeout", i, err)
		}
		if strings.Contains(err.Error(), "waiting for a free Lua state: all pool_size (1) are running Lua") {
			waited++
		}
		if n := rt.running.Load(); n > 2 {
			t.Fatalf("after message %d: %d Lua calls run at once with PoolSize 1", i, n)
		}
	}
	// Two stuck calls reach the bound; the four messages after them wait.
	// (Three, should making the second state take longer than the
	// deadline on a very slow machine.)
	if waited < 3 {
		t.Errorf("%d of 6 messages waited for a state, want 4: the stuck calls are not bounded", waited)
	}
	if !strings.Contains(logs.String(), "its state keeps its place in the pool until the call returns") {
		t.Errorf("no log line for the call over the bound:\n%s", logs)
	}
	unblock()
	eventually(t, "the stuck calls to return", func() bool {
		return luaStopped(rt) && rt.pool.abandonedRunning() == 0 && tokensBack(rt)
	})
	for i := 0; i < 3; i++ {
		if got := answer(t, rt, "ok"); got != "alive" {
			t.Fatalf("after the stuck calls returned: %q", got)
		}
	}
}

// Calls stuck in Go work that waits on the network but ignores the
// deadline (a robot.send whose transport hangs) have given their pool slot
// back; they still count against MaxStates. At most PoolSize of them give
// their place back when abandoned, the others keep it: with PoolSize 1
// and MaxStates 2, three stuck calls at most, then new messages wait for
// a state and time out saying why; plain messages are served again once
// the stuck calls return.
func TestAbandonedWaitingCallsAreBounded(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		<-release // ignores ctx on purpose
		return nil
	}
	const timeout = 100 * time.Millisecond
	rt, _ := startRuntime(t, map[string]string{"stuck.lua": `
robot.text(function(msg)
  if msg.content == "stuck" then robot.send(msg.source, "hi") end
  return "alive"
end)`}, Options{PoolSize: 1, MaxStates: 2, HandlerTimeout: timeout, Send: send})
	waited := 0
	for i := 0; i < 6; i++ {
		_, _, err := rt.Dispatch(context.Background(), textMsg("stuck"), nil)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("message %d: err = %v, want ErrTimeout", i, err)
		}
		if strings.Contains(err.Error(), "waiting for a free Lua state: all max_states (2) are in use, those waiting on the network included") {
			waited++
		}
		if n := rt.running.Load(); n > 3 {
			t.Fatalf("after message %d: %d Lua calls alive with PoolSize 1 and MaxStates 2", i, n)
		}
	}
	if waited < 2 {
		t.Errorf("%d of 6 messages waited for a state, want 3: the stuck calls are not bounded", waited)
	}
	if s := rt.States(); s.Running != 0 || s.Waiting != 0 {
		t.Errorf("States() = %+v: abandoned calls are counted as live states", s)
	}
	unblock()
	eventually(t, "the stuck calls to return", func() bool {
		return luaStopped(rt) && rt.pool.abandonedRunning() == 0 && tokensBack(rt)
	})
	for i := 0; i < 3; i++ {
		if got := answer(t, rt, "ok"); got != "alive" {
			t.Fatalf("after the stuck calls returned: %q", got)
		}
	}
}
