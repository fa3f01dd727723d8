package bottest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// logLine is one line of a test's log, as the output shows it.
type logLine struct {
	level  slog.Level
	text   string
	script bool // written by a script (print, robot.log), or a delivery of the test
}

// testLog collects, in order, a test's deliveries (what the user sent, what
// came back) and what its bot and test file logged: the lines a script
// wrote (print, robot.log) and the host's warnings and errors, not its
// routine information ("scripts loaded").
type testLog struct {
	mu    sync.Mutex
	lines []logLine
}

func (l *testLog) add(line logLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < maxLogLines {
		l.lines = append(l.lines, line)
	} else if len(l.lines) == maxLogLines {
		l.lines = append(l.lines, logLine{level: slog.LevelWarn, text: "(more log lines left out)"})
	}
}

// maxLogLines bounds what one test keeps: a handler logging in a loop
// must not flood the output.
const maxLogLines = 200

// all returns every line.
func (l *testLog) all() []string {
	return l.filter(func(logLine) bool { return true })
}

// hostErrors returns the errors the host logged (a handler that failed):
// likely bugs, shown under a test even when it passed. What scripts log,
// errors included, is the script's business and shown with the rest.
func (l *testLog) hostErrors() []string {
	return l.filter(func(line logLine) bool { return !line.script && line.level >= slog.LevelError })
}

func (l *testLog) filter(keep func(logLine) bool) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if keep(line) {
			out = append(out, line.text)
		}
	}
	return out
}

// logSink is the slog.Handler of a runner's bots and test files; it writes
// to the log of the test running now.
type logSink struct {
	mu  *sync.Mutex
	cur **testLog
	// attrs and group are this handler's, from WithAttrs and WithGroup.
	attrs []slog.Attr
	group string
}

func newLogSink() *logSink {
	var cur *testLog
	return &logSink{mu: &sync.Mutex{}, cur: &cur}
}

// to makes l the log that later records go to (nil drops them).
func (s *logSink) to(l *testLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	*s.cur = l
}

func (s *logSink) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelInfo }

func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	s.mu.Lock()
	l := *s.cur
	s.mu.Unlock()
	if l == nil {
		return nil
	}
	var where string
	var b strings.Builder
	add := func(a slog.Attr) bool {
		if a.Key == "script" && s.group == "" {
			where = a.Value.String()
			return true
		}
		key := a.Key
		if s.group != "" {
			key = s.group + "." + key
		}
		fmt.Fprintf(&b, " %s=%s", key, quoteIfNeeded(a.Value.Resolve().String()))
		return true
	}
	for _, a := range s.attrs {
		add(a)
	}
	r.Attrs(add)
	if where == "" && r.Level < slog.LevelWarn {
		return nil // the host's routine information
	}
	text := r.Message + b.String()
	if where != "" {
		text = where + ": " + text
	}
	if r.Level != slog.LevelInfo {
		text = r.Level.String() + " " + text
	}
	l.add(logLine{level: r.Level, text: text, script: where != ""})
	return nil
}

func (s *logSink) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *s
	c.attrs = append(append([]slog.Attr(nil), s.attrs...), attrs...)
	return &c
}

func (s *logSink) WithGroup(name string) slog.Handler {
	c := *s
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}

// quoteIfNeeded quotes a log value with spaces or quotes in it, as
// slog's text handler does.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
