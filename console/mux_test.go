package console_test

import (
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
