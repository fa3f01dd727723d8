package client

import "time"

// SetClock replaces the clock the token back-off reads, so that tests can
// walk through minutes of back-off without waiting for them.
func SetClock(c *Client, now func() time.Time) { c.now = now }
