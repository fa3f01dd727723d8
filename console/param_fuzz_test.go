package console

import (
	"math"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// FuzzWaitParam: ?wait= and the cursors come from the browser. A number
// of seconds of zero or more waits that long, at most maxWait (a huge
// number waits maxWait, not a negative time that answers at once);
// anything else is an error naming the parameter.
func FuzzWaitParam(f *testing.F) {
	for _, s := range []string{"", "0", "1.5", "25", "26", "1e300", "Inf", "+Inf", "NaN", "-0", "-1", "0x10", "1_0", "9223372036.854775807"} {
		f.Add(s, "7")
	}
	f.Add("1", "18446744073709551616")
	f.Add("1", "-1")
	f.Fuzz(func(t *testing.T, wait, since string) {
		r := httptest.NewRequest("GET", "/api/log?"+url.Values{"wait": {wait}, "since": {since}}.Encode(), nil)
		cursor, d, err := cursorAndWait(r, "since")
		n, nerr := strconv.ParseFloat(wait, 64)
		c, cerr := strconv.ParseUint(since, 10, 64)
		switch {
		case since != "" && cerr != nil:
			if err == nil {
				t.Fatalf("since=%q taken as %d", since, cursor)
			}
			return
		case cursor != c:
			t.Fatalf("since=%q read as %d", since, cursor)
		}
		if wait == "" {
			if err != nil || d != 0 {
				t.Fatalf("no wait: %v, %v", d, err)
			}
			return
		}
		valid := nerr == nil && !math.IsNaN(n) && n >= 0
		if valid != (err == nil) {
			t.Fatalf("wait=%q: %v, %v", wait, d, err)
		}
		if err != nil {
			return
		}
		if d < 0 || d > maxWait {
			t.Fatalf("wait=%q waits %v (want 0 to %v)", wait, d, maxWait)
		}
		if n >= maxWait.Seconds() && d != maxWait {
			t.Fatalf("wait=%q waits %v, not the most, %v", wait, d, maxWait)
		}
		if want := time.Duration(n * float64(time.Second)); n < maxWait.Seconds() && d != want {
			t.Fatalf("wait=%q waits %v, want %v", wait, d, want)
		}
	})
}
