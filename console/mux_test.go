package console_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/admin"
)

// newMux is the admin listener's handler, where serve mounts the console.
func newMux(t testing.TB, token string) *admin.Handler {
	t.Helper()
	h, err := admin.New(admin.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// recordingMux is the admin listener's handler, noting the patterns the
// console mounts on it.
type recordingMux struct {
	*admin.Handler
	patterns []string
}

func (m *recordingMux) Handle(pattern string, h http.Handler) {
	m.patterns = append(m.patterns, pattern)
	m.Handler.Handle(pattern, h)
}

// The API routes the console mounts are the design's, and each is in
// apiRoutes, the list the authentication tests walk: a route added
// without it would be served unchecked by them.
func TestAPIRoutesAreTheDesigns(t *testing.T) {
	e := newEnv(t)
	var mounted []string
	for _, p := range e.routes {
		if method, path, _ := strings.Cut(p, " "); strings.HasPrefix(path, "/api/") {
			mounted = append(mounted, method+" "+path)
		}
	}
	// DESIGN.md, "The console": its JSON API, all under /api/.
	design := []string{
		"GET /api/status", "POST /api/try", "GET /api/scripts", "GET /api/log", "GET /api/log/stream",
		"GET /api/sessions/{openid}", "DELETE /api/sessions/{openid}", "GET /api/inbox/{user}",
	}
	slices.Sort(mounted)
	slices.Sort(design)
	if !slices.Equal(mounted, design) {
		t.Errorf("mounted API routes %q,\nwant the design's %q", mounted, design)
	}
	listed := map[string]bool{}
	for _, r := range apiRoutes {
		listed[r.method+" "+r.path] = true
	}
	for _, p := range mounted {
		method, path, _ := strings.Cut(p, " ")
		path = strings.NewReplacer("{openid}", "console-me", "{user}", "me").Replace(path)
		if !listed[method+" "+path] {
			t.Errorf("%s is mounted but not in apiRoutes: the authentication tests skip it", p)
		}
	}
}
