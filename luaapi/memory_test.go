package luaapi

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/reply"
)

// withMemoryLimit sets Go's soft memory limit as serve does, for the test.
func withMemoryLimit(t *testing.T, limit int64) {
	old := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	runtime.GC()
	if h := readHeap(); h > uint64(limit)/2 {
		t.Skipf("the test process already holds %d MiB of heap", h>>20)
	}
}

// A call that grows memory without end (a string doubling; 16 MiB
// table.concat results kept in a table) is stopped when the Go heap passes
// MemoryLimit: its error names the line it was on, the log lists the
// calls stopped, its state is discarded with the memory it held, a call
// waiting on the network meanwhile is left alone, and the next message is
// answered.
func TestMemoryLimitStopsTheCall(t *testing.T) {
	const limit = 64 << 20
	withMemoryLimit(t, limit)
	release := make(chan struct{})
	send := func(ctx context.Context, openid string, r reply.Reply) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	rt, logs := startRuntime(t, map[string]string{"m.lua": `
local keep = {}
robot.text(function(msg)
  if msg.content == "double" then
    local s = "x"
    while true do s = s .. s end
  end
  if msg.content == "hoard" then
    local parts = {}
    for i = 1, 16 do parts[i] = string.rep("x", 1048576) end
    while true do keep[#keep + 1] = table.concat(parts) end
  end
  if msg.content == "pcall" then
    -- pcall cannot swallow the stop: every instruction after it stops too.
    local s = "x"
    while true do pcall(function() s = s .. s end) end
  end
  if msg.content == "wait" then
    robot.send(msg.source, "x")
    return "waited"
  end
  return "kept " .. #keep
end)`}, Options{PoolSize: 1, MemoryLimit: limit, HandlerTimeout: 20 * time.Second, Send: send})

	waited := make(chan string, 1)
	go func() { waited <- answer(t, rt, "wait") }()
	eventually(t, "a handler waiting on the network", func() bool { return rt.States().Waiting == 1 })

	for i, c := range []struct{ in, line string }{{"double", "m.lua:6: "}, {"hoard", "m.lua:11: "}, {"pcall", "m.lua:16: "}} {
		_, _, err := rt.Dispatch(context.Background(), textMsg(c.in), nil)
		if !errors.Is(err, ErrMemoryLimit) || !strings.HasPrefix(err.Error(), c.line+"stopped: the Go heap (") ||
			!strings.Contains(err.Error(), "passed lua_memory_limit (64MiB) while it ran; the 1 Lua call(s) running then were stopped") {
			t.Errorf("%s: err = %v, want ErrMemoryLimit at %s", c.in, err, c.line)
		}
		// Until then, the memory of the stopped call is in the heap.
		eventually(t, "the stopped call's memory to be collected", func() bool {
			return strings.Count(logs.String(), "the memory of the Lua calls stopped by lua_memory_limit is collected") == i+1
		})
	}
	log := logs.String()
	for _, want := range []string{
		`msg="the Go heap passed lua_memory_limit: the Lua calls running now are stopped and their states discarded"`,
		`lua_memory_limit=64MiB calls=m.lua:3`,
		`msg="a Lua call was stopped by lua_memory_limit; its state is discarded" err="m.lua:6: stopped: the Go heap`,
		`msg="a Lua call was stopped by lua_memory_limit; its state is discarded" err="m.lua:11: stopped: the Go heap`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, "m.lua:19") {
		t.Errorf("the waiting call was stopped:\n%s", log)
	}
	close(release)
	if got := <-waited; got != "waited" {
		t.Errorf("the call waiting on the network: %q", got)
	}
	// The hoarding state is gone: a state of its own would say "kept 3".
	if got := answer(t, rt, "count"); got != "kept 0" {
		t.Errorf("after the hoarding call was stopped: %q", got)
	}
	runtime.GC()
	if h := readHeap(); h > limit {
		t.Errorf("the heap holds %d MiB after the calls were stopped: their memory was not released", h>>20)
	}
}

// The top level of a script is watched too: a load that grows memory
// without end fails, naming the line.
func TestMemoryLimitAtLoad(t *testing.T) {
	const limit = 64 << 20
	withMemoryLimit(t, limit)
	dir := writeScripts(t, map[string]string{"top.lua": "local s = 'x'\nwhile true do s = s .. s end"})
	_, err := New(Options{Dir: dir, MemoryLimit: limit, Logger: discardLogger()})
	if !errors.Is(err, ErrMemoryLimit) || !strings.HasPrefix(err.Error(), "top.lua:2: stopped: the Go heap") {
		t.Errorf("err = %v", err)
	}
}

// A call that checks the heap while a stop is being made (by the sampler
// or by another call's check) is not let run on: it is stopped with the
// others. The stop raises the threshold once the calls are cancelled; had
// it raised it before, a call checking in between would find the heap
// under the raised threshold and make its next allocation (in the process
// test, the next `s = s .. s`, 256 MiB, past the address-space cap). Here
// the stop cancels two running calls; as it cancels the first, the second
// checks the heap, and must not come back with its call still running.
func TestMemoryStopLeavesNoCallRunning(t *testing.T) {
	w := newMemoryWatch(1<<10, discardLogger(), func() {}) // any heap is over a KiB
	w.near.Store(true)
	var calls [2]*watchedCall
	for i := range calls {
		inner, cancel := context.WithCancelCause(context.Background())
		t.Cleanup(func() { cancel(nil) })
		calls[i] = &watchedCall{Context: inner, w: w, cancel: cancel}
	}
	checked := make(chan (<-chan struct{}), 1)
	waited := false // the check waited for the stop to end
	for i, c := range calls {
		other, cancel := calls[1-i], c.cancel
		c.cancel = func(cause error) {
			cancel(cause)
			if other.Err() != nil {
				return // the other was cancelled first
			}
			// The other call's next instruction, while its cancel is
			// still to come.
			go func() { checked <- other.Done() }()
			select {
			case done := <-checked:
				select {
				case <-done:
				default:
					t.Error("a call checking the heap during a stop came back running, its cancel still to come")
				}
			case <-time.After(200 * time.Millisecond):
				waited = true // waiting for the stop to end, as it should
			}
		}
		w.calls[c] = struct{}{}
	}

	ev, ok := w.stop(readHeap())
	if !ok || len(ev.stopped) != 2 {
		t.Fatalf("stop = %d calls, %v; want both running calls", len(ev.stopped), ok)
	}
	for i, c := range calls {
		if !stoppedForMemory(c) {
			t.Errorf("call %d: not stopped for memory: %v", i, context.Cause(c))
		}
	}
	if waited {
		select {
		case done := <-checked:
			select {
			case <-done:
			default:
				t.Error("the call that checked the heap during the stop came back running")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the call that checked the heap during the stop never came back")
		}
	}
}

// The sampler reads the heap without allocating: with the heap over Go's
// soft memory limit, an allocation of its own could start a collection
// and make it wait for a Lua call's big copy to end.
func TestMemorySamplerReadDoesNotAllocate(t *testing.T) {
	heapNow := newHeapReader()
	if n := testing.AllocsPerRun(100, func() { heapNow.read() }); n != 0 {
		t.Errorf("reading the heap allocates %v times", n)
	}
}
