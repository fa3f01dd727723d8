package cmd

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/console"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/logring"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store"
)

// serveConsole is serve's share of the console (admin_addr, path /): the
// log ring behind the logger and the inbox behind the Sender are made
// first, the console last, once the host they show exists. Nil when
// admin_addr is off: then nothing is kept.
type serveConsole struct {
	cfg     *config.Config
	started time.Time
	ring    *logring.Ring
	inbox   *inbox.Inbox
	// The secrets the ring and the console redact: the configuration's
	// and the admin token (set once known), and the Client's credentials
	// of the moment.
	static atomic.Pointer[[]string]
	api    atomic.Pointer[client.Client]
}

// newServeConsole wraps log's handler with the console's log ring; it
// returns nil and log unchanged when admin_addr is off.
func newServeConsole(cfg *config.Config, log *slog.Logger) (*serveConsole, *slog.Logger) {
	if cfg.AdminAddr == "off" {
		return nil, log
	}
	sc := &serveConsole{cfg: cfg, started: time.Now(), inbox: inbox.New(inbox.Options{})}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	sc.ring = logring.New(logring.Options{Level: level, Secrets: sc.secrets})
	return sc, slog.New(sc.ring.Handler(log.Handler()))
}

func (sc *serveConsole) secrets() []string {
	var out []string
	if s := sc.static.Load(); s != nil {
		out = *s
	}
	if api := sc.api.Load(); api != nil {
		out = append(out[:len(out):len(out)], api.Secrets()...)
	}
	return out
}

// setSecrets records the secrets known once the tokens are (generated
// ones included) and the Client, if any, is made.
func (sc *serveConsole) setSecrets(adminToken string, api *client.Client) {
	if sc == nil {
		return
	}
	s := append(sc.cfg.SecretValues(), adminToken)
	sc.static.Store(&s)
	if api != nil {
		sc.api.Store(api)
	}
}

// wrapSender keeps the messages to console users for the console.
func (sc *serveConsole) wrapSender(send host.SendFunc) host.SendFunc {
	if sc == nil {
		return send
	}
	return sc.inbox.Wrap(send)
}

// mount adds the console to the admin listener; the returned function
// ends its streams at shutdown (before the listener stops).
func (sc *serveConsole) mount(adm *adminListener, h *host.Handler, rt *luaapi.Runtime, sessions store.Sessions, api *client.Client, log *slog.Logger) (stop func(), err error) {
	if sc == nil || adm.handler == nil {
		return func() {}, nil
	}
	opts := console.Options{
		Pipeline: h, Counters: h, Scripts: rt, Log: sc.ring, Inbox: sc.inbox,
		Sessions: sessions, Secrets: sc.secrets, Mode: "plain", Started: sc.started, Logger: log,
	}
	if sc.cfg.EncodingAESKey != "" {
		opts.Mode = "aes"
	}
	if api != nil {
		opts.Credentials = api
	}
	c, err := console.New(opts)
	if err != nil {
		return nil, err
	}
	c.Mount(adm.handler)
	log.Info("console ready: log in with the admin token", "url", adm.url)
	return c.Close, nil
}
