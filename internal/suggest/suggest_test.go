package suggest

import (
	"strings"
	"testing"
)

func TestClosest(t *testing.T) {
	keys := []string{"port", "log_level", "subscribe", "unsubscribe", "retry-interval", "text"}
	for name, want := range map[string]string{
		"prot":                   "port",           // a swap
		"log-level":              "log_level",      // '-' for '_'
		"LOGLEVEL":               "log_level",      // case and separators
		"subscibe":               "subscribe",      // a letter dropped
		"retry_intervl":          "retry-interval", // candidates with '-' too
		"txt":                    "text",
		"banana":                 "",
		strings.Repeat("a", 100): "",
	} {
		if got := Closest(name, keys); got != want {
			t.Errorf("Closest(%q) = %q, want %q", name, got, want)
		}
	}
}
