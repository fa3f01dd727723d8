// Package logring keeps the last lines of a process's log in memory, with
// every secret value taken out, for the console's Log panel: an
// slog.Handler that passes each record on to the real handler and keeps a
// copy in a ring of numbered entries.
//
//	ring := logring.New(logring.Options{Size: 1000, Secrets: secretValues})
//	log := slog.New(ring.Handler(slog.NewTextHandler(os.Stderr, nil)))
//	entries := ring.Since(lastSeen, 100) // what came after entry lastSeen
//
// Entries are numbered from 1 in the order they were logged, so a reader
// that remembers the last number it saw (an SSE stream's Last-Event-ID)
// misses nothing across a reconnect as long as the ring still holds it.
//
// Redaction: every secret value (Options.Secrets, asked again whenever it
// may have changed, so a refreshed access token is covered) is replaced by
// "[redacted]" in the message and in every attribute, and so is the value
// of a query parameter named like a credential (access_token=, secret=).
// Only the ring's copy is redacted; the handler it wraps sees the record
// as it was logged.
package logring

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Redacted replaces a secret value.
const Redacted = "[redacted]"

// Defaults and bounds.
const (
	DefaultSize = 1000
	// maxText bounds the message and each attribute value of an entry: a
	// script that logs a megabyte does not make the ring hold gigabytes.
	// Texts are cut there after redaction (a secret across the cut would
	// leave its start behind), and before it at maxRedact, which bounds
	// the redaction's work.
	maxText   = 4 << 10
	maxRedact = 64 << 10
)

// MinSecret is the shortest secret value that is redacted: shorter ones (a
// setting "1", "on") would match everywhere and hide nothing.
const MinSecret = 4

// Options configure a Ring.
type Options struct {
	// Size is how many entries the ring keeps (DefaultSize when 0).
	Size int
	// Level is the least level kept (default slog.LevelInfo). The ring
	// keeps what it would keep even when the wrapped handler drops it.
	Level slog.Leveler
	// Secrets returns the values to redact. It is called often: it should
	// return the same slice while nothing changed (the ring rebuilds its
	// replacer only when the values differ).
	Secrets func() []string
	// Now stamps entries (tests); default time.Now.
	Now func() time.Time
}

// Entry is one log line as the console shows it.
type Entry struct {
	ID    uint64    `json:"id"`
	Time  time.Time `json:"time"`
	Level string    `json:"level"` // DEBUG, INFO, WARN, ERROR
	Msg   string    `json:"msg"`
	Attrs []Attr    `json:"attrs,omitempty"`
}

// Attr is one attribute; a group's members have dotted keys ("req.path").
type Attr struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Ring is the buffer. It is safe for concurrent use.
type Ring struct {
	opts Options

	mu      sync.Mutex
	entries []Entry // a circular buffer of len Size once full
	next    int     // where the next entry goes once full
	lastID  uint64
	changed chan struct{} // closed and replaced at every new entry

	redactMu  sync.Mutex
	secrets   []string
	replacer  *strings.Replacer
	hasSecret bool
}

// New makes an empty ring.
func New(opts Options) *Ring {
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Ring{opts: opts, entries: make([]Entry, 0, min(opts.Size, 256)), changed: make(chan struct{})}
}

// Since returns up to max entries (all when max <= 0) logged after the
// entry numbered after, oldest first, and at least level. When entries
// after `after` were dropped from the ring already, it starts at the
// oldest it has.
func (r *Ring) Since(after uint64, max int, level slog.Level) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	n := len(r.entries)
	for i := range n {
		e := &r.entries[(r.start()+i)%n]
		if e.ID <= after || levelOf(e.Level) < level {
			continue
		}
		out = append(out, *e)
		if max > 0 && len(out) == max {
			break
		}
	}
	return out
}

// Last is the number of the newest entry, 0 when there is none.
func (r *Ring) Last() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastID
}

// Changed returns a channel closed at the next new entry: a reader waits
// on it, then calls Since.
func (r *Ring) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// start is the index of the oldest entry.
func (r *Ring) start() int {
	if len(r.entries) < r.opts.Size {
		return 0
	}
	return r.next
}

