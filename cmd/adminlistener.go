package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/luarobot/luarobot/admin"
	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store"
)

// generatedAdminTokenKey names, beside app.TokenKey, the admin token
// generated for a host started without admin_token.
const generatedAdminTokenKey = "luarobot:admin_token"

// adminListener is serve's admin listener (admin_addr): health, readiness
// and metrics. Its zero value (admin_addr = "off") does nothing.
type adminListener struct {
	metrics *metrics.Metrics // nil when off: nobody could scrape it
	handler *admin.Handler
	token   string // admin_token, configured or generated: the console redacts it
	url     string // where it listens, for the console's log line
	srv     *http.Server
	done    chan struct{}
}

// startAdmin listens on admin_addr and serves the admin handler. scripts
// reports whether the scripts are loaded and listening whether the bot's
// own listener is open, for /readyz. The error of an
// address in use names admin_addr, the key to change.
func startAdmin(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, scripts, listening func() bool) (*adminListener, error) {
	if cfg.AdminAddr == "off" {
		return &adminListener{}, nil
	}
	token := cfg.AdminToken
	if token == "" {
		var err error
		if token, err = app.StoredToken(ctx, st, generatedAdminTokenKey); err != nil {
			return nil, fmt.Errorf("admin_token: %w", err)
		}
		log.Warn("no admin_token configured; using a generated one for /metrics (set admin_token in luarobot.toml or LUAROBOT_ADMIN_TOKEN to choose)", "admin_token", token)
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("admin_addr %s: %w (is another luarobot running here? give each process its own admin_addr, or set admin_addr = \"off\")", cfg.AdminAddr, err)
	}
	m := metrics.New()
	h, err := admin.New(admin.Options{
		Token:   token,
		Metrics: m.Handler(),
		Ready:   readinessChecks(ctx, st, scripts, listening),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	a := &adminListener{
		metrics: m,
		handler: h,
		token:   token,
		url:     "http://" + ln.Addr().String() + "/",
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      time.Minute,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	log.Info("admin listening", "url", a.url, "endpoints", "/healthz /readyz /metrics, the console at /")
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "admin_addr", cfg.AdminAddr, "error", err)
		}
	}()
	return a, nil
}

// readinessChecks are /readyz's conditions: the bot's listener is open
// (start-up goes on after the scripts load: callback_ips may fetch
// WeChat's list first), the scripts are loaded, the store answers a read,
// and the host is not shutting down (ctx, serve's context, ends when it
// starts to): a load balancer stops sending while the requests in flight
// finish.
func readinessChecks(ctx context.Context, st store.Values, scripts, listening func() bool) []admin.Check {
	return []admin.Check{
		{Name: "host", Func: func(context.Context) error {
			switch {
			case ctx.Err() != nil:
				return errors.New("shutting down")
			case !listening():
				return errors.New("starting: the bot's listener is not open yet")
			}
			return nil
		}},
		{Name: "scripts", Func: func(context.Context) error {
			if !scripts() {
				return errors.New("not loaded yet")
			}
			return nil
		}},
		{Name: "store", Func: func(ctx context.Context) error {
			_, err := st.Get(ctx, "luarobot:readyz")
			return err
		}},
	}
}

// stop closes the listener at once: probes and scrapes are short, and a
// host shutting down is not ready anyway.
func (a *adminListener) stop() {
	if a.srv == nil {
		return
	}
	a.srv.Close()
	<-a.done
}
