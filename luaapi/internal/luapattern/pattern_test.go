package luapattern

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A backtracking pattern that would run for hours stops when its context
// ends.
func TestFindStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	src := []byte(strings.Repeat("a", 100000))
	start := time.Now()
	_, err := Find(ctx, ".-.-.-.-b", src, 0, 1)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s to stop", took)
	}
}

func TestFindFrom(t *testing.T) {
	p, err := Compile("(%d+)")
	if err != nil {
		t.Fatal(err)
	}
	src := []byte("a1 b22 c333")
	var got []string
	for off := 0; off <= len(src); {
		md, next, err := p.FindFrom(context.Background(), src, off)
		if err != nil {
			t.Fatal(err)
		}
		if md == nil {
			break
		}
		got = append(got, string(src[md.Capture(2):md.Capture(3)]))
		off = next
	}
	if strings.Join(got, ",") != "1,22,333" {
		t.Errorf("got %v", got)
	}
	if _, err := Compile("(unfinished"); err == nil {
		t.Error("a malformed pattern compiled")
	}
	// Without a context the matcher runs as upstream's.
	if m, err := Find(nil, "^a", []byte("ab"), 0, -1); err != nil || len(m) != 1 {
		t.Errorf("nil context: %v %v", m, err)
	}
}
