package app_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/wxcrypto"
	"github.com/luarobot/luarobot/internal/benchcpu"
	"github.com/luarobot/luarobot/logring"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/store/memory"
)

// BenchmarkServe is the Go benchmark of bench/load.sh: the assembled bot
// (app.New: the Lua runtime under the memory watch, the host, the memory
// dedup store with the replay records) answering signed text messages
// from 1,000 users with the load test's Lua echo bot, each message with a
// new MsgId and signed with its own nonce, so that neither the retry
// dedup nor the replay rule answers from what it remembers. No network:
// the handler is called directly.
//
//   - quiet is how load.sh runs the host: log_level = error, no admin
//     listener (no metrics, no console log ring).
//   - observed is serve's default: every delivery counted in the metrics
//     and logged at info, through the console's log ring.
func BenchmarkServe(b *testing.B) {
	b.Run("quiet", func(b *testing.B) { benchServe(b, false) })
	b.Run("observed", func(b *testing.B) { benchServe(b, true) })
}

func benchServe(b *testing.B, observed bool) {
	cfg := config.Default()
	cfg.Token = "benchtoken"
	cfg.Scripts = "../bench/echo"
	cfg.SessionStorage = "memory"
	// A machine busy with other work can hold the benchmark up for
	// seconds; a reply_timeout passed then would answer "success" and
	// fail the check of the reply.
	cfg.ReplyTimeout = 30 * time.Second
	level := slog.LevelError
	opts := app.Options{Config: cfg}
	if observed {
		level = slog.LevelInfo
		opts.Metrics = metrics.New()
	}
	var log slog.Handler = slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level})
	if observed {
		// As serve's console does: the same slice while nothing changes.
		secrets := cfg.SecretValues()
		ring := logring.New(logring.Options{Level: level, Secrets: func() []string { return secrets }})
		log = ring.Handler(log)
	}
	opts.Logger = slog.New(log)
	st := memory.New(memory.Options{})
	defer st.Close()
	opts.Store = st
	bot, err := app.New(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	defer bot.Close(context.Background())

	// Signed outside the timer: WeChat's work, not the host's.
	queries := make([]string, b.N)
	bodies := make([][]byte, b.N)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	for i := range b.N {
		nonce := strconv.Itoa(1_000_000 + i)
		queries[i] = "signature=" + wxcrypto.Signature(cfg.Token, ts, nonce) + "&timestamp=" + ts + "&nonce=" + nonce
		bodies[i] = []byte("<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[bench-user-" +
			strconv.Itoa(i%1000) + "]]></FromUserName><CreateTime>" + ts +
			"</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello]]></Content><MsgId>" +
			strconv.Itoa(7_000_000_000+i) + "</MsgId></xml>")
	}
	base, _ := http.NewRequest(http.MethodPost, "/", nil)
	rw := &replyWriter{header: http.Header{}}
	heapBefore := liveHeap()
	b.ReportAllocs()
	cpu := benchcpu.Start(b)
	for i := range b.N {
		req := *base
		u := *base.URL
		u.RawQuery = queries[i]
		req.URL = &u
		req.Body = io.NopCloser(bytes.NewReader(bodies[i]))
		req.ContentLength = int64(len(bodies[i]))
		rw.code, rw.body = 0, rw.body[:0]
		bot.Handler.ServeHTTP(rw, &req)
		if rw.code != 0 && rw.code != http.StatusOK || !bytes.Contains(rw.body, []byte("<Content><![CDATA[hello]]></Content>")) {
			b.Fatalf("status %d, reply %q", rw.code, rw.body)
		}
	}
	cpu.Report()
	if err := bot.Wait(context.Background()); err != nil {
		b.Fatal(err)
	}
	// What the messages leave in the heap (the dedup and replay records,
	// sessions): under a flood it is what the collector scans, and what
	// lua_memory_limit counts.
	b.ReportMetric(float64(liveHeap()-heapBefore)/float64(b.N), "retained-B/op")
	runtime.KeepAlive(queries)
	runtime.KeepAlive(bodies)
}

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// replyWriter is a ResponseWriter that keeps the status and the body, so
// that the benchmark checks each reply without the cost of a recorder.
type replyWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *replyWriter) Header() http.Header { return w.header }
func (w *replyWriter) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}
func (w *replyWriter) WriteHeader(code int) { w.code = code }
