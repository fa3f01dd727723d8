// Package deadline bounds a context's life without the cost of a new one
// when the context is bounded enough already.
//
// context.WithTimeout always makes a context (and, unless the parent ends
// sooner, a timer), and registers it with its parent. On the path of each
// WeChat message several layers bound the same work by the same or a
// later time (the delivery's deadline, handler_timeout, a store call's
// timeout); AtMost skips the layers that would change nothing.
package deadline

import (
	"context"
	"time"
)

// AtMost returns a context that ends within d, as context.WithTimeout(ctx,
// d) does, and its cancel function. When ctx already ends by then it is
// returned itself, with a cancel function that does nothing: callers use
// AtMost where cancelling is only the clean-up of the timeout, never a way
// to stop the work early.
func AtMost(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if end, ok := ctx.Deadline(); ok && time.Until(end) <= d {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, d)
}

func noCancel() {}
