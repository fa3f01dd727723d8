package host

import "time"

// SetLeaseTTL shortens the users' leases, so that tests of leases left
// over from a store outage do not wait the real TTL. Call it before the
// first request.
func SetLeaseTTL(h *Handler, d time.Duration) { h.engine.leaseTTL = d }
