package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

// TestSlowUpstreamDoesNotDelayOthers: a host with pool_size 2; twenty
// users whose handlers wait through robot.http on an upstream that answers
// only when the test ends, and, while they wait, twenty users whose
// handlers answer at once. Those are answered with their reply (not the
// "success" of a missed reply_timeout) while all twenty slow handlers
// still wait: a handler waiting on the network does not hold a pool slot.
// (If it did, only two handlers would reach the upstream at a time, and
// the test fails saying so.) The proof is in the order, not in a time:
// the upstream holds its requests for as long as the test needs, however
// slow the machine.
func TestSlowUpstreamDoesNotDelayOthers(t *testing.T) {
	const users = 20
	release := make(chan struct{})
	var waiting, peak atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := waiting.Add(1)
		defer waiting.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		fmt.Fprint(w, "slow answer")
	}))
	defer up.Close()
	t.Setenv("LUAROBOT_SETTINGS_UPSTREAM", up.URL)
	p := startHost(t, "--scripts", "testdata/e2e_http", "--session_storage", "memory",
		"--pool_size", "2", "--handler_timeout", "5m", "--http_allow", "127.0.0.1")
	sim := p.simulator(t, false)
	deliver := func(user, text string) string {
		m, err := simulate.Build(simulate.Spec{Type: "text", From: user, Text: text})
		if err != nil {
			return err.Error()
		}
		raw, _ := message.Marshal(m)
		d := sim.Deliver(context.Background(), raw)
		if d.Err != nil {
			return d.Err.Error()
		}
		return simulate.Describe(d.Body)
	}

	slow := make(chan string, users)
	for i := 0; i < users; i++ {
		go func() { slow <- deliver(fmt.Sprintf("oSlow%d", i), "slow") }()
	}
	defer func() {
		close(release)
		for i := 0; i < users; i++ {
			<-slow // "success": they missed reply_timeout, as they should
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for waiting.Load() < users {
		if time.Now().After(deadline) {
			t.Fatalf("at most %d of %d handlers reached the upstream at once with pool_size 2: a handler waiting in robot.http holds its pool slot (state.wait must give it back)", peak.Load(), users)
		}
		time.Sleep(20 * time.Millisecond)
	}

	type result struct {
		got  string
		took time.Duration
	}
	fast := make(chan result, users)
	for i := 0; i < users; i++ {
		go func() {
			start := time.Now()
			got := deliver(fmt.Sprintf("oFast%d", i), fmt.Sprint("hi ", i))
			fast <- result{got, time.Since(start)}
		}()
	}
	var slowest time.Duration
	for i := 0; i < users; i++ {
		r := <-fast
		if !strings.Contains(r.got, "fast hi ") {
			t.Errorf("a plain user was answered %q after %s while the slow handlers waited", r.got, r.took)
		}
		slowest = max(slowest, r.took)
	}
	if w := waiting.Load(); w != users {
		t.Errorf("%d slow handlers were still waiting when the plain users had their answers, want %d", w, users)
	}
	t.Logf("the slowest of %d plain users was answered in %s, with %d handlers waiting on the upstream", users, slowest, users)
}
