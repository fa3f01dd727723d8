package host_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/internal/benchcpu"
)

// BenchmarkPipeline measures one signed text message through the whole
// Handler (verify, read, decrypt, parse, dedup, dispatch to a trivial Go
// echo, render, encrypt), without the network. Every iteration is a new
// message (a new MsgId), so that dedup does not answer from its cache.
func BenchmarkPipeline(b *testing.B) {
	for _, mode := range []string{"plain", "aes"} {
		b.Run(mode, func(b *testing.B) {
			opts := host.Options{Dispatcher: echo}
			if mode == "aes" {
				opts.EncodingAESKey = testAESKey
			}
			h := newHandler(b, opts)
			w := newWechat(b, mode == "aes")
			// The signature covers token, timestamp and nonce, so one
			// signed URL serves every body; in AES mode msg_signature
			// covers the ciphertext, so each body brings its own query.
			bodies := make([][]byte, b.N)
			queries := make([]string, b.N)
			for i := range bodies {
				r := w.request("/", textXML("user"+strconv.Itoa(i%64), "hello", int64(i)))
				bodies[i], _ = io.ReadAll(r.Body)
				queries[i] = r.URL.RawQuery
			}
			base, _ := http.NewRequest(http.MethodPost, "/", nil)
			rw := &benchWriter{header: http.Header{}}
			b.ReportAllocs()
			cpu := benchcpu.Start(b)
			for i := range b.N {
				req := *base
				u := *base.URL
				u.RawQuery = queries[i]
				req.URL = &u
				req.Body = io.NopCloser(bytes.NewReader(bodies[i]))
				req.ContentLength = int64(len(bodies[i]))
				rw.code = 0
				h.ServeHTTP(rw, &req)
				if rw.code != 0 && rw.code != http.StatusOK {
					b.Fatalf("status %d", rw.code)
				}
			}
			cpu.Report()
		})
	}
}

// benchWriter is a ResponseWriter that keeps nothing but the status, so
// the benchmark measures the handler rather than a recorder.
type benchWriter struct {
	header http.Header
	code   int
}

func (w *benchWriter) Header() http.Header         { return w.header }
func (w *benchWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
