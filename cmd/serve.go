package cmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/memory"
	"github.com/luarobot/luarobot/store/storeopen"
)

// shutdownTimeout bounds the graceful stop: requests in flight, handlers
// and late replies still running.
const shutdownTimeout = 35 * time.Second

// generatedTokenKey names, among the cached credentials, the token generated
// for a host started without one, so that it survives restarts (WeChat's
// console holds it).
const generatedTokenKey = "luarobot:callback_token"

// loadConfig parses the flags shared by serve and simulate: --config and a
// --<key> per configuration key, after the command's own flags.
func loadConfig(fs *flag.FlagSet, args []string) (config.Config, error) {
	configFile := fs.String("config", "", "TOML configuration file (default luarobot.toml when it exists)")
	setFlags := config.RegisterFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return config.Config{}, err
	}
	l := config.Loader{File: *configFile, FileExplicit: *configFile != "", Env: os.Environ(), Flags: setFlags()}
	if l.File == "" {
		l.File = config.DefaultFile
	}
	return l.Load()
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serveCommand(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg, err := loadConfig(fs, args)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q (configuration goes in --<key> flags)", fs.Arg(0))}
	}
	log := newLogger(cfg, os.Stderr)
	slog.SetDefault(log)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log, nil)
}

// serve runs the host until ctx ends. ready, when not nil, receives the
// listening address (tests).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- string) (err error) {
	// The console's log ring sees every line from here on (console.go).
	cons, log := newServeConsole(&cfg, log)
	st, err := storeopen.OpenContext(ctx, store.Options{
		Kind:       cfg.SessionStorage,
		Path:       cfg.DB,
		RedisURL:   cfg.RedisURL,
		SessionTTL: cfg.SessionTTL,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()

	if cfg.Token == "" {
		if cfg.Token, err = generatedToken(ctx, st, generatedTokenKey); err != nil {
			return err
		}
		log.Warn("no token configured; using a generated one (set token in luarobot.toml or LUAROBOT_TOKEN to choose)", "token", cfg.Token)
	}

	// The admin listener starts before the scripts load: /healthz answers
	// at once, /readyz says "loading" until they are, and an admin_addr
	// in use stops start-up before any work is done.
	var scriptsLoaded, listening atomic.Bool
	adm, err := startAdmin(ctx, cfg, st, log, scriptsLoaded.Load, listening.Load)
	if err != nil {
		return err
	}
	defer adm.stop()

	var api *client.Client
	if cfg.AppID != "" && cfg.AppSecret != "" {
		api, err = client.New(client.Options{
			AppID:          cfg.AppID,
			AppSecret:      cfg.AppSecret,
			APIBase:        cfg.APIBase,
			UseStableToken: cfg.UseStableToken,
			Tokens:         st,
			Timeout:        cfg.APITimeout,
			ProxyURL:       cfg.APIProxy,
			MediaDir:       cfg.MediaDir,
			// A download must never become a script that hot reload runs.
			ForbiddenDirs: []string{cfg.Scripts},
			Logger:        log,
			Metrics:       adm.metrics,
		})
		if err != nil {
			return err
		}
	} else {
		log.Info("app_id/app_secret not configured: robot.client and replies after the deadline are unavailable")
	}
	var send host.SendFunc
	if api != nil {
		send = api.SendReply
	}
	// Console users' messages stay in the console.
	send = cons.wrapSender(send)
	cons.setSecrets(adm.token, api)

	// robot.stats() reads the handler's counters; the handler is made
	// after the runtime (it dispatches to it), hence the indirection.
	var handler atomic.Pointer[host.Handler]
	stats := func() any {
		if h := handler.Load(); h != nil {
			return h.Stats()
		}
		return host.Stats{}
	}
	setGoMemoryLimit(cfg.LuaMemoryLimit, log)
	rt, err := luaapi.New(luaapi.Options{
		Dir:            cfg.Scripts,
		PoolSize:       cfg.PoolSize,
		MaxStates:      cfg.MaxStates,
		MemoryLimit:    cfg.LuaMemoryLimit,
		HandlerTimeout: cfg.HandlerTimeout,
		LoadTimeout:    cfg.LoadTimeout,
		Config:         cfg.Public(),
		Client:         api,
		Values:         st,
		Send:           robotSend(send, cfg.MaxReplyParts, log),
		Stats:          stats,
		Logger:         log,
		Metrics:        adm.metrics,
		LogUserIDs:     cfg.LogUserIDs,
		// No sessions to carry dialog records: they stay in memory.
		DialogMemory: cfg.SessionStorage == store.KindOff,
		Settings:     cfg.Settings,
		HTTPAllow:    cfg.HTTPAllow,
		HTTPTimeout:  cfg.HTTPTimeout,
		HTTPMaxBody:  cfg.HTTPMaxBody,
		HTTPProxy:    cfg.HTTPProxy,
		HTTPObserver: adm.metrics.HTTPRequest,
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	scriptsLoaded.Store(true)
	adm.metrics.SetLuaStates(func() metrics.LuaStates {
		s := rt.States()
		return metrics.LuaStates{Idle: s.Idle, Running: s.Running, Waiting: s.Waiting}
	})
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		if err := rt.Watch(watchCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("hot reload stopped; restart to pick up script changes", "error", err)
		}
	}()

	// Deliveries are deduplicated through Redis when processes share one;
	// otherwise in memory, which a single process needs no fsync for.
	var dedup store.Dedup = memory.New(memory.Options{})
	if cfg.SessionStorage == store.KindRedis {
		dedup = st
	}
	var sessions store.Sessions = st
	if cfg.SessionStorage == store.KindOff {
		sessions = nil
	}
	callers, err := callbackCallers(ctx, cfg, api, st, log)
	if err != nil {
		return err
	}
	if callers != nil {
		// The daily refresh of WeChat's list ends before the store closes.
		refreshCtx, stopRefresh := context.WithCancel(ctx)
		refreshed := make(chan struct{})
		go func() { defer close(refreshed); callers.Run(refreshCtx) }()
		defer func() { stopRefresh(); <-refreshed }()
	}

	h, err := host.New(host.Options{
		Token:          cfg.Token,
		AppID:          cfg.AppID,
		EncodingAESKey: cfg.EncodingAESKey,
		// During a key rotation in the admin console, the old key still opens
		// messages; each reply goes back under its request's key.
		EncodingAESKeyPrevious: cfg.EncodingAESKeyPrevious,
		Dispatcher:             rt,
		Sessions:               sessions,
		Dedup:                  dedup,
		SharedStore:            cfg.SessionStorage == store.KindRedis,
		Sender:                 send,
		ReplyTimeout:           cfg.ReplyTimeout,
		HandlerTimeout:         cfg.HandlerTimeout,
		TimestampTolerance:     toleranceOption(cfg.TimestampTolerance),
		MaxBody:                cfg.MaxBody,
		Callers:                callers,
		RefusePlaintext:        !cfg.AcceptPlaintext,
		StoreErrorReply:        cfg.StoreErrorReply,
		MaxReplyParts:          cfg.MaxReplyParts,
		Logger:                 log,
		Metrics:                adm.metrics,
		OnRefused:              adm.metrics.Refused,
		LogUserIDs:             cfg.LogUserIDs,
	})
	if err != nil {
		return err
	}
	handler.Store(h)
	stopConsole, err := cons.mount(adm, h, rt, sessions, api, log)
	if err != nil {
		return err
	}
	defer stopConsole()

	mux := http.NewServeMux()
	mux.Handle(cfg.Path, h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		return fmt.Errorf("listen on %s (host, port): %w", cfg.Addr(), err)
	}
	mode := "plain"
	if cfg.EncodingAESKey != "" {
		mode = "aes"
	}
	log.Info("serving", "url", "http://"+ln.Addr().String()+cfg.Path, "scripts", cfg.Scripts, "store", cfg.SessionStorage, "mode", mode)
	if ready != nil {
		ready <- ln.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	listening.Store(true) // connections queue on ln from here

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("requests still in flight at shutdown", "error", err)
	}
	if err := h.Close(sctx); err != nil {
		log.Error("replies still being delivered at shutdown", "error", err)
	}
	s := h.Stats()
	log.Info("stopped", "deliveries", s.Deliveries, "retries", s.Retries, "late_replies", s.Late, "api_sends", s.APISends, "failures", s.Failures)
	return nil
}

// callbackCallers builds the callback IP allowlist from callback_ips and
// trusted_proxies; nil (anyone may call) when callback_ips is empty. With
// "wechat" it fetches WeChat's list now, or stops start-up when there is
// none to be had.
func callbackCallers(ctx context.Context, cfg config.Config, api *client.Client, st store.Tokens, log *slog.Logger) (*host.Callers, error) {
	if len(cfg.CallbackIPs) == 0 {
		if len(cfg.TrustedProxies) > 0 {
			log.Warn("trusted_proxies has no effect without callback_ips")
		}
		return nil, nil
	}
	opts := host.CallersOptions{Allow: cfg.CallbackIPs, TrustedProxies: cfg.TrustedProxies, Store: st, Logger: log}
	if api != nil {
		opts.FetchWeChatIPs = api.CallbackIPs
	}
	callers, err := host.NewCallers(ctx, opts)
	if err != nil {
		return nil, err
	}
	wechat, fetched := callers.WeChatIPs()
	log.Info("callback_ips: only these callers are answered", "allow", cfg.CallbackIPs,
		"trusted_proxies", cfg.TrustedProxies, "wechat_addresses", len(wechat), "wechat_list_fetched", fetched)
	return callers, nil
}

// toleranceOption maps the config's "0 disables" onto host.Options, where
// 0 means the default.
func toleranceOption(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// robotSend is robot.send: the reply through the customer-service API,
// long texts split and capped at max_reply_parts as the reply engine does.
func robotSend(send host.SendFunc, maxParts int, log *slog.Logger) func(ctx context.Context, openid string, r reply.Reply) error {
	if send == nil {
		return nil
	}
	return func(ctx context.Context, openid string, r reply.Reply) error {
		return host.SendSplit(ctx, send, openid, r, maxParts, log)
	}
}

// generatedToken returns the token kept in the store under key, making one
// the first time: the callback token and the admin token of a host started
// without them. They live with the access tokens, where scripts cannot
// reach them (robot.store can).
func generatedToken(ctx context.Context, st store.Tokens, key string) (string, error) {
	t, err := st.LoadToken(ctx, key)
	if err == nil && t.Value != "" {
		return t.Value, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("reading the generated token: %w", err)
	}
	token := luaapi.GenerateToken(32)
	if err := st.SaveToken(ctx, key, store.Token{Value: token}); err != nil {
		return "", fmt.Errorf("saving the generated token: %w", err)
	}
	return token, nil
}

// setGoMemoryLimit sets Go's soft memory limit to lua_memory_limit, unless
// the operator set GOMEMLIMIT: the collector then works harder as the heap
// nears the limit, so that garbage does not pass it and make the Lua
// memory watchdog stop calls for memory nobody holds (see luaapi's
// memoryWatch).
func setGoMemoryLimit(limit int64, log *slog.Logger) {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set || limit <= 0 {
		return
	}
	debug.SetMemoryLimit(limit)
	log.Debug("Go soft memory limit set to lua_memory_limit", "bytes", limit)
}
