package deadline

import (
	"context"
	"testing"
	"time"
)

func TestAtMost(t *testing.T) {
	// A context that ends sooner is kept as it is.
	soon, cancelSoon := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSoon()
	ctx, cancel := AtMost(soon, time.Hour)
	if ctx != soon {
		t.Error("a context ending within d was wrapped")
	}
	cancel()
	if soon.Err() != nil {
		t.Error("the cancel function of a kept context cancelled it")
	}

	// Without a deadline, or with a later one, it gets d.
	for name, parent := range map[string]context.Context{
		"no deadline": context.Background(),
		"later":       soon,
	} {
		before := time.Now()
		ctx, cancel := AtMost(parent, time.Second)
		end, ok := ctx.Deadline()
		if !ok || end.Before(before.Add(time.Second)) || end.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: deadline %v (ok %v), want a second from now", name, end, ok)
		}
		cancel()
		if ctx.Err() != context.Canceled {
			t.Errorf("%s: after cancel Err() = %v", name, ctx.Err())
		}
	}

	// A cancelled parent still ends the context.
	parent, cancelParent := context.WithCancel(context.Background())
	ctx, cancel = AtMost(parent, time.Hour)
	defer cancel()
	cancelParent()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the parent's cancel did not end the context")
	}
}
