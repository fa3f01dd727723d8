package cmd

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/luarobot/luarobot/admin"
	"github.com/luarobot/luarobot/store/memory"
)

// downStore is a store whose reads fail while down is set.
type downStore struct {
	*memory.Store
	down atomic.Bool
}

func (s *downStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return s.Store.Get(ctx, key)
}

// serve's /readyz: 503 naming each unmet condition — the bot's listener
// not open yet, the scripts not loaded, the store not answering, the host
// shutting down — and 200 when all hold. (admin's tests show how checks
// are answered; these are the checks serve gives it.)
func TestServeReadinessChecks(t *testing.T) {
	st := &downStore{Store: memory.New(memory.Options{})}
	defer st.Close()
	st.down.Store(true)
	var listening, loaded atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h, err := admin.New(admin.Options{Token: "readyzAdminToken1",
		Ready: readinessChecks(ctx, st, loaded.Load, listening.Load)})
	if err != nil {
		t.Fatal(err)
	}
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		do   func()
		code int
		want []string
	}{
		{func() {}, 503, []string{"host: starting", "scripts: not loaded yet", "store: dial tcp 127.0.0.1:6379: connect: connection refused"}},
		{func() { listening.Store(true); loaded.Store(true) }, 503, []string{"store: dial tcp"}},
		{func() { st.down.Store(false) }, 200, []string{"ok"}},
		{cancel, 503, []string{"host: shutting down"}},
	}
	for i, s := range steps {
		s.do()
		code, body := readyz()
		if code != s.code {
			t.Errorf("step %d: /readyz = %d %q, want %d", i, code, body, s.code)
		}
		for _, w := range s.want {
			if !strings.Contains(body, w) {
				t.Errorf("step %d: /readyz body %q lacks %q", i, body, w)
			}
		}
		if s.code == 503 && len(strings.Split(strings.TrimSpace(body), "\n")) != len(s.want)+1 {
			t.Errorf("step %d: /readyz body %q: want a line per unmet condition", i, body)
		}
	}
}
