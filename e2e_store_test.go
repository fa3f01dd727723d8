package main

// Process-level tests of the store promises: a reply never claims what was
// not stored (Redis killed under load, a full disk under bbolt), and a
// signed query authenticates one body across processes.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/host/wxcrypto"
)

const storeBusy = "系统繁忙，请稍后再试"

// redisProcess is a redis-server of the test's own whose append-only file
// is fsynced on every write: what it acknowledged survives kill -9, as in a
// production setup that cares about sessions.
type redisProcess struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedisProcess(t *testing.T) *redisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH (apt-get install redis-server); this test starts its own")
	}
	r := &redisProcess{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisProcess) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisProcess) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--loglevel", "warning")
	r.cmd.Dir = r.dir
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on port %d did not start: %v", r.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisProcess) kill() {
	select {
	case <-r.done:
	default:
		r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
}

// shown is what the user sees of an answer: the text of a text reply, or
// "success".
func shown(body []byte) string {
	if s := strings.TrimSpace(string(body)); s == "" || s == "success" {
		return "success"
	}
	var r struct{ MsgType, Content string }
	if err := xml.Unmarshal(body, &r); err != nil || r.MsgType != "text" {
		return "unexpected answer: " + string(body)
	}
	return r.Content
}

var e2eMsgID atomic.Int64

func init() { e2eMsgID.Store(time.Now().UnixNano() / 1000) }