func (r *Ring) add(e Entry) {
	r.mu.Lock()
	r.lastID++
	e.ID = r.lastID
	if len(r.entries) < r.opts.Size {
		r.entries = append(r.entries, e)
	} else {
		r.entries[r.next] = e
		r.next = (r.next + 1) % r.opts.Size
	}
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Redact replaces every secret value in s, and credential query
// parameters, with Redacted.
func (r *Ring) Redact(s string) string {
	if rep := r.currentReplacer(); rep != nil {
		s = rep.Replace(s)
	}
	if strings.Contains(s, "=") {
		s = credentialParam.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// redactAttr is the value of a shown: all of it when its key names a
// credential (a generated token logged at start-up), else Redact's.
func (r *Ring) redactAttr(a Attr) string {
	key := a.Key[strings.LastIndexByte(a.Key, '.')+1:]
	if credentialKeys[strings.ToLower(key)] && a.Value != "" {
		return Redacted
	}
	return r.Redact(a.Value)
}

// credentialKeys are attribute keys whose values are credentials whatever
// they hold: the configuration's secret keys and the usual names.
var credentialKeys = map[string]bool{
	"token": true, "admin_token": true, "app_secret": true, "appsecret": true, "secret": true,
	"access_token": true, "refresh_token": true, "ticket": true, "jsapi_ticket": true,
	"encoding_aes_key": true, "encoding_aes_key_previous": true, "password": true,
	"authorization": true, "cookie": true,
}

// credentialParam matches a query parameter that carries a credential.
var credentialParam = regexp.MustCompile(`((?:^|[?&\s"'])(?:access_token|refresh_token|secret|appsecret|ticket|token)=)[^&\s"']+`)

// currentReplacer returns the replacer of the secrets as they are now,
// rebuilt when they changed; nil when there are none.
func (r *Ring) currentReplacer() *strings.Replacer {
	if r.opts.Secrets == nil {
		return nil
	}
	secrets := r.opts.Secrets()
	r.redactMu.Lock()
	defer r.redactMu.Unlock()
	if !slices.Equal(secrets, r.secrets) {
		r.secrets = slices.Clone(secrets)
		r.replacer, r.hasSecret = newReplacer(secrets)
	}
	if !r.hasSecret {
		return nil
	}
	return r.replacer
}

// newReplacer replaces each secret of at least MinSecret bytes.
func newReplacer(secrets []string) (*strings.Replacer, bool) {
	rep := Replacer(secrets, nil)
	return rep, rep != nil
}

// Replacer returns a replacer of every secret of at least MinSecret bytes
// with Redacted, longest first so that a secret that contains another goes
// whole; nil when there is none. encode, when set, gives the form a
// secret takes in the text to redact (inside a JSON string, say).
func Replacer(secrets []string, encode func(string) string) *strings.Replacer {
	var long []string
	for _, s := range secrets {
		if len(s) >= MinSecret {
			long = append(long, s)
		}
	}
	if len(long) == 0 {
		return nil
	}
	slices.SortFunc(long, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(long))
	for _, s := range slices.Compact(long) {
		if encode != nil {
			s = encode(s)
		}
		pairs = append(pairs, s, Redacted)
	}
	return strings.NewReplacer(pairs...)
}

// Handler returns an slog.Handler that keeps records in the ring and
// passes them on to next (nil: keep only).
func (r *Ring) Handler(next slog.Handler) slog.Handler {
	return &handler{ring: r, next: next}
}

type handler struct {
	ring   *Ring
	next   slog.Handler
	attrs  []Attr // from WithAttrs, already flattened and rendered
	prefix string // the open groups, "a.b."
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.ring.opts.Level.Level() || h.next != nil && h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= h.ring.opts.Level.Level() {
		h.keep(rec)
	}
	if h.next != nil && h.next.Enabled(ctx, rec.Level) {
		return h.next.Handle(ctx, rec)
	}
	return nil
}

func (h *handler) keep(rec slog.Record) {
	t := rec.Time
	if t.IsZero() {
		t = h.ring.opts.Now()
	}
	e := Entry{Time: t, Level: rec.Level.String(), Msg: clip(h.ring.Redact(clip(rec.Message, maxRedact)), maxText)}
	e.Attrs = make([]Attr, 0, len(h.attrs)+rec.NumAttrs())
	for _, a := range h.attrs {
		e.Attrs = append(e.Attrs, Attr{Key: a.Key, Value: clip(h.ring.redactAttr(a), maxText)})
	}
	rec.Attrs(func(a slog.Attr) bool {
		e.Attrs = appendAttr(e.Attrs, h.prefix, a)
		return true
	})
	for i := len(h.attrs); i < len(e.Attrs); i++ {
		e.Attrs[i].Value = clip(h.ring.redactAttr(e.Attrs[i]), maxText)
	}
	h.ring.add(e)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range attrs {
		c.attrs = appendAttr(c.attrs, h.prefix, a)
	}
	if h.next != nil {
		c.next = h.next.WithAttrs(attrs)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}

// appendAttr flattens a into out: groups become dotted keys, values text.
func appendAttr(out []Attr, prefix string, a slog.Attr) []Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, p, g)
		}
		return out
	}
	if a.Key == "" {
		return out
	}
	return append(out, Attr{Key: prefix + a.Key, Value: clip(valueText(v), maxRedact)})
}

func valueText(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
		return fmt.Sprint(v.Any())
	}
	return v.String()
}

// clip cuts s to n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// levelOf reads a level's name back (slog.Level.String's output).
func levelOf(name string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(name)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// ParseLevel reads a level filter: "", "debug", "info", "warn", "error"
// (any case). The empty string is the lowest level.
func ParseLevel(s string) (slog.Level, error) {
	if s == "" {
		return slog.LevelDebug - 100, nil
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("level %q: one of debug, info, warn, error", s)
	}
	return l, nil
}
