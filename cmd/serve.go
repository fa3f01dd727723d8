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

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
)

// shutdownTimeout bounds the graceful stop: requests in flight, handlers
// and late replies still running.
const shutdownTimeout = 35 * time.Second

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
	st, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the store: %w", cerr)
		}
	}()
	if cfg.Token == "" {
		if cfg.Token, err = app.StoredToken(ctx, st, app.TokenKey); err != nil {
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
	cons.setSecrets(adm.token, nil)

	// A process-wide setting, so serve's and not the bot's (luarobot test
	// builds many bots in one process).
	setGoMemoryLimit(cfg.LuaMemoryLimit, log)
	bot, err := app.New(ctx, app.Options{Config: cfg, Store: st, Logger: log, Metrics: adm.metrics,
		// Console users' messages stay in the console.
		WrapSender: cons.wrapSender})
	if err != nil {
		return err
	}
	cons.setSecrets(adm.token, bot.Client)
	scriptsLoaded.Store(true)
	// Closed last among the deferred (after the listener stopped and the
	// watcher ended), with its own deadline when Close below was not
	// reached.
	closed := false
	defer func() {
		if !closed {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			bot.Close(sctx)
		}
	}()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if err := bot.Watch(watchCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("hot reload stopped; restart to pick up script changes", "error", err)
		}
	}()
	defer func() { stopWatch(); <-watched }()
	h := bot.Handler
	stopConsole, err := cons.mount(adm, h, bot.Runtime, bot.Sessions, bot.Client, log)
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
	stopWatch()
	<-watched
	closed = true
	if err := bot.Close(sctx); err != nil {
		log.Error("shutdown", "error", err)
	}
	s := h.Stats()
	log.Info("stopped", "deliveries", s.Deliveries, "retries", s.Retries, "late_replies", s.Late, "api_sends", s.APISends, "failures", s.Failures)
	return nil
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
