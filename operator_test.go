package main

// Process-level tests of the operator's plane: the admin listener of a
// running host, and luarobot doctor run beside it.

import (
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

func adminGet(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestAdminListenerOfARunningHost(t *testing.T) {
	p := startHost(t, "--db", filepath.Join(t.TempDir(), "luarobot.db"))
	if got := p.simulator(t, false).text("oOperator", "你好"); !strings.Contains(got, "echo: 你好") {
		t.Fatalf("reply: %s", got)
	}
	if code, body := adminGet(t, p.adminURL+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := adminGet(t, p.adminURL+"/readyz", ""); code != 200 || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if code, _ := adminGet(t, p.adminURL+"/metrics", ""); code != 401 {
		t.Errorf("/metrics without the token = %d", code)
	}
	code, body := adminGet(t, p.adminURL+"/metrics", e2eAdminToken)
	fams, err := metricstest.Parse(strings.NewReader(body))
	if code != 200 || err != nil {
		t.Fatalf("/metrics = %d %v", code, err)
	}
	if fams.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied") != 1 || fams.Value("luarobot_reloads_total", "result", "ok") != 1 {
		t.Errorf("metrics: %v %v", fams.Series("luarobot_deliveries_total"), fams.Series("luarobot_reloads_total"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.log(), "msg=delivery type=text") {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery line:\n%s", p.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(p.log(), "oOperator") {
		t.Errorf("the openid is in the log")
	}
}

// Beside a serving host, doctor does not wait for the bbolt file: it
// reports it in use and asks the host's /readyz.
func TestDoctorBesideARunningHost(t *testing.T) {
	db := filepath.Join(t.TempDir(), "luarobot.db")
	p := startHost(t, "--db", db)
	wx := fakewechat.New(e2eAppID, "e2e-secret")
	defer wx.Close()
	adminAddr := strings.TrimPrefix(p.adminURL, "http://")
	start := time.Now()
	out, err := exec.Command(binary, "doctor", "--db", db, "--admin_addr", adminAddr, "--scripts", "testdata/e2e",
		"--token", e2eToken, "--app_id", e2eAppID, "--app_secret", "e2e-secret", "--api_base", wx.URL).CombinedOutput()
	if err != nil {
		t.Errorf("doctor: %v\n%s", err, out)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("doctor took %v", elapsed)
	}
	want := "ok    store          bolt: " + db + " is in use by a serving host; its " + p.adminURL + "/readyz says ok"
	if !strings.Contains(string(out), want) {
		t.Errorf("doctor printed:\n%s\nwant a line %q", out, want)
	}
	if n := len(strings.Split(strings.TrimSpace(string(out)), "\n")); n != 6 {
		t.Errorf("%d lines, want one per check:\n%s", n, out)
	}
	// The host still serves: doctor took nothing from it.
	if got := p.simulator(t, false).text("oAfter", "still"); !strings.Contains(got, "echo: still") {
		t.Errorf("after doctor: %s", got)
	}
}
