package delivery_test

import (
	"context"
	"sync"
	"testing"

	"github.com/luarobot/luarobot/host/delivery"
)

func TestHandler(t *testing.T) {
	delivery.SetHandler(context.Background(), "a.lua:1") // no Info: nothing happens
	ctx, info := delivery.NewContext(context.Background())
	if info.Handler() != "" {
		t.Errorf("fresh Info: %q", info.Handler())
	}
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			delivery.SetHandler(child, "hello.lua:12")
		}()
	}
	wg.Wait()
	if info.Handler() != "hello.lua:12" {
		t.Errorf("Handler = %q", info.Handler())
	}
	var none *delivery.Info
	if none.Handler() != "" {
		t.Error("nil Info")
	}
}
