package bottest

import (
	"time"

	"github.com/luarobot/luarobot/internal/fakeclock"
)

// newClock is a test's fake wall clock: the only one its bot reads
// (message and reply timestamps, the replay window, session and
// robot.store TTLs, dedup records, dialog timeouts, os.time and os.date,
// access-token expiry). It starts at the real time, whole seconds, and
// moves only when told: one second per delivery, and t.clock:advance.
func newClock() *fakeclock.Clock {
	return fakeclock.New(time.Unix(time.Now().Unix(), 0))
}
