package luaapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// writeScripts creates a scripts folder holding files (name → content;
// names may contain "/").
func writeScripts(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// logBuffer is a goroutine-safe log sink that tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// startRuntime loads files with opts (Dir and Logger filled in) and closes
// the runtime when the test ends.
func startRuntime(t testing.TB, files map[string]string, opts Options) (*Runtime, *logBuffer) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = writeScripts(t, files)
	}
	var logs *logBuffer
	if opts.Logger == nil {
		opts.Logger, logs = newTestLogger()
	}
	rt, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt, logs
}

var msgSeq atomic.Int64

func textMsg(content string) *message.Message {
	return &message.Message{
		Type: "text", Source: "user-openid", Target: "gh_robot", Time: 1700000000,
		MessageID: strconv.FormatInt(6000000000000000000+msgSeq.Add(1), 10),
		Raw:       []byte("<xml><Content>" + content + "</Content></xml>"),
		Fields:    []message.Field{{Name: "content", Value: content}},
	}
}

// field is a message field, for eventMsg.
func field(name string, v any) message.Field { return message.Field{Name: name, Value: v} }

func eventMsg(typ string, fields ...message.Field) *message.Message {
	m := &message.Message{Type: typ, Source: "user-openid", Target: "gh_robot", Time: 1700000000,
		Event: strings.ToUpper(strings.TrimSuffix(typ, "_event")), Raw: []byte("<xml/>"), Fields: fields}
	for _, f := range fields {
		if f.Name == "key" {
			m.EventKey, _ = f.Value.(string)
		}
	}
	return m
}

func dispatch(t testing.TB, rt *Runtime, msg *message.Message, session []byte) (reply.Reply, []byte) {
	t.Helper()
	r, s, err := rt.Dispatch(context.Background(), msg, session)
	if err != nil {
		t.Fatalf("Dispatch(%s): %v", msg.Type, err)
	}
	return r, s
}

// textOf returns the content of a text reply, or a description of r.
func textOf(r reply.Reply) string {
	if r == nil {
		return "<nil>"
	}
	if t, ok := r.(*reply.Text); ok {
		return t.Content
	}
	return "<" + r.Kind() + ">"
}

// memValues is a tiny store.Values for tests.
type memValues struct {
	mu sync.Mutex
	m  map[string]memValue
}

type memValue struct {
	data    []byte
	expires time.Time
}

func newMemValues() *memValues { return &memValues{m: map[string]memValue{}} }

func (s *memValues) Get(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok || (!v.expires.IsZero() && time.Now().After(v.expires)) {
		return nil, nil
	}
	return v.data, nil
}

func (s *memValues) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := memValue{data: append([]byte(nil), value...)}
	if ttl > 0 {
		v.expires = time.Now().Add(ttl)
	}
	s.m[key] = v
	return nil
}

func (s *memValues) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *memValues) Incr(_ context.Context, key string, n int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cur int64
	if v, ok := s.m[key]; ok {
		var err error
		cur, err = strconv.ParseInt(string(v.data), 10, 64)
		if err != nil {
			return 0, errors.New("value is not an integer")
		}
	}
	cur += n
	s.m[key] = memValue{data: []byte(strconv.FormatInt(cur, 10))}
	return cur, nil
}

// eventually polls cond until it holds or a generous deadline passes: the
// test machine may be slow, so no assertion depends on a short sleep.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// goListDir returns the folder of a module the build uses.
func goListDir(module string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	return strings.TrimSpace(string(out)), err
}