// textFrom builds a text message from user with a new MsgId.
func textFrom(t *testing.T, user, content string) []byte {
	m, err := simulate.Build(simulate.Spec{Type: "text", From: user, Text: content, MsgID: strconv.FormatInt(e2eMsgID.Add(1), 10)})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := message.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// answer is one delivery as the user saw it.
type answer struct {
	at   time.Time
	text string
}

var countRE = regexp.MustCompile(`^count=(\d+)$`)

// TestRedisKilledUnderLoad: two host processes on one Redis, several users
// counting in their sessions with new messages as fast as they are
// answered; Redis is killed -9 and restarted. Every count a user was told
// must be stored (none told twice, none above what Redis holds), the outage
// is answered store_error_reply, and every user is answered again after the
// restart — no message dropped for a lease left from before it.
func TestRedisKilledUnderLoad(t *testing.T) {
	rd := startRedisProcess(t)
	flags := []string{"--session_storage", "redis", "--redis_url", rd.url(), "--store_error_reply", storeBusy}
	hosts := []*hostProcess{startHost(t, flags...), startHost(t, flags...)}

	// A signed query seen once authenticates one body, in both processes.
	genuine, forged := textFrom(t, "oReplay", "count"), textFrom(t, "oMallory", "count")
	q := signedQuery(e2eToken)
	if code, body := postWith(t, hosts[0].url, q, genuine); code != 200 || shown(body) != "count=1" {
		t.Fatalf("genuine message: %d %s", code, body)
	}
	if code, body := postWith(t, hosts[1].url, q, forged); code != http.StatusForbidden {
		t.Errorf("the seen query with a forged body, to the other process: %d %s, want 403", code, body)
	}

	const users = 6
	var (
		mu      sync.Mutex
		answers = map[string][]answer{}
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	for u := range users {
		user := fmt.Sprintf("oLoad%d", u)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sims := []e2eSim{hosts[0].simulator(t, false), hosts[1].simulator(t, false)}
			for i := 0; !stop.Load(); i++ {
				d := sims[i%2].Deliver(context.Background(), textFrom(t, user, "count"))
				text := shown(d.Body)
				if d.Err != nil || d.Status != 200 {
					text = fmt.Sprintf("delivery failed: %d %v %s", d.Status, d.Err, d.Body)
				}
				mu.Lock()
				answers[user] = append(answers[user], answer{time.Now(), text})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	rd.kill()
	killedAt := time.Now()
	time.Sleep(2 * time.Second)
	rd.start()
	restartedAt := time.Now()
	time.Sleep(4 * time.Second)
	stop.Store(true)
	wg.Wait()

	rc := goredis.NewClient(&goredis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", rd.port)})
	defer rc.Close()
	total, acked, busy := 0, 0, 0
	for u := range users {
		user := fmt.Sprintf("oLoad%d", u)
		last, afterRestart := 0, 0
		for _, a := range answers[user] {
			total++
			m := countRE.FindStringSubmatch(a.text)
			switch {
			case m != nil:
				n, _ := strconv.Atoi(m[1])
				if n <= last {
					t.Errorf("%s was told count=%d after count=%d: a write it was told about was lost", user, n, last)
				}
				last = n
				acked++
				if a.at.After(restartedAt) {
					afterRestart++
				}
			case a.text == storeBusy:
				busy++
			default:
				t.Errorf("%s got %q at %v (Redis killed at %v, restarted at %v)", user, a.text,
					a.at.Format("15:04:05.000"), killedAt.Format("15:04:05.000"), restartedAt.Format("15:04:05.000"))
			}
		}
		stored, err := rc.Get(context.Background(), "ws_"+user).Bytes()
		if err != nil {
			t.Fatalf("reading %s's session: %v", user, err)
		}
		var session struct{ N int }
		if err := json.Unmarshal(stored, &session); err != nil {
			t.Fatalf("%s's session %s: %v", user, stored, err)
		}
		if session.N < last {
			t.Errorf("%s was told count=%d, Redis holds %d", user, last, session.N)
		}
		if afterRestart == 0 {
			t.Errorf("%s was never answered a count after Redis came back", user)
		}
	}
	t.Logf("%d deliveries: %d counts acknowledged (all stored), %d answered %q during the outage", total, acked, busy, storeBusy)
	if busy == 0 {
		t.Error("no delivery met the outage: the test did not test it")
	}
	logs := hosts[0].log() + hosts[1].log()
	if strings.Contains(logs, "earlier messages of the user still running") {
		t.Error("a message was dropped for a user lease")
	}
	if !strings.Contains(logs, "the handlers did not run") && !strings.Contains(logs, "reply is withheld") {
		t.Error("the logs do not say why replies were withheld")
	}
}

// TestBoltDiskFull: bbolt on a disk that fills up (the file size capped
// with prlimit, so that writes fail as on a full disk). Every count the
// user was told is in the file, and none that was withheld; a restart with
// room again continues from the last count told.
func TestBoltDiskFull(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not on PATH")
	}
	db := filepath.Join(t.TempDir(), "luarobot.db")
	flags := []string{"--db", db, "--store_error_reply", storeBusy}
	p := startHostUnder(t, []string{prlimit, "--fsize=1500000"}, flags...)
	sim := p.simulator(t, false)
	last, busy := 0, 0
	for i := 0; i < 40; i++ {
		d := sim.Deliver(context.Background(), textFrom(t, "oFull", "grow"))
		if d.Err != nil || d.Status != 200 {
			t.Fatalf("delivery %d: %d %v %s", i, d.Status, d.Err, d.Body)
		}
		switch text := shown(d.Body); {
		case text == storeBusy:
			busy++
		case strings.HasPrefix(text, "grown="):
			n, _ := strconv.Atoi(strings.TrimPrefix(text, "grown="))
			if busy > 0 || n != last+1 {
				t.Errorf("told %s after grown=%d and %d withheld replies", text, last, busy)
			}
			last = n
		default:
			t.Fatalf("delivery %d: %q", i, text)
		}
	}
	if busy == 0 || last == 0 {
		t.Fatalf("%d counts told, %d withheld: the disk never filled (or never took a write)", last, busy)
	}
	t.Logf("%d counts told and stored, then %d replies withheld", last, busy)
	if l := p.log(); !strings.Contains(l, "session not saved; the handlers' reply is withheld") || !strings.Contains(l, "file too large") {
		t.Errorf("the log does not say why the replies were withheld:\n%s", l)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p.done <- nil // for Cleanup

	again := startHost(t, flags...)
	want := fmt.Sprintf("grown=%d", last+1)
	if got := shown(deliverOnce(t, again, textFrom(t, "oFull", "grow"))); got != want {
		t.Errorf("after a restart with room: %q, want %q (the last count told was %d)", got, want, last)
	}
}

func deliverOnce(t *testing.T, p *hostProcess, msg []byte) []byte {
	d := p.simulator(t, false).Deliver(context.Background(), msg)
	if d.Err != nil || d.Status != 200 {
		t.Fatalf("delivery: %d %v %s", d.Status, d.Err, d.Body)
	}
	return d.Body
}

// signedQuery signs a timestamp and nonce as WeChat does.
func signedQuery(token string) url.Values {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := strconv.FormatInt(e2eMsgID.Add(1), 10)
	return url.Values{"signature": {wxcrypto.Signature(token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
}

// postWith posts body under the query q, as someone who read q in a log.
func postWith(t *testing.T, hostURL string, q url.Values, body []byte) (int, []byte) {
	t.Helper()
	resp, err := http.Post(hostURL+"?"+q.Encode(), "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
