// Package delivery carries, in a context, what the code that handles one
// WeChat delivery tells the host about it: which handler answered. The
// host puts an Info in the context it gives its Dispatcher; the Lua runtime
// calls SetHandler when a handler returns a reply; the host's delivery log
// line and metrics read it back. UserHash is how both name a user in logs. Code that does not know about it loses
// nothing: without an Info in the context, SetHandler does nothing.
package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
)

// Info is what is known about one delivery's handling. It is safe for
// concurrent use: a handler may still run (abandoned at its deadline) when
// the host reads it.
type Info struct {
	mu      sync.Mutex
	handler string
}

type infoKey struct{}

// NewContext returns a context carrying a new Info, and the Info.
func NewContext(ctx context.Context) (context.Context, *Info) {
	i := &Info{}
	return context.WithValue(ctx, infoKey{}, i), i
}

// SetHandler records where the handler that answered was defined
// ("hello.lua:12"). Without an Info in ctx it does nothing.
func SetHandler(ctx context.Context, where string) {
	if i, ok := ctx.Value(infoKey{}).(*Info); ok {
		i.mu.Lock()
		i.handler = where
		i.mu.Unlock()
	}
}

// Handler is what SetHandler recorded, "" when no handler answered.
func (i *Info) Handler() string {
	if i == nil {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.handler
}

// UserHash is the short stable hash logs give an openid unless
// log_user_ids: 8 hex digits of its SHA-256, enough to follow one user
// through a log without writing the openid. The host's lines and the Lua
// runtime's use it alike.
func UserHash(openid string) string {
	sum := sha256.Sum256([]byte(openid))
	return hex.EncodeToString(sum[:4])
}
