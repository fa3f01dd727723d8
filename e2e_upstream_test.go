package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
)

// deliverText sends a text message from user and returns the decoded
// answer and how long it took; unlike e2eSim.text it may be called from
// any goroutine.
func deliverText(sim e2eSim, user, content string) (string, time.Duration, error) {
	m, err := simulate.Build(simulate.Spec{Type: "text", From: user, Text: content})
	if err != nil {
		return "", 0, err
	}
	raw, _ := message.Marshal(m)
	d := sim.Deliver(context.Background(), raw)
	if d.Err == nil && d.Status != 200 {
		d.Err = fmt.Errorf("status %d: %s", d.Status, d.Body)
	}
	return simulate.Describe(d.Body), d.Elapsed, d.Err
}

// TestHangingWeChatAPI: with pool_size 2 and the WeChat API not answering,
// 20 users whose handlers call robot.client wait on it, and 20 users whose
// handlers do not are all answered with their passive reply (so within
// reply_timeout) while the 20 still wait.
func TestHangingWeChatAPI(t *testing.T) {
	wx := fakewechat.New(e2eAppID, "e2esecret")
	t.Cleanup(wx.Close) // after the host is stopped (cleanups run last first)
	wx.Delay("/cgi-bin/menu/get", time.Hour)
	const replyTimeout = 4 * time.Second
	p := startHost(t, "--session_storage", "memory", "--scripts", "testdata/upstream",
		"--app_secret", "e2esecret", "--api_base", wx.URL, "--api_timeout", "2m",
		"--pool_size", "2", "--reply_timeout", replyTimeout.String(), "--handler_timeout", "2m")
	sim := p.simulator(t, false)

	var waiters sync.WaitGroup
	for i := 0; i < 20; i++ {
		waiters.Add(1)
		go func() {
			defer waiters.Done()
			// Answered success at reply_timeout: the handler still waits.
			deliverText(sim, fmt.Sprintf("oApi%d", i), "menu")
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(wx.CallsTo("/cgi-bin/menu/get")) < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 handlers reached the WeChat API", len(wx.CallsTo("/cgi-bin/menu/get")))
		}
		time.Sleep(20 * time.Millisecond)
	}

	slowest := answerPlainUsers(t, sim, 20)
	t.Logf("20 plain users answered while 20 handlers waited on the WeChat API; the slowest took %s", slowest)
	if n := len(wx.CallsTo("/cgi-bin/menu/get")); n != 20 {
		t.Errorf("%d calls reached the WeChat API, want 20", n)
	}
	waiters.Wait()
}

// answerPlainUsers sends n users' texts at once to handlers that answer
// without touching any upstream, and checks that each gets its passive
// reply: answered before reply_timeout, not the "success" of a missed
// deadline. It returns the slowest answer's time, for the log (a speed
// assertion would be flaky on a shared machine; the passive reply is the
// user-visible bound).
func answerPlainUsers(t *testing.T, sim e2eSim, n int) time.Duration {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, took, err := deliverText(sim, fmt.Sprintf("oPlain%d", i), fmt.Sprint("hi", i))
			if want := fmt.Sprintf("plain hi%d", i); err != nil || !strings.Contains(got, want) {
				t.Errorf("plain user %d: %q (%v) after %s, want the passive reply %q", i, got, err, took, want)
			}
			mu.Lock()
			slowest = max(slowest, took)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return slowest
}

// TestFailingWeChatAPI: the other half of a WeChat outage — the API
// answers at once, but /cgi-bin/token fails (HTTP 500, bad JSON, a dropped
// connection), or grants tokens that the API then refuses with 40001. 20 users whose handlers call robot.client keep
// calling it; they are told the failure, and the host backs off its token
// fetches instead of asking again for every call (it asked 3,400 times in
// 20 s before). Meanwhile 20 users whose handlers do not call the API get
// their passive reply.
func TestFailingWeChatAPI(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(wx *fakewechat.Server)
	}{
		{"HTTP 500", func(wx *fakewechat.Server) { wx.SetFault("/cgi-bin/token", fakewechat.FaultHTTP500) }},
		{"bad JSON", func(wx *fakewechat.Server) { wx.SetFault("/cgi-bin/token", fakewechat.FaultBadJSON) }},
		{"connection dropped", func(wx *fakewechat.Server) { wx.SetFault("/cgi-bin/token", fakewechat.FaultDisconnect) }},
		// Tokens are granted, and every one is refused with 40001 (an
		// AppSecret reset elsewhere): 2,186 grants in 20 s before.
		{"40001 on fresh tokens", func(wx *fakewechat.Server) { wx.RejectTokens(true) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			wx := fakewechat.New(e2eAppID, "e2esecret")
			t.Cleanup(wx.Close)
			c.break_(wx)
			p := startHost(t, "--session_storage", "memory", "--scripts", "testdata/upstream",
				"--app_secret", "e2esecret", "--api_base", wx.URL, "--pool_size", "2")
			sim := p.simulator(t, false)

			// The API users call it over and over, for a few seconds: long
			// enough for a host without back-off to ask for hundreds of tokens.
			var callers sync.WaitGroup
			var calls atomic.Int64
			stop := time.Now().Add(3 * time.Second)
			for i := 0; i < 20; i++ {
				callers.Add(1)
				go func() {
					defer callers.Done()
					for time.Now().Before(stop) {
						got, _, err := deliverText(sim, fmt.Sprintf("oApi%d", i), "menu")
						if err != nil || !strings.Contains(got, "menu failed: ") {
							t.Errorf("an API user with /cgi-bin/token failing: %q (%v), want the failure", got, err)
							return
						}
						calls.Add(1)
					}
				}()
			}
			slowest := answerPlainUsers(t, sim, 20)
			callers.Wait()

			// Back-off from 1 s doubling: attempts at 0, 1, 3, 7, 15, 31 s...
			// — a handful however slow the machine makes the window; without
			// back-off, one per call.
			fetches := len(wx.CallsTo("/cgi-bin/token"))
			t.Logf("%d robot.client calls, %d token requests; 20 plain users answered meanwhile, the slowest in %s", calls.Load(), fetches, slowest)
			if calls.Load() < 40 {
				t.Fatalf("only %d robot.client calls were made: the test did not press the token endpoint", calls.Load())
			}
			if fetches == 0 || fetches > 10 {
				t.Errorf("%d token requests for %d calls with /cgi-bin/token failing, want a few (back-off from 1 s)", fetches, calls.Load())
			}
			if !strings.Contains(p.log(), "backing off") {
				t.Errorf("the log does not say the token fetches back off:\n%s", p.log())
			}
		})
	}
}
