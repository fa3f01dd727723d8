package console_test

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// testMux stands in for the admin listener's handler until it lands.
type testMux struct {
	*http.ServeMux
	token string
	mu    sync.Mutex
	extra []func(*http.Request) bool
}

func newMux(t *testing.T, token string) *testMux {
	return &testMux{ServeMux: http.NewServeMux(), token: token}
}

func (m *testMux) AddAuthenticator(f func(*http.Request) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.extra = append(m.extra, f)
}

func (m *testMux) CheckToken(token string) bool {
	return subtle.ConstantTimeCompare([]byte(token), []byte(m.token)) == 1
}

func (m *testMux) Authenticated(r *http.Request) bool {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") && m.CheckToken(token) {
		return true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range m.extra {
		if f(r) {
			return true
		}
	}
	return false
}
