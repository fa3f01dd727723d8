// Package app assembles a LuaRoBot bot from its configuration: the WeChat
// Client, the Lua runtime serving the scripts folder, and the host handler
// that WeChat calls, wired to one store. `luarobot serve` builds its bot
// with New and adds the listeners; `luarobot test` builds one per test with
// New too, replacing what a test must not touch (the store, the clock,
// the WeChat API, the network) through Options.
//
//	st, err := app.OpenStore(ctx, cfg, log)
//	bot, err := app.New(ctx, app.Options{Config: cfg, Store: st, Logger: log})
//	defer bot.Close(ctx)
//	http.Handle(cfg.Path, bot.Handler)
//
// The caller owns the store: it opens it before the bot and closes it
// after Close.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
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

// Options configures New. Config and Store are required; every other field
// replaces, for tests, a piece the configuration would otherwise choose.
type Options struct {
	// Config is the bot's configuration. An empty Token is replaced by the
	// one generated and kept in Store (see StoredToken).
	Config config.Config
	// Store holds sessions, robot.store values, access tokens and, when
	// it is Redis, the dedup records. It stays open until the caller
	// closes it, after Bot.Close.
	Store store.Store
	// Logger receives the bot's log (default slog.Default()).
	Logger *slog.Logger
	// Now is the wall clock the bot reads: message and reply timestamps,
	// the replay window, dialog timeouts, os.time and os.date, access-token
	// expiry, and the TTLs of the in-memory dedup records (a memory Store
	// takes the same clock through memory.Options). Default time.Now. The
	// deadlines (reply_timeout, handler_timeout, robot.sleep) stay on the
	// real clock whatever it says.
	Now func() time.Time
	// HTTPTransport, when set, carries every robot.http request instead of
	// the guarded client's own transport: a test answers them with fakes,
	// and nothing reaches the network.
	HTTPTransport http.RoundTripper
	// DownloadDir, when set, is where the Client saves downloads instead
	// of media_dir (uploads look there first): a test's own folder, so
	// that a test never writes over the real media files.
	DownloadDir string
	// WrapSender, when set, wraps what delivers replies through the
	// customer-service API (late replies, the rest of long texts,
	// robot.send): the Client's SendReply, or nil without a Client. serve's
	// console keeps its own users' messages that way.
	WrapSender func(host.SendFunc) host.SendFunc
	// Metrics, when set, counts what the bot does (deliveries, refusals,
	// handler errors, reloads, WeChat API calls, token fetches, robot.http
	// requests, Lua states) for the admin listener's /metrics.
	Metrics *metrics.Metrics
}

// Bot is an assembled bot. Handler is the http.Handler WeChat calls.
type Bot struct {
	// Config is the configuration the bot runs with (its token filled in
	// when it was generated).
	Config config.Config
	// Client calls the WeChat API; nil without app_id and app_secret.
	Client *client.Client
	// Runtime runs the scripts; Runtime.Watch hot-reloads them.
	Runtime *luaapi.Runtime
	// Handler answers WeChat's requests.
	Handler *host.Handler
	// Sessions is the store of the users' sessions; nil with
	// session_storage = "off".
	Sessions store.Sessions

	log         *slog.Logger
	stopRefresh context.CancelFunc
	refreshed   chan struct{}
}

// TokenKey names, among the cached credentials, the callback token
// generated for a bot configured without one, so that it survives restarts
// (WeChat's console holds it).
const TokenKey = "luarobot:callback_token"

// OpenStore opens the store the configuration names (session_storage, db,
// redis_url, session_ttl).
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (store.Store, error) {
	return storeopen.OpenContext(ctx, store.Options{
		Kind:       cfg.SessionStorage,
		Path:       cfg.DB,
		RedisURL:   cfg.RedisURL,
		SessionTTL: cfg.SessionTTL,
		Logger:     log,
	})
}

