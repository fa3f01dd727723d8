package logring_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/luarobot/luarobot/logring"
)

func TestKeepsAndPassesOn(t *testing.T) {
	var out bytes.Buffer
	ring := logring.New(logring.Options{Size: 3})
	log := slog.New(ring.Handler(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn})))
	log.Info("one", "n", 1)
	log.Warn("two", "err", errors.New("boom"))
	log.With("req", "r1").WithGroup("g").Error("three", "a", "x", slog.Group("sub", "b", true))
	log.Debug("not kept: below the ring's level")

	got := ring.Since(0, 0, slog.LevelDebug)
	if len(got) != 3 {
		t.Fatalf("got %d entries, want 3: %+v", len(got), got)
	}
	if got[0].ID != 1 || got[0].Msg != "one" || got[0].Level != "INFO" || got[0].Attrs[0] != (logring.Attr{Key: "n", Value: "1"}) {
		t.Errorf("first entry = %+v", got[0])
	}
	if got[1].Attrs[0].Value != "boom" {
		t.Errorf("an error attribute is its text: %+v", got[1].Attrs)
	}
	want := []logring.Attr{{Key: "req", Value: "r1"}, {Key: "g.a", Value: "x"}, {Key: "g.sub.b", Value: "true"}}
	if len(got[2].Attrs) != 3 || got[2].Attrs[0] != want[0] || got[2].Attrs[1] != want[1] || got[2].Attrs[2] != want[2] {
		t.Errorf("attrs of a grouped logger = %+v, want %+v", got[2].Attrs, want)
	}
	// The wrapped handler keeps its own level.
	if s := out.String(); strings.Contains(s, "one") || !strings.Contains(s, "two") || !strings.Contains(s, "g.sub.b=true") {
		t.Errorf("wrapped handler wrote:\n%s", s)
	}

	if w := ring.Since(0, 0, slog.LevelError); len(w) != 1 || w[0].Msg != "three" {
		t.Errorf("level filter error: %+v", w)
	}
	if w := ring.Since(1, 1, slog.LevelDebug); len(w) != 1 || w[0].ID != 2 {
		t.Errorf("Since(1, max 1) = %+v", w)
	}
}

func TestRingDropsTheOldest(t *testing.T) {
	ring := logring.New(logring.Options{Size: 3})
	log := slog.New(ring.Handler(nil))
	for i := range 7 {
		log.Info("line", "i", i)
	}
	got := ring.Since(0, 0, slog.LevelDebug)
	if len(got) != 3 || got[0].ID != 5 || got[2].ID != 7 || ring.Last() != 7 {
		t.Fatalf("after 7 lines in a ring of 3: %+v (last %d)", got, ring.Last())
	}
	if got := ring.Since(6, 0, slog.LevelDebug); len(got) != 1 || got[0].ID != 7 {
		t.Errorf("Since(6) = %+v", got)
	}
	if got := ring.Since(7, 0, slog.LevelDebug); len(got) != 0 {
		t.Errorf("Since(last) = %+v, want nothing", got)
	}
}

func TestRedaction(t *testing.T) {
	var mu sync.Mutex
	secrets := []string{"AppSecret0123456789", "s3", "sk-live-abcdef"}
	ring := logring.New(logring.Options{Secrets: func() []string {
		mu.Lock()
		defer mu.Unlock()
		return secrets
	}})
	var out bytes.Buffer
	log := slog.New(ring.Handler(slog.NewTextHandler(&out, nil)))
	log.Info("calling with AppSecret0123456789 inside", "key", "Bearer sk-live-abcdef", "url", "https://api/x?access_token=ACCESS123&a=1", "short", "s3")
	log.With("token", "GeneratedToken42").Warn("no token configured", "admin_token", "adm1n-token")

	// A refreshed credential is redacted from then on.
	mu.Lock()
	secrets = append(secrets, "fresh-access-token-xyz")
	mu.Unlock()
	log.Error("oops", "err", errors.New("rejected fresh-access-token-xyz"))

	all := ring.Since(0, 0, slog.LevelDebug)
	text := ""
	for _, e := range all {
		text += e.Msg
		for _, a := range e.Attrs {
			text += " " + a.Key + "=" + a.Value
		}
		text += "\n"
	}
	for _, secret := range []string{"AppSecret0123456789", "sk-live-abcdef", "ACCESS123", "GeneratedToken42", "adm1n-token", "fresh-access-token-xyz"} {
		if strings.Contains(text, secret) {
			t.Errorf("ring shows %q:\n%s", secret, text)
		}
	}
	for _, kept := range []string{"Bearer [redacted]", "access_token=[redacted]&a=1", "short=s3", "calling with [redacted] inside"} {
		if !strings.Contains(text, kept) {
			t.Errorf("ring lacks %q:\n%s", kept, text)
		}
	}
	// The wrapped handler sees the record as logged: the ring's copy is
	// redacted, not the process's log (other code keeps that free of
	// secrets).
	if !strings.Contains(out.String(), "AppSecret0123456789") {
		t.Errorf("wrapped handler got a changed record:\n%s", out.String())
	}
}

func TestClipsLongValues(t *testing.T) {
	ring := logring.New(logring.Options{})
	slog.New(ring.Handler(nil)).Info(strings.Repeat("é", 10000), "v", strings.Repeat("x", 100000))
	e := ring.Since(0, 0, slog.LevelDebug)[0]
	if len(e.Msg) > 5000 || len(e.Attrs[0].Value) > 5000 || !strings.HasSuffix(e.Msg, "…") {
		t.Errorf("kept %d and %d bytes", len(e.Msg), len(e.Attrs[0].Value))
	}
}

func TestChangedWakesReaders(t *testing.T) {
	ring := logring.New(logring.Options{})
	ch := ring.Changed()
	go slog.New(ring.Handler(nil)).Info("hello")
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("Changed not closed after a new entry")
	}
	if got := ring.Since(0, 0, slog.LevelDebug); len(got) != 1 {
		t.Fatalf("got %+v", got)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"warn": slog.LevelWarn, "ERROR": slog.LevelError, "info": slog.LevelInfo} {
		if got, err := logring.ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := logring.ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("ParseLevel(loud) error = %v", err)
	}
}

// TestLongLinesAreRedactedBeforeTheyAreCut: a line longer than the ring
// keeps is cut, and a secret across the cut must not leave its first
// part behind. Before, the ring cut first and redacted the cut text,
// where the secret no longer was whole: 10 of its characters showed.
func TestLongLinesAreRedactedBeforeTheyAreCut(t *testing.T) {
	const secret = "AppSecret0123456789abcdefABCDEF01"
	ring := logring.New(logring.Options{Secrets: func() []string { return []string{secret} }})
	log := slog.New(ring.Handler(nil))
	long := strings.Repeat("x", 4096-10) + secret + " and more"
	log.Info(long, "dump", long)
	got := ring.Since(0, 0, slog.LevelDebug)
	if len(got) != 1 {
		t.Fatalf("entries: %d", len(got))
	}
	if strings.Contains(got[0].Msg, secret[:10]) || strings.Contains(got[0].Attrs[0].Value, secret[:10]) {
		t.Errorf("the cut line shows the secret's start:\nmsg ...%s\nattr ...%s", got[0].Msg[4000:], got[0].Attrs[0].Value[4000:])
	}
	if !strings.HasSuffix(got[0].Msg, "…") || len(got[0].Msg) > 4200 {
		t.Errorf("the line is not cut: %d bytes", len(got[0].Msg))
	}
}
