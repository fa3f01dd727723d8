package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/wxcrypto"
)

// TestCallbackIPsProcess: luarobot serve with callback_ips = wechat plus
// the local proxy, behind that proxy: WeChat's addresses (fetched from the
// API) get through, anyone else gets 403, a forged X-Forwarded-For in front
// does not help. The list is kept in the store: a restart while WeChat's
// API fails still starts; without a stored list, start-up stops.
func TestCallbackIPsProcess(t *testing.T) {
	wx := fakewechat.New(e2eAppID, "e2esecret")
	defer wx.Close()
	db := filepath.Join(t.TempDir(), "luarobot.db")
	flags := []string{"--db", db, "--app_secret", "e2esecret", "--api_base", wx.URL,
		"--callback_ips", "wechat,127.0.0.1", "--trusted_proxies", "127.0.0.1"}
	p := startHost(t, flags...)

	get := func(p *hostProcess, xff string) (int, string) {
		t.Helper()
		q := url.Values{"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "nonce": {"n"}, "echostr": {"hello"}}
		q.Set("signature", wxcrypto.Signature(e2eToken, q.Get("timestamp"), q.Get("nonce")))
		req, _ := http.NewRequestWithContext(context.Background(), "GET", p.url+"?"+q.Encode(), nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, c := range []struct {
		xff    string
		status int
	}{
		{"101.226.62.77", 200},
		{"8.8.8.8", 403},
		{"101.226.62.77, 8.8.8.8", 403},
		{"8.8.8.8, 101.226.62.78", 200},
	} {
		if status, body := get(p, c.xff); status != c.status {
			t.Errorf("X-Forwarded-For %q: %d %s, want %d", c.xff, status, body, c.status)
		}
	}
	if !strings.Contains(p.log(), "reason=callback_ip") {
		t.Errorf("no refusal logged with its reason:\n%s", p.log())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.done <- nil // for Cleanup

	// WeChat's API now fails; the stored list (younger than a day) serves.
	wx.Answer("/cgi-bin/getcallbackip", map[string]any{"errcode": 48001, "errmsg": "api unauthorized"})
	p2 := startHost(t, flags...)
	if status, body := get(p2, "101.226.62.77"); status != 200 {
		t.Errorf("after a restart with the stored list: %d %s", status, body)
	}

	// A fresh store and a failing API: no list to be had, no start.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "serve", "--port", strconv.Itoa(freePort(t)), "--token", e2eToken,
		"--app_id", e2eAppID, "--scripts", "testdata/e2e", "--db", filepath.Join(t.TempDir(), "fresh.db"),
		"--app_secret", "e2esecret", "--api_base", wx.URL, "--callback_ips", "wechat", "--admin_addr", "off").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `callback_ips: "wechat"`) || !strings.Contains(string(out), "48001") {
		t.Errorf("start-up without a list: %v\n%s", err, out)
	}
}
