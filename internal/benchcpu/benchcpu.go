// Package benchcpu adds the process's CPU time per operation to a Go
// benchmark's results (cpu-ns/op), beside the wall time that ns/op gives.
// On a machine shared with other work, ns/op counts the time the benchmark
// waited for a core; the CPU time counts only what it used (every
// goroutine's, the collector's included), so it compares two versions
// measured while the machine was busy far better.
//
//	m := benchcpu.Start(b) // after the set-up, instead of b.ResetTimer
//	for range b.N { ... }
//	m.Report()
package benchcpu

import (
	"testing"
	"time"
)

// Meter measures the CPU time of a benchmark's timed loop.
type Meter struct {
	b     *testing.B
	start time.Duration
	ok    bool
}

// Start resets b's timer and starts measuring.
func Start(b *testing.B) Meter {
	b.ResetTimer()
	start, ok := processCPU()
	return Meter{b: b, start: start, ok: ok}
}

// Report stops b's timer and reports the CPU time per operation since
// Start; nothing where the platform cannot tell.
func (m Meter) Report() {
	end, ok := processCPU()
	m.b.StopTimer()
	if !m.ok || !ok || m.b.N == 0 {
		return
	}
	m.b.ReportMetric(float64(end-m.start)/float64(m.b.N), "cpu-ns/op")
}
