package redis_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/store/redis"
)

// loadingServer speaks enough RESP to be a Redis server that answers
// LOADING to every command until loaded is set: a server started on a
// large dump. It counts the LOADING answers.
type loadingServer struct {
	l        net.Listener
	loaded   atomic.Bool
	refusals atomic.Int64
	wg       sync.WaitGroup
}

func newLoadingServer(t *testing.T) *loadingServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &loadingServer{l: l}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		l.Close()
		s.wg.Wait()
	})
	return s
}

func (s *loadingServer) url() string { return "redis://" + s.l.Addr().String() + "/0" }

func (s *loadingServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			r := bufio.NewReader(c)
			for {
				cmd, err := readCommand(r)
				if err != nil {
					return
				}
				var reply string
				switch {
				case !s.loaded.Load():
					s.refusals.Add(1)
					reply = "-LOADING Redis is loading the dataset in memory\r\n"
				case cmd == "HELLO":
					reply = "-ERR unknown command 'HELLO'\r\n" // go-redis falls back to RESP2
				case cmd == "PING":
					reply = "+PONG\r\n"
				default:
					reply = "+OK\r\n"
				}
				if _, err := io.WriteString(c, reply); err != nil {
					return
				}
			}
		}()
	}
}

// readCommand reads one RESP array of bulk strings and returns its first
// element, upper-cased.
func readCommand(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "*") {
		return "", fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return "", err
	}
	var name string
	for i := 0; i < n; i++ {
		head, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		size, err := strconv.Atoi(strings.TrimSpace(head[1:]))
		if err != nil {
			return "", err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if i == 0 {
			name = strings.ToUpper(string(buf[:size]))
		}
	}
	return name, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOpenWaitsWhileLoading: a host started while Redis is still loading
// its dataset waits, with a logged back-off, instead of exiting.
func TestOpenWaitsWhileLoading(t *testing.T) {
	srv := newLoadingServer(t)
	var logs lockedBuffer
	go func() {
		time.Sleep(time.Second)
		srv.loaded.Store(true)
	}()
	s, err := redis.Open(redis.Options{URL: srv.url(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open while the server loads: %v", err)
	}
	s.Close()
	if srv.refusals.Load() < 2 {
		t.Errorf("%d LOADING answers: Open did not retry", srv.refusals.Load())
	}
	l := logs.String()
	if !strings.Contains(l, "redis is loading its dataset; waiting") || !strings.Contains(l, "retry_in=") || !strings.Contains(l, "finished loading") {
		t.Errorf("the wait is not logged:\n%s", l)
	}
	// The back-off: a handful of attempts in a second, not hundreds.
	if n := strings.Count(l, "waiting"); n > 8 {
		t.Errorf("%d attempts in a second of loading", n)
	}
}

// TestOpenGivesUpLoading: the wait is bounded, and ends with the context
// (SIGTERM while waiting).
func TestOpenGivesUpLoading(t *testing.T) {
	srv := newLoadingServer(t)
	start := time.Now()
	_, err := redis.Open(redis.Options{URL: srv.url(), LoadingTimeout: 500 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "still loading its dataset after 500ms") || !strings.Contains(err.Error(), "LOADING") {
		t.Errorf("Open of a server that keeps loading: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("gave up after %v with a 500ms bound", took)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	_, err = redis.OpenContext(ctx, redis.Options{URL: srv.url()})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("OpenContext cancelled while waiting: %v", err)
	}
}
