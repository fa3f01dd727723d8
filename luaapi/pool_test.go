package luaapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/reply"
)

// hangingAPI is a WeChat API whose token endpoint answers and whose other
// endpoints hang until release is closed (or the request is given up).
// entered counts the requests hanging.
type hangingAPI struct {
	*httptest.Server
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	entered int
}

func newHangingAPI(t *testing.T) *hangingAPI {
	a := &hangingAPI{release: make(chan struct{})}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cgi-bin/token" {
			fmt.Fprint(w, `{"access_token":"TOKEN","expires_in":7200}`)
			return
		}
		a.mu.Lock()
		a.entered++
		a.mu.Unlock()
		select {
		case <-a.release:
			fmt.Fprint(w, `{"menu":{"button":[]}}`)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { a.unblock(); a.Close() })
	return a
}

func (a *hangingAPI) unblock() { a.once.Do(func() { close(a.release) }) }

func (a *hangingAPI) hanging() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.entered
}

func (a *hangingAPI) client(t *testing.T) *client.Client {
	c, err := client.New(client.Options{AppID: "wxhang", AppSecret: "secret", APIBase: a.URL, Timeout: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// blockingValues is a store.Values whose calls wait for release (or the
// end of their context).
type blockingValues struct {
	*memValues
	release chan struct{}
}

func (b blockingValues) Incr(ctx context.Context, key string, n int64) (int64, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return b.memValues.Incr(ctx, key, n)
}

// tokensBack reports whether every token of the pool is free again: no
// call holds one, and none was lost on the way (a leak would shrink the
// pool for good).
func tokensBack(rt *Runtime) bool {
	p := rt.pool
	if !p.run.TryAcquire(int64(p.size)) {
		return false
	}
	p.run.Release(int64(p.size))
	if !p.states.TryAcquire(int64(p.maxStates)) {
		return false
	}
	p.states.Release(int64(p.maxStates))
	s := rt.States()
	return s.Running == 0 && s.Waiting == 0
}

// waitScripts has handlers that wait on each kind of network call, and a
// plain one.
const waitScripts = `
robot.text(function(msg)
  if msg.content == "client" then
    local menu, err = robot.client.get_menu()
    return "client " .. tostring(menu ~= nil)
  end
  if msg.content == "send" then
    local ok = robot.send(msg.source, "hi")
    return "send " .. tostring(ok)
  end
  if msg.content == "store" then
    return "store " .. robot.store.incr("n")
  end
  if msg.content == "busy" then
    while true do end
  end
  return "plain " .. msg.content
end)`

// With pool_size 2, 20 handlers waiting on the network (a hanging WeChat
// API, a customer-service send, the store) hold no slot: every plain
// message is answered while they wait, at most 2 states run Lua at once,
// and the waiting handlers finish when their upstream answers.
func TestWaitingCallsLeaveThePoolToOthers(t *testing.T) {
	api := newHangingAPI(t)
	release := make(chan struct{})
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rt, _ := startRuntime(t, map[string]string{"w.lua": waitScripts}, Options{PoolSize: 2, HandlerTimeout: 20 * time.Second,
		Client: api.client(t), Send: send, Values: blockingValues{newMemValues(), release}})
	if rt.opts.MaxStates != 256 {
		t.Errorf("MaxStates defaults to %d, want 256", rt.opts.MaxStates)
	}

	kinds := []string{"client", "send", "store"}
	answers := make(chan string, 20)
	for i := 0; i < 20; i++ {
		go func() {
			r, _, err := rt.Dispatch(context.Background(), textMsg(kinds[i%3]), nil)
			if err != nil {
				answers <- err.Error()
				return
			}
			answers <- textOf(r)
		}()
	}
	eventually(t, "20 handlers waiting on the network", func() bool { return rt.States().Waiting == 20 })
	eventually(t, "7 requests hanging at the WeChat API", func() bool { return api.hanging() == 7 })
	for i := 0; i < 20; i++ {
		want := fmt.Sprintf("plain %d", i)
		if got := answer(t, rt, fmt.Sprint(i)); got != want {
			t.Fatalf("a plain message while 20 handlers wait: %q, want %q", got, want)
		}
		if s := rt.States(); s.Running > 2 || s.Waiting != 20 {
			t.Fatalf("States() = %+v, want at most 2 running and 20 waiting", s)
		}
	}
	api.unblock()
	close(release)
	counts := map[string]int{}
	for i := 0; i < 20; i++ {
		got := <-answers
		counts[strings.Fields(got)[0]]++
		if !strings.HasSuffix(got, " true") && !strings.HasPrefix(got, "store ") {
			t.Errorf("a waiting handler answered %q", got)
		}
	}
	if counts["client"] != 7 || counts["send"] != 7 || counts["store"] != 6 {
		t.Errorf("answers by kind: %v", counts)
	}
	eventually(t, "the states to be idle", func() bool {
		s := rt.States()
		return tokensBack(rt) && s.Idle > 0 && s.Idle <= 2
	})
}

// MaxStates bounds the states alive, waiting ones included: once they are
// all in use, a new message waits for one, and fails with an error that
// says so when its deadline passes first; it is served as soon as a
// waiting handler returns its state.
func TestMaxStatesBoundsWaitingCalls(t *testing.T) {
	release := make(chan struct{})
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rt, _ := startRuntime(t, map[string]string{"w.lua": waitScripts},
		Options{PoolSize: 1, MaxStates: 3, HandlerTimeout: 20 * time.Second, Send: send})
	answers := make(chan string, 3)
	for i := 0; i < 3; i++ {
		go func() {
			r, _, err := rt.Dispatch(context.Background(), textMsg("send"), nil)
			if err != nil {
				answers <- err.Error()
				return
			}
			answers <- textOf(r)
		}()
	}
	eventually(t, "3 handlers waiting", func() bool { return rt.States().Waiting == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err := rt.Dispatch(ctx, textMsg("plain"), nil)
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(),
		"waiting for a free Lua state: all max_states (3) are in use, those waiting on the network included") {
		t.Errorf("a message with every state in use: %v", err)
	}

	// A message waiting for a state gets the first one given back.
	plain := make(chan string, 1)
	go func() { plain <- answer(t, rt, "late") }()
	time.Sleep(50 * time.Millisecond) // let it start waiting (either order passes)
	close(release)
	if got := <-plain; got != "plain late" {
		t.Errorf("the waiting message: %q", got)
	}
	for i := 0; i < 3; i++ {
		if got := <-answers; got != "send true" {
			t.Errorf("a waiting handler: %q", got)
		}
	}
	if s := rt.States(); s.Idle+s.Running+s.Waiting > 3 {
		t.Errorf("States() = %+v: more than MaxStates alive", s)
	}
	eventually(t, "every pool token to be back", func() bool { return tokensBack(rt) })
}

// A waiting handler must take a slot back before it returns to Lua: when
// the slot is busy past the handler's deadline, the handler fails with a
// timeout error that says what it was waiting for. And one whose deadline
// passes in the network call itself is stopped there, naming the call.
func TestDeadlineOfWaitingCalls(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		entered <- struct{}{}
		<-release // ignores ctx: it returns while its deadline still runs
		return nil
	}
	const timeout = 2 * time.Second
	rt, _ := startRuntime(t, map[string]string{"w.lua": waitScripts},
		Options{PoolSize: 1, HandlerTimeout: timeout, Send: send})

	waiting := make(chan error, 1)
	go func() {
		_, _, err := rt.Dispatch(context.Background(), textMsg("send"), nil)
		waiting <- err
	}()
	<-entered
	busy := make(chan error, 1)
	go func() {
		_, _, err := rt.Dispatch(context.Background(), textMsg("busy"), nil)
		busy <- err
	}()
	eventually(t, "the busy handler to hold the only slot", func() bool {
		s := rt.States()
		return s.Running == 1 && s.Waiting == 1
	})
	close(release) // the send returns; the busy loop holds the slot past its deadline
	err := <-waiting
	if want := "w.lua:8: stopped: still running at handler_timeout (waiting for a free Lua state to return to from robot.send)"; !errors.Is(err, ErrTimeout) || err == nil || err.Error() != want {
		t.Errorf("the waiting handler: %v\nwant %s", err, want)
	}
	if err := <-busy; !errors.Is(err, ErrTimeout) {
		t.Errorf("the busy handler: %v", err)
	}

	// The deadline passes in the network call.
	api := newHangingAPI(t)
	rt2, _ := startRuntime(t, map[string]string{"w.lua": waitScripts},
		Options{PoolSize: 1, HandlerTimeout: 300 * time.Millisecond, Client: api.client(t)})
	_, _, err = rt2.Dispatch(context.Background(), textMsg("client"), nil)
	if want := "w.lua:4: stopped: still running at handler_timeout (in robot.client.get_menu)"; !errors.Is(err, ErrTimeout) || err == nil || err.Error() != want {
		t.Errorf("a hanging robot.client call: %v\nwant %s", err, want)
	}
	if got := answer(t, rt2, "x"); got != "plain x" {
		t.Errorf("after: %q", got)
	}
	eventually(t, "every pool token to be back", func() bool { return tokensBack(rt) && tokensBack(rt2) })
}

// robot.async work of one message is bounded: 8 functions, those they
// queue included (the ninth raises an error naming the limit), sharing
// one handler_timeout (functions left when it is used up do not run, and
// the log says so).
func TestAsyncBounds(t *testing.T) {
	values := newMemValues()
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
robot.text(function(msg)
  if msg.content == "nine" then
    for i = 1, 8 do robot.async(function() end) end
    local ok, err = pcall(robot.async, function() end)
    return tostring(err)
  end
  if msg.content == "nested" then
    local function again()
      robot.store.incr("runs")
      robot.async(again)
    end
    robot.async(again)
    return "queued"
  end
  if msg.content == "loops" then
    for i = 1, 3 do robot.async(function() while true do end end) end
    return "looping"
  end
end)`}, Options{PoolSize: 1, HandlerTimeout: 500 * time.Millisecond, Values: values})

	if got := answer(t, rt, "nine"); got != "a.lua:5: robot.async: at most 8 functions per message, those queued by robot.async functions included" {
		t.Errorf("the ninth robot.async: %q", got)
	}

	if got := answer(t, rt, "nested"); got != "queued" {
		t.Fatal(got)
	}
	eventually(t, "the nested robot.async calls to end", func() bool {
		return strings.Contains(logs.String(), "at most 8 functions per message")
	})
	if runs, _ := values.Get(context.Background(), "runs"); string(runs) != "8" {
		t.Errorf("a function queueing itself ran %s times, want 8", runs)
	}

	if got := answer(t, rt, "loops"); got != "looping" {
		t.Fatal(got)
	}
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	eventually(t, "the looping functions to be given up", func() bool {
		return strings.Contains(logs.String(), `msg="robot.async functions not run: the message's robot.async work used up handler_timeout" handler_timeout=500ms not_run=2 first_queued_at=a.lua:17`)
	})
	if n := strings.Count(logs.String(), "stopped: still running at handler_timeout"); n != 1 {
		t.Errorf("%d looping functions were stopped, want 1 (the first used up the time of all three):\n%s", n, logs)
	}
	eventually(t, "the state to be free", func() bool { return luaStopped(rt) })
	if got := answer(t, rt, "nine"); !strings.Contains(got, "at most 8") {
		t.Errorf("the count starts again with each message: %q", got)
	}
}

// A Go panic in a binding that waits (here Options.Send) is an error the
// script sees, and the state takes its pool slot back first: after it,
// the slots are all there.
func TestPanicWhileWaiting(t *testing.T) {
	send := func(ctx context.Context, openid string, r reply.Reply) error { panic("send broke") }
	rt, _ := startRuntime(t, map[string]string{"p.lua": `
robot.text(function(msg)
  local ok, err = pcall(robot.send, msg.source, "x")
  return tostring(ok) .. " " .. tostring(err)
end)`}, Options{PoolSize: 1, Send: send})
	for i := 0; i < 3; i++ {
		if got := answer(t, rt, "x"); !strings.HasPrefix(got, "false ") || !strings.Contains(got, "send broke") {
			t.Fatalf("a panicking robot.send: %q", got)
		}
	}
	eventually(t, "every pool token to be back", func() bool { return tokensBack(rt) })
}

// A call that waits for a pool slot finds the state the call before it
// gave back: a state goes back to the idle ones before its slot is free.
// The other way round, the waiter woke up to an empty pool and made a new
// state — every script's top level run again, per-state caches lost —
// which the pool then closed for want of room: under contention states
// were made and thrown away all the time. With pool_size 1 the pool never
// needs a second state.
func TestBusyPoolReusesItsStates(t *testing.T) {
	rt, logs := startRuntime(t, map[string]string{"a.lua": `
print("a Lua state is made")
local served = 0
robot.text(function() served = served + 1 return tostring(served) end)`}, Options{PoolSize: 1})
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				answer(t, rt, "x")
			}
		}()
	}
	wg.Wait()
	if got := answer(t, rt, "x"); got != "801" {
		t.Errorf("the last of 801 messages was the state's message %s", got)
	}
	if n := strings.Count(logs.String(), "a Lua state is made"); n != 1 {
		t.Errorf("%d states were made for pool_size 1", n)
	}
}