// New builds the bot: the Client (when app_id and app_secret are set), the
// runtime with the scripts loaded and robot.on_load run, the callback IP
// allowlist (callback_ips), and the handler. A script that fails to load
// is an error naming its file and line. Nothing is left running when New
// fails.
func New(ctx context.Context, opts Options) (_ *Bot, err error) {
	cfg, st := opts.Config, opts.Store
	if st == nil {
		return nil, errors.New("app: a Store is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Token == "" {
		if cfg.Token, err = StoredToken(ctx, st, TokenKey); err != nil {
			return nil, err
		}
		log.Warn("no token configured; using a generated one (set token in luarobot.toml or LUAROBOT_TOKEN to choose)", "token", cfg.Token)
	}
	b := &Bot{Config: cfg, log: log}

	if cfg.AppID != "" && cfg.AppSecret != "" {
		b.Client, err = client.New(client.Options{
			AppID:          cfg.AppID,
			AppSecret:      cfg.AppSecret,
			APIBase:        cfg.APIBase,
			UseStableToken: cfg.UseStableToken,
			Tokens:         st,
			Timeout:        cfg.APITimeout,
			ProxyURL:       cfg.APIProxy,
			MediaDir:       cfg.MediaDir,
			DownloadDir:    opts.DownloadDir,
			// A download must never become a script that hot reload runs.
			ForbiddenDirs: []string{cfg.Scripts},
			Logger:        log,
			Metrics:       opts.Metrics,
			Now:           now,
		})
		if err != nil {
			return nil, err
		}
	} else {
		log.Info("app_id/app_secret not configured: robot.client and replies after the deadline are unavailable")
	}
	var send host.SendFunc
	if b.Client != nil {
		send = b.Client.SendReply
	}
	if opts.WrapSender != nil {
		send = opts.WrapSender(send)
	}

	// robot.stats() reads the handler's counters; the handler is made
	// after the runtime (it dispatches to it), hence the indirection.
	var handler atomic.Pointer[host.Handler]
	stats := func() any {
		if h := handler.Load(); h != nil {
			return h.Stats()
		}
		return host.Stats{}
	}
	b.Runtime, err = luaapi.New(luaapi.Options{
		Dir:            cfg.Scripts,
		PoolSize:       cfg.PoolSize,
		MaxStates:      cfg.MaxStates,
		MemoryLimit:    cfg.LuaMemoryLimit,
		HandlerTimeout: cfg.HandlerTimeout,
		LoadTimeout:    cfg.LoadTimeout,
		Config:         cfg.Public(),
		Client:         b.Client,
		Values:         st,
		Send:           robotSend(send, cfg.MaxReplyParts, log),
		Stats:          stats,
		Logger:         log,
		Metrics:        opts.Metrics,
		LogUserIDs:     cfg.LogUserIDs,
		Now:            now,
		// No sessions to carry dialog records: they stay in memory.
		DialogMemory:  cfg.SessionStorage == store.KindOff,
		Settings:      cfg.Settings,
		HTTPAllow:     cfg.HTTPAllow,
		HTTPTimeout:   cfg.HTTPTimeout,
		HTTPMaxBody:   cfg.HTTPMaxBody,
		HTTPProxy:     cfg.HTTPProxy,
		HTTPTransport: opts.HTTPTransport,
		HTTPObserver:  opts.Metrics.HTTPRequest,
	})
	if err != nil {
		return nil, err
	}
	opts.Metrics.SetLuaStates(func() metrics.LuaStates {
		s := b.Runtime.States()
		return metrics.LuaStates{Idle: s.Idle, Running: s.Running, Waiting: s.Waiting}
	})
	defer func() {
		if err != nil {
			b.Runtime.Close()
		}
	}()

	// Deliveries are deduplicated through Redis when processes share one;
	// otherwise in memory, which a single process needs no fsync for.
	var dedup store.Dedup = memory.New(memory.Options{Now: now})
	if cfg.SessionStorage == store.KindRedis {
		dedup = st
	}
	b.Sessions = st
	if cfg.SessionStorage == store.KindOff {
		b.Sessions = nil
	}
	callers, err := callbackCallers(ctx, cfg, b.Client, st, log)
	if err != nil {
		return nil, err
	}
	if callers != nil {
		// The daily refresh of WeChat's list ends before the store closes
		// (Close waits for it).
		refreshCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
		b.stopRefresh, b.refreshed = stop, make(chan struct{})
		go func() { defer close(b.refreshed); callers.Run(refreshCtx) }()
		defer func() {
			if err != nil {
				b.stopCallers()
			}
		}()
	}

	b.Handler, err = host.New(host.Options{
		Token:          cfg.Token,
		AppID:          cfg.AppID,
		EncodingAESKey: cfg.EncodingAESKey,
		// During a key rotation in the admin console, the old key still opens
		// messages; each reply goes back under its request's key.
		EncodingAESKeyPrevious: cfg.EncodingAESKeyPrevious,
		Dispatcher:             b.Runtime,
		Sessions:               b.Sessions,
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
		Metrics:                opts.Metrics,
		OnRefused:              opts.Metrics.Refused,
		LogUserIDs:             cfg.LogUserIDs,
		Now:                    now,
	})
	if err != nil {
		return nil, err
	}
	handler.Store(b.Handler)
	return b, nil
}

// Watch hot-reloads the scripts until ctx ends (see luaapi.Runtime.Watch).
func (b *Bot) Watch(ctx context.Context) error { return b.Runtime.Watch(ctx) }

// Wait blocks until the work that past deliveries left running is done:
// handlers that missed reply_timeout, late replies, the rest of long
// texts, and robot.async functions. A test harness calls it between
// deliveries; it does not stop new work from starting.
func (b *Bot) Wait(ctx context.Context) error {
	// The host's work first: a handler that finished late queues its
	// robot.async work in the runtime only then.
	if err := b.Handler.Wait(ctx); err != nil {
		return err
	}
	return b.Runtime.Wait(ctx)
}

// Close refuses new deliveries and waits, until ctx ends, for the replies
// still being delivered; then it closes the runtime and stops the callback
// list's refresh. The store is the caller's to close, after Close.
func (b *Bot) Close(ctx context.Context) error {
	err := b.Handler.Close(ctx)
	if err != nil {
		err = fmt.Errorf("replies still being delivered: %w", err)
	}
	b.Runtime.Close()
	b.stopCallers()
	return err
}

func (b *Bot) stopCallers() {
	if b.stopRefresh != nil {
		b.stopRefresh()
		<-b.refreshed
	}
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

// StoredToken returns the secret kept in the store under key, making one
// the first time: the callback token of a bot configured without one (and
// any other generated secret a host keeps, such as the admin token). It
// lives with the access tokens, where scripts cannot reach it (robot.store
// can).
func StoredToken(ctx context.Context, st store.Tokens, key string) (string, error) {
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
