// Package counter is the integer arithmetic behind Values.Incr for the
// stores that do it themselves (memory and bolt), so that both agree with
// Redis's INCRBY on what counts as an integer and on overflow.
package counter

import (
	"fmt"
	"math"
	"strconv"

	"github.com/luarobot/luarobot/store"
)

// Add parses cur as a decimal integer (nil counts as 0) and adds n. A value
// that is not an integer wraps store.ErrNotInteger, and a sum that
// overflows int64 is an error rather than a silent wrap-around.
func Add(cur []byte, n int64) (int64, error) {
	var v int64
	if cur != nil {
		var err error
		v, err = strconv.ParseInt(string(cur), 10, 64)
		// Redis accepts only the canonical form ("7", not "+7" or "007");
		// so do we, so that a script behaves the same on every store.
		if err != nil || strconv.FormatInt(v, 10) != string(cur) {
			return 0, fmt.Errorf("%w: %.40q", store.ErrNotInteger, cur)
		}
	}
	if (n > 0 && v > math.MaxInt64-n) || (n < 0 && v < math.MinInt64-n) {
		return 0, fmt.Errorf("increment by %d would overflow %d", n, v)
	}
	return v + n, nil
}
