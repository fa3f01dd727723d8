package luaapi

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when goroutines outlive the tests: every state has
// a goroutine, and Close (or the pool) must end each of them.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var ours []string
			for _, g := range strings.Split(string(buf), "\n\n") {
				if strings.Contains(g, "luaapi") && !strings.Contains(g, "TestMain") {
					ours = append(ours, g)
				}
			}
			// Only this package's goroutines count: the fuzzing engine,
			// for one, leaves its own behind.
			if len(ours) > 0 {
				fmt.Fprintf(os.Stderr, "%d goroutines leaked (%d before the tests):\n%s\n", n-before, before, strings.Join(ours, "\n\n"))
				code = 1
			}
		}
	}
	os.Exit(code)
}
