package config_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/config"
)

// FuzzParseDuration: a duration from the TOML file, the environment or a
// flag is "4s"-style or a number of seconds. What ParseDuration takes is
// zero or more, and is what the text says: time.ParseDuration's value, or
// the seconds (to the nanosecond); anything else is an error.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"4s", "1m30s", "300", "0.5", " 2 ", "-1", "-1s", "NaN", "Inf", "1e300", "9223372036.854775807", "9223372036.8547", "1h1h", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := config.ParseDuration(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(strings.TrimSpace(s))) {
				t.Fatalf("ParseDuration(%q): error %q does not quote the value", s, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		t2 := strings.TrimSpace(s)
		if secs, ferr := strconv.ParseFloat(t2, 64); ferr == nil {
			if math.Abs(float64(d)-secs*1e9) > math.Max(1, secs*1e9*1e-12) {
				t.Fatalf("ParseDuration(%q) = %v, want %g s", s, d, secs)
			}
			return
		}
		if want, err := time.ParseDuration(t2); err != nil || want != d {
			t.Fatalf("ParseDuration(%q) = %v; time.ParseDuration: %v, %v", s, d, want, err)
		}
	})
}

// FuzzParseSize: sizes ("1MiB", "512KiB", "2MB", "1m", bytes) are zero
// or more; a bare count of bytes is itself, and a count with MiB is that
// many times 2^20.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1MiB", "512KiB", "2MB", "1m", "4096", " 1 gib ", "NaN", "nanb", "Inf", "-1", "1e18", "4611686018427387904", "0.5k", "kib", "1.5e3kb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := config.ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && v < 1<<53 && n != v {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if v, err := strconv.ParseInt(strings.TrimSuffix(s, "MiB"), 10, 64); err == nil && strings.HasSuffix(s, "MiB") && v < 1<<30 && n != v<<20 {
			t.Fatalf("ParseSize(%q) = %d, want %d", s, n, v<<20)
		}
	})
}
