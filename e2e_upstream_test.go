package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := 0; i < 20; i++ {
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
	t.Logf("20 plain users answered while 20 handlers waited on the WeChat API; the slowest took %s", slowest)
	if n := len(wx.CallsTo("/cgi-bin/menu/get")); n != 20 {
		t.Errorf("%d calls reached the WeChat API, want 20", n)
	}
	waiters.Wait()
}
