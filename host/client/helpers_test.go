package client_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/store"
)

const (
	testAppID  = "wx1234567890"
	testSecret = "s3cret-app-secret"
)

// memTokens is a store.Tokens in memory that counts its operations, so that
// tests can share one between two Clients (a restart) and see what the
// Client did with it.
type memTokens struct {
	mu          sync.Mutex
	m           map[string]store.Token
	saves       int
	invalidates int
}

func newMemTokens() *memTokens { return &memTokens{m: map[string]store.Token{}} }

func (s *memTokens) LoadToken(_ context.Context, name string) (store.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[name]
	if !ok || !time.Now().Before(t.Expires) {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (s *memTokens) SaveToken(_ context.Context, name string, t store.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = t
	s.saves++
	return nil
}

func (s *memTokens) InvalidateToken(_ context.Context, name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidates++
	if s.m[name].Value == value {
		delete(s.m, name)
	}
	return nil
}

func (s *memTokens) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = map[string]store.Token{}
}

func (s *memTokens) get(name string) (store.Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[name]
	return t, ok
}

// syncBuffer collects log output from concurrent calls.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	wx     *fakewechat.Server
	c      *client.Client
	tokens *memTokens
	log    *syncBuffer
	opts   client.Options
}

// newEnv starts a fake WeChat and a Client pointed at it. edit adjusts the
// options before New.
func newEnv(t *testing.T, edit ...func(*client.Options)) *env {
	t.Helper()
	wx := fakewechat.New(testAppID, testSecret)
	t.Cleanup(wx.Close)
	e := &env{wx: wx, tokens: newMemTokens(), log: &syncBuffer{}}
	e.opts = client.Options{
		AppID:     testAppID,
		AppSecret: testSecret,
		APIBase:   wx.URL,
		Tokens:    e.tokens,
		Timeout:   5 * time.Second,
		MediaDir:  t.TempDir(),
		Logger:    slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range edit {
		f(&e.opts)
	}
	c, err := client.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

// restart builds a second Client on the same store and options, as a new
// process would.
func (e *env) restart(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var _ io.Writer = (*syncBuffer)(nil)
