package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/luarobot/luarobot/store"
)

// BenchParallelism multiplies GOMAXPROCS to give the number of goroutines
// in BenchmarkSession: a host serves many requests at once, each mostly
// waiting on I/O, so a benchmark with one goroutine per core would hide
// what batching does.
const BenchParallelism = 16

// benchUsers is how many distinct users the benchmark's messages come from.
const benchUsers = 1000

// BenchmarkSession measures what one message costs the store: load the
// user's session, then save it changed, as the pipeline does. It runs in
// parallel (BenchParallelism goroutines per core) over benchUsers users.
func BenchmarkSession(b *testing.B, s store.Store) {
	ctx := context.Background()
	ids := make([]string, benchUsers)
	for i := range ids {
		ids[i] = fmt.Sprintf("oUser%023d", i) // OpenID-sized
	}
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(BenchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(uint64(seq.Add(1)), 0))
		for pb.Next() {
			id := ids[r.IntN(len(ids))]
			data, err := s.LoadSession(ctx, id)
			if err != nil {
				b.Error(err)
				return
			}
			n := len(data)
			// A typical session: a counter and a little state, ~200 bytes.
			data = []byte(`{"count":` + strconv.Itoa(n) + `,"last":"hello world","step":"menu","history":["a","b","c"],"profile":{"name":"张三","city":"上海"},"pad":"0123456789012345678901234567890123456789"}`)
			if err := s.SaveSession(ctx, id, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSessionSerial is BenchmarkSession with one message at a time:
// the latency a lone message pays, where BenchmarkSession shows throughput.
func BenchmarkSessionSerial(b *testing.B, s store.Store) {
	ctx := context.Background()
	data := []byte(`{"count":1,"last":"hello world","step":"menu"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := "oUser" + strconv.Itoa(i%benchUsers)
		if _, err := s.LoadSession(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := s.SaveSession(ctx, id, data); err != nil {
			b.Fatal(err)
		}
	}
}
