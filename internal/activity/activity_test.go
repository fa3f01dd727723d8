package activity

import (
	"context"
	"testing"
	"time"
)

func TestWaitReturnsWhenIdle(t *testing.T) {
	var g Group
	if err := g.WaitContext(context.Background()); err != nil {
		t.Fatalf("idle group: %v", err)
	}
	g.Add(2)
	done := make(chan error, 1)
	go func() { done <- g.WaitContext(context.Background()) }()
	g.Done()
	select {
	case <-done:
		t.Fatal("Wait returned with work still counted")
	case <-time.After(20 * time.Millisecond):
	}
	g.Done()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the count was zero")
	}
	// Reused after a wait, with Add racing a new Wait: no WaitGroup rule.
	g.Add(1)
	go g.Done()
	g.Wait()
}

func TestWaitContextEnds(t *testing.T) {
	var g Group
	g.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.WaitContext(ctx); err != context.Canceled {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestNegativeCountPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Done on an idle group did not panic")
		}
	}()
	var g Group
	g.Done()
}
