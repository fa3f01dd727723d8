package main

// Process-level tests: the luarobot binary serving real scripts, driven as
// WeChat drives it.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/store/storetest"
)

const (
	e2eToken  = "e2etoken"
	e2eAppID  = "wxe2e0000000000001"
	e2eAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

	e2eAdminToken = "e2eAdminToken0000"
)

var binary string // built once by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "luarobot-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "luarobot")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building luarobot:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hostProcess is a running `luarobot serve`.
type hostProcess struct {
	cmd      *exec.Cmd
	url      string
	adminURL string // the admin listener, http://127.0.0.1:PORT
	logs     *bytes.Buffer
	mu       *sync.Mutex
	done     chan error
}

type syncBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (s syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHost starts the binary with the e2e scripts and the given flags and
// waits until it answers WeChat's URL check.
func startHost(t *testing.T, flags ...string) *hostProcess {
	t.Helper()
	return startHostUnder(t, nil, flags...)
}

// startHostUnder is startHost with the binary run by a wrapper command
// (prlimit with its options, for instance).
func startHostUnder(t *testing.T, wrapper []string, flags ...string) *hostProcess {
	t.Helper()
	port, adminPort := freePort(t), freePort(t)
	// Each host gets its own admin listener: the default 127.0.0.1:8889
	// would be shared by every process of the machine.
	args := append([]string{"serve", "--port", strconv.Itoa(port), "--token", e2eToken, "--app_id", e2eAppID,
		"--scripts", "testdata/e2e", "--log_level", "debug",
		"--admin_addr", fmt.Sprintf("127.0.0.1:%d", adminPort), "--admin_token", e2eAdminToken}, flags...)
	cmd := exec.Command(binary, args...)
	if len(wrapper) > 0 {
		cmd = exec.Command(wrapper[0], append(append(wrapper[1:], binary), args...)...)
	}
	p := &hostProcess{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/", port),
		adminURL: fmt.Sprintf("http://127.0.0.1:%d", adminPort),
		logs:     new(bytes.Buffer), mu: new(sync.Mutex), done: make(chan error, 1)}
	p.cmd.Stdout = syncBuffer{p.mu, p.logs}
	p.cmd.Stderr = syncBuffer{p.mu, p.logs}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("host logs:\n%s", p.log())
		}
	})
	sim := p.simulator(t, false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-p.done:
			t.Fatalf("host exited: %v\n%s", err, p.log())
		default:
		}
		err := sim.Handshake(context.Background())
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("host did not start: %v\n%s", err, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *hostProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

type e2eSim struct {
	*simulate.Simulator
	t *testing.T
}

func (p *hostProcess) simulator(t *testing.T, aes bool) e2eSim {
	opts := simulate.Options{URL: p.url, Token: e2eToken, AppID: e2eAppID}
	if aes {
		opts.EncodingAESKey = e2eAESKey
	}
	s, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e2eSim{s, t}
}

// text sends a text message from user and returns the decoded answer.
func (s e2eSim) text(user, content string) string {
	s.t.Helper()
	m, err := simulate.Build(simulate.Spec{Type: "text", From: user, Text: content})
	if err != nil {
		s.t.Fatal(err)
	}
	raw, _ := message.Marshal(m)
	d := s.Deliver(context.Background(), raw)
	if d.Err != nil || d.Status != 200 {
		s.t.Fatalf("text %q: %d %v %s", content, d.Status, d.Err, d.Body)
	}
	return simulate.Describe(d.Body)
}

// TestSimulateCommand runs `luarobot simulate` against a real host process
// for a text, a click and a subscribe event, in plain and AES modes.
func TestSimulateCommand(t *testing.T) {
	for _, mode := range []string{"plain", "aes"} {
		t.Run(mode, func(t *testing.T) {
			flags := []string{"--session_storage", "memory"}
			if mode == "aes" {
				flags = append(flags, "--encoding_aes_key", e2eAESKey)
			}
			p := startHost(t, flags...)
			cases := []struct {
				args []string
				want string
			}{
				{[]string{"你好"}, "echo: 你好"},
				{[]string{"--type", "click", "--key", "music"}, "you clicked music"},
				{[]string{"--type", "subscribe", "--from", "oNewUser"}, "welcome oNewUser"},
				{[]string{"--retry", "2", "--retry-interval", "50ms", "once"}, "echo: once"},
			}
			for _, c := range cases {
				args := append([]string{"simulate", "--url", p.url, "--token", e2eToken, "--app_id", e2eAppID}, c.args...)
				if mode == "aes" {
					args = append(args[:len(args)-len(c.args)], append([]string{"--encoding_aes_key", e2eAESKey}, c.args...)...)
				}
				out, err := exec.Command(binary, args...).CombinedOutput()
				if err != nil {
					t.Errorf("simulate %v: %v\n%s", c.args, err, out)
					continue
				}
				if !strings.Contains(string(out), c.want) {
					t.Errorf("simulate %v printed:\n%s\nwant %q", c.args, out, c.want)
				}
				if mode == "aes" && !strings.Contains(string(out), "aes mode") {
					t.Errorf("simulate %v did not encrypt:\n%s", c.args, out)
				}
				if c.args[0] == "--retry" && strings.Count(string(out), c.want) != 3 {
					t.Errorf("retries were not all answered the same:\n%s", out)
				}
			}
		})
	}
}

// TestSessionSurvivesKill: a session change answered to the user is in the
// bbolt file even when the process is killed right after the reply.
func TestSessionSurvivesKill(t *testing.T) {
	db := filepath.Join(t.TempDir(), "luarobot.db")
	p := startHost(t, "--db", db)
	sim := p.simulator(t, false)
	if got := sim.text("oKill", "count"); !strings.Contains(got, "count=1") {
		t.Fatalf("first count: %s", got)
	}
	if got := sim.text("oKill", "count"); !strings.Contains(got, "count=2") {
		t.Fatalf("second count: %s", got)
	}
	if got := sim.text("oKill", "stats"); !strings.Contains(got, "deliveries=3 retries=0") {
		t.Errorf("robot.stats() in a real host: %s", got)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil // for Cleanup

	p2 := startHost(t, "--db", db)
	if got := p2.simulator(t, false).text("oKill", "count"); !strings.Contains(got, "count=3") {
		t.Errorf("after kill -9 and restart: %s, want count=3", got)
	}
}

// TestGracefulShutdown: SIGTERM while a slow handler runs; its request is
// answered, then the process exits cleanly.
func TestGracefulShutdown(t *testing.T) {
	p := startHost(t, "--session_storage", "memory")
	sim := p.simulator(t, false)
	answer := make(chan string, 1)
	go func() { answer <- sim.text("oSlow", "slow shutdown") }()
	time.Sleep(150 * time.Millisecond) // the handler is running
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case got := <-answer:
		if !strings.Contains(got, "slow shutdown runs=1") {
			t.Errorf("in-flight request answered %s", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight request not answered")
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("host did not exit after SIGTERM")
	}
	if !strings.Contains(p.log(), "msg=stopped deliveries=1") {
		t.Errorf("no counters at shutdown:\n%s", p.log())
	}
}

// TestTwoProcessesOneRedis: three concurrent deliveries of one MsgId to
// two host processes sharing a Redis run the handler once and get three
// identical answers.
func TestTwoProcessesOneRedis(t *testing.T) {
	redisURL := storetest.RedisURL(t) // skips (or fails under CI) without a server
	word := "w" + strconv.FormatInt(time.Now().UnixNano(), 36)
	flags := []string{"--session_storage", "redis", "--redis_url", redisURL, "--app_id", "wx" + word}
	a := startHost(t, flags...)
	b := startHost(t, flags...)
	m, err := simulate.Build(simulate.Spec{Type: "text", From: "o" + word, Text: "slow " + word})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := message.Marshal(m)
	var wg sync.WaitGroup
	answers := make([]string, 3)
	for i, p := range []*hostProcess{a, b, a} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := simulate.Options{URL: p.url, Token: e2eToken, AppID: "wx" + word}
			s, _ := simulate.New(opts)
			d := s.Deliver(context.Background(), raw)
			if d.Err != nil {
				answers[i] = d.Err.Error()
				return
			}
			answers[i] = simulate.Describe(d.Body)
		}()
	}
	wg.Wait()
	for i, ans := range answers {
		if !strings.Contains(ans, "slow "+word+" runs=1") {
			t.Errorf("delivery %d answered %q", i, ans)
		}
	}
}

// TestGeneratedTokenSurvivesRestart: a host started without a token makes
// one, prints it, and uses the same one after a restart (WeChat's console
// holds it).
func TestGeneratedTokenSurvivesRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "luarobot.db")
	token := func() string {
		port := freePort(t)
		cmd := exec.Command(binary, "serve", "--port", strconv.Itoa(port), "--db", db, "--scripts", "testdata/e2e", "--admin_addr", "off")
		var logs syncBuffer
		logs.mu, logs.buf = new(sync.Mutex), new(bytes.Buffer)
		cmd.Stderr = logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			logs.mu.Lock()
			out := logs.buf.String()
			logs.mu.Unlock()
			if _, after, ok := strings.Cut(out, "token="); ok && strings.Contains(out, "msg=serving") {
				tok, _, _ := strings.Cut(after, "\n")
				// The printed token is the one the host checks.
				sim, _ := simulate.New(simulate.Options{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Token: tok})
				if err := sim.Handshake(context.Background()); err != nil {
					t.Errorf("the printed token does not authenticate: %v", err)
				}
				return tok
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no generated token printed")
		return ""
	}
	first, second := token(), token()
	if len(first) != 32 || first != second {
		t.Errorf("generated tokens %q then %q: want one 32-character token kept across restarts", first, second)
	}
}
