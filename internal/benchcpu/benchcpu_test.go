package benchcpu

import (
	"crypto/sha256"
	"runtime"
	"testing"
)

// A benchmark that spins gets a cpu-ns/op of the order of its ns/op: on a
// busy machine less, never zero, and not more than all the cores could
// have given it (with a margin for the clocks' granularity).
func TestReport(t *testing.T) {
	if _, ok := processCPU(); !ok {
		t.Skip("no process CPU time on this platform")
	}
	res := testing.Benchmark(func(b *testing.B) {
		data := make([]byte, 64<<10)
		m := Start(b)
		for range b.N {
			sha256.Sum256(data)
		}
		m.Report()
	})
	cpu, ok := res.Extra["cpu-ns/op"]
	if !ok {
		t.Fatalf("no cpu-ns/op in %v", res.Extra)
	}
	wall := float64(res.NsPerOp())
	if cpu <= 0 || cpu > wall*float64(runtime.NumCPU())*1.5 {
		t.Errorf("cpu-ns/op %.0f with ns/op %.0f on %d CPUs", cpu, wall, runtime.NumCPU())
	}
}
