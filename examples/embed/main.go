// Command embed mounts LuaRoBot's handler inside an existing Go HTTP
// server, next to the server's own routes: the WeChat endpoint is just an
// http.Handler, and so is the admin listener's (health, readiness,
// Prometheus metrics), mounted here under /admin/.
//
//	go run ./examples/embed
//	go run . simulate --url http://127.0.0.1:8080/wechat --token embedExampleToken ping
//	curl -H 'Authorization: Bearer embedAdminToken2026' http://127.0.0.1:8080/admin/metrics
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/luarobot/luarobot/admin"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store/memory"
)

// newMux builds the application: its own page at /, the bot at /wechat,
// and the bot's admin routes under /admin/ (/admin/metrics needs
// adminToken). It returns a function that stops the bot's background work.
func newMux(ctx context.Context, scripts, token, adminToken string) (http.Handler, func(), error) {
	st := memory.New(memory.Options{})
	m := metrics.New()
	rt, err := luaapi.New(luaapi.Options{Dir: scripts, Values: st, Metrics: m})
	if err != nil {
		return nil, nil, fmt.Errorf("load the bot scripts: %w", err)
	}
	m.SetLuaStates(func() metrics.LuaStates {
		s := rt.States()
		return metrics.LuaStates{Idle: s.Idle, Running: s.Running, Waiting: s.Waiting}
	})
	go rt.Watch(ctx) // hot reload, as `luarobot serve` does
	bot, err := host.New(host.Options{Token: token, Dispatcher: rt, Sessions: st, Metrics: m, OnRefused: m.Refused})
	if err != nil {
		rt.Close()
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "the application's own page; the WeChat bot answers at /wechat")
	})
	mux.Handle("/wechat", bot)
	adm, err := admin.New(admin.Options{
		Token:   adminToken,
		Metrics: m.Handler(),
		Ready: []admin.Check{{Name: "store", Func: func(ctx context.Context) error {
			_, err := st.Get(ctx, "readyz")
			return err
		}}},
	})
	if err != nil {
		bot.Close(ctx)
		rt.Close()
		return nil, nil, err
	}
	mux.Handle("/admin/", http.StripPrefix("/admin", adm))
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bot.Close(ctx) // late replies still being delivered
		rt.Close()
		st.Close()
	}
	return mux, stop, nil
}

// The example's tokens; a real server reads them from its configuration.
const (
	botToken   = "embedExampleToken"
	adminToken = "embedAdminToken2026"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	handler, stop, err := newMux(ctx, "examples/embed/scripts", botToken, adminToken)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	slog.Info("serving the application on http://127.0.0.1:8080/ and the bot on /wechat")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}
