//go:build !unix

package benchcpu

import "time"

// processCPU cannot tell here.
func processCPU() (time.Duration, bool) { return 0, false }
