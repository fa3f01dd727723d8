package host_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/luarobot/luarobot/host"
)

// BenchmarkPipeline measures one signed text message through the whole
// Handler (verify, read, decrypt, parse, dedup, dispatch to a trivial Go
// echo, render, encrypt) without the network.
func BenchmarkPipeline(b *testing.B) {
	for _, mode := range []string{"plain", "aes"} {
		b.Run(mode, func(b *testing.B) {
			opts := host.Options{Dispatcher: echo}
			if mode == "aes" {
				opts.EncodingAESKey = testAESKey
			}
			h := newHandler(b, opts)
			w := newWechat(b, mode == "aes")
			// Pre-build requests with distinct MsgIds so that dedup does
			// not turn the benchmark into cache hits.
			reqs := make([]*http.Request, 0, 4096)
			bodies := make([][]byte, 0, 4096)
			for i := range 4096 {
				r := w.request("/", textXML("user"+strconv.Itoa(i%64), "hello", int64(i)))
				body := new(bytes.Buffer)
				body.ReadFrom(r.Body)
				reqs = append(reqs, r)
				bodies = append(bodies, body.Bytes())
			}
			rec := httptest.NewRecorder()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % len(reqs)
				if i > 0 && j == 0 {
					b.StopTimer()
					// New MsgIds for the next round.
					for k := range reqs {
						reqs[k] = w.request("/", textXML("user"+strconv.Itoa(k%64), "hello", int64(i+k)))
						body := new(bytes.Buffer)
						body.ReadFrom(reqs[k].Body)
						bodies[k] = body.Bytes()
					}
					b.StartTimer()
				}
				r := reqs[j]
				r.Body = readCloser{bytes.NewReader(bodies[j])}
				rec.Body.Reset()
				h.ServeHTTP(rec, r)
				if rec.Code != 200 {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }
