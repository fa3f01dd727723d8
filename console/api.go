package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/inbox"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/logring"
	"github.com/luarobot/luarobot/luaapi"
)

// Bounds of the API.
const (
	maxTryBody = 64 << 10
	// maxWait bounds a long poll (?wait=): under the admin listener's
	// write timeout, and short enough that a closed tab frees its request.
	maxWait = 25 * time.Second
	// sourceAround is how many lines around an error the Scripts panel
	// shows on each side.
	sourceAround = 3
	// maxLogBatch bounds the lines of one answer of /api/log.
	maxLogBatch = 1000
)

// ---- GET /api/status ----

type statusAnswer struct {
	Version       string            `json:"version"`
	Go            string            `json:"go"`
	Started       time.Time         `json:"started"`
	UptimeSeconds int64             `json:"uptime_seconds"`
	Mode          string            `json:"mode"`
	Scripts       scriptsStatus     `json:"scripts"`
	Deliveries    deliveries        `json:"deliveries"`
	AccessToken   accessTokenStatus `json:"access_token"`
}

type scriptsStatus struct {
	Dir           string        `json:"dir"`
	Version       uint64        `json:"version"`
	LoadedAt      *time.Time    `json:"loaded_at,omitempty"`
	Files         int           `json:"files"`
	Registrations int           `json:"registrations"`
	LastReload    *reloadAnswer `json:"last_reload,omitempty"`
}

type deliveries struct {
	Total    int64 `json:"total"`
	Retries  int64 `json:"retries"`
	Late     int64 `json:"late_replies"`
	APISends int64 `json:"api_sends"`
	Failures int64 `json:"failures"`
	Withheld int64 `json:"withheld"`
}

type accessTokenStatus struct {
	// Configured is false without app_id and app_secret.
	Configured bool       `json:"configured"`
	Cached     bool       `json:"cached"`
	UseUntil   *time.Time `json:"use_until,omitempty"`
	Fetches    int64      `json:"fetches"`
	Failures   int        `json:"failures"`
	RetryAt    *time.Time `json:"retry_at,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
}

func (c *Console) status(w http.ResponseWriter, r *http.Request) {
	now := c.opts.Now()
	s := c.opts.Counters.Stats()
	loaded := c.opts.Scripts.Loaded()
	ans := statusAnswer{
		Version: c.version, Go: runtime.Version(), Started: c.opts.Started,
		UptimeSeconds: int64(now.Sub(c.opts.Started) / time.Second), Mode: c.opts.Mode,
		Scripts: scriptsStatus{Dir: loaded.Dir, Version: loaded.Version, LoadedAt: timeOrNil(loaded.LoadedAt), Files: len(loaded.Files)},
		Deliveries: deliveries{Total: s.Deliveries, Retries: s.Retries, Late: s.Late, APISends: s.APISends,
			Failures: s.Failures, Withheld: s.Withheld},
	}
	for _, f := range loaded.Files {
		ans.Scripts.Registrations += len(f.Handlers)
	}
	if hist := c.opts.Scripts.Reloads(); len(hist) > 0 {
		last := reloadOf(hist[len(hist)-1])
		ans.Scripts.LastReload = &last
	}
	if c.opts.Credentials != nil {
		t := c.opts.Credentials.AccessTokenState()
		ans.AccessToken = accessTokenStatus{Configured: true, Cached: t.Cached, UseUntil: timeOrNil(t.UseUntil),
			Fetches: t.Fetches, Failures: t.Failures, LastError: t.LastError}
		if t.RetryAt.After(now) {
			ans.AccessToken.RetryAt = &t.RetryAt
		}
	}
	c.writeJSON(w, http.StatusOK, ans)
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ---- POST /api/try ----

// tryRequest is a message to the live bot from a console user: type is a
// name of `simulate --type`; content is a text's (or a key event's key),
// key an event's EventKey, fields any other field by its snake_case name.
type tryRequest struct {
	User    string         `json:"user"`
	Type    string         `json:"type"`
	Content string         `json:"content"`
	Key     string         `json:"key"`
	Fields  map[string]any `json:"fields"`
}

// tryAnswer is what the user saw: the passive reply in the shape `luarobot
// test` gives a reply, and the customer-service messages of the delivery.
type tryAnswer struct {
	User  string          `json:"user"`
	Reply reply.View      `json:"reply"`
	Sent  []inboxItem     `json:"sent"`
	Log   []logring.Entry `json:"log"`
}

// inboxItem is a message sent to a console user, numbered for
// GET /api/inbox/{user}?since=.
type inboxItem struct {
	ID   uint64    `json:"id"`
	Time time.Time `json:"time"`
	reply.View
}

func (c *Console) try(w http.ResponseWriter, r *http.Request) {
	var req tryRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTryBody))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		c.writeError(w, http.StatusBadRequest, "the body is not a try request {user, type, content | key | fields}: "+err.Error())
		return
	}
	openid, err := consoleUser(req.User)
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	msg, err := c.buildMessage(openid, req)
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	inboxBefore, logBefore := c.opts.Inbox.Last(), c.opts.Log.Last()
	rep, err := c.opts.Pipeline.DeliverConsole(r.Context(), msg)
	if err != nil {
		c.writeError(w, http.StatusServiceUnavailable, "the bot did not take the message: "+err.Error())
		return
	}
	c.writeJSON(w, http.StatusOK, tryAnswer{
		User:  openid,
		Reply: reply.ViewOf(rep),
		Sent:  inboxItems(c.opts.Inbox.Since(openid, inboxBefore)),
		Log:   deliveryLog(c.opts.Log.Since(logBefore, maxLogBatch, slog.LevelDebug), openid),
	})
}

// consoleNameRE is what may follow "console-" in a console user's openid.
var consoleNameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// consoleUser maps a user name to its console openid: "alice" and
// "console-alice" are both console-alice, so a console request never acts
// as a real follower.
func consoleUser(user string) (string, error) {
	name := strings.TrimPrefix(strings.TrimSpace(user), inbox.Prefix)
	if name == "" {
		return "", errors.New("user: required (a name such as alice; it becomes the openid console-alice)")
	}
	if !consoleNameRE.MatchString(name) {
		return "", fmt.Errorf("user %q: up to 64 letters, digits and _ . @ -", user)
	}
	return inbox.Prefix + name, nil
}

// buildMessage makes the message of a try request, then writes and parses
// it as WeChat's XML, so that the handlers get what a follower's message
// would give them (raw included).
func (c *Console) buildMessage(openid string, req tryRequest) (*message.Message, error) {
	fields := make(map[string]string, len(req.Fields))
	for name, v := range req.Fields {
		switch v := v.(type) {
		case string:
			fields[name] = v
		case json.Number:
			fields[name] = v.String()
		case bool:
			fields[name] = strconv.FormatBool(v)
		case nil:
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("fields.%s: %w", name, err)
			}
			fields[name] = string(b)
		}
	}
	typ := req.Type
	if typ == "" {
		typ = "text"
	}
	msg, err := simulate.Build(simulate.Spec{Type: typ, From: openid, To: c.opts.Account, Text: req.Content, Key: req.Key, Fields: fields})
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(strings.ReplaceAll(err.Error(), "--field ", "fields."), "--key", "key"))
	}
	raw, err := message.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return message.Parse(raw)
}

func inboxItems(items []inbox.Item) []inboxItem {
	out := make([]inboxItem, len(items))
	for i, it := range items {
		out[i] = inboxItem{ID: it.ID, Time: it.Time, View: reply.ViewOf(it.Reply)}
	}
	return out
}

// deliveryLog keeps the log lines of a delivery: those about its user,
// and the warnings and errors logged while it ran (a robot.client call's
// 40003 names no user).
func deliveryLog(entries []logring.Entry, openid string) []logring.Entry {
	out := []logring.Entry{}
	for _, e := range entries {
		if entryAbout(e, openid) || levelAtLeast(e.Level, slog.LevelWarn) {
			out = append(out, e)
		}
	}
	return out
}

// entryAbout reports whether a log line names the user: by openid, or by
// the short hash the delivery log gives it (host.UserHash) unless
// log_user_ids is set.
func entryAbout(e logring.Entry, openid string) bool {
	hash := host.UserHash(openid)
	for _, a := range e.Attrs {
		if a.Key == "user" && (a.Value == openid || a.Value == hash) {
			return true
		}
	}
	return false
}

func levelAtLeast(name string, l slog.Level) bool {
	lv, err := logring.ParseLevel(name)
	return err == nil && lv >= l
}

// ---- GET /api/inbox/{user}?since=N&wait=S ----

type inboxAnswer struct {
	User  string      `json:"user"`
	Items []inboxItem `json:"items"`
}

func (c *Console) inbox(w http.ResponseWriter, r *http.Request) {
	openid, err := consoleUser(r.PathValue("user"))
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since, wait, err := cursorAndWait(r, "since")
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since = ofThisProcess(since, c.opts.Inbox.Last())
	c.waitFor(r, wait, c.opts.Inbox.Changed, func() bool {
		return len(c.opts.Inbox.Since(openid, since)) > 0
	})
	c.writeJSON(w, http.StatusOK, inboxAnswer{User: openid, Items: inboxItems(c.opts.Inbox.Since(openid, since))})
}

// ofThisProcess is a cursor (the id of the last item or line seen) as
// this process reads it: ids start at 1 in each process, so one past the
// newest comes from before a restart, and everything here is new to it.
func ofThisProcess(cursor, newest uint64) uint64 {
	if cursor > newest {
		return 0
	}
	return cursor
}

// cursorAndWait reads a numeric cursor parameter and ?wait= (seconds of
// long poll, at most maxWait).
func cursorAndWait(r *http.Request, name string) (uint64, time.Duration, error) {
	var cursor uint64
	if s := r.URL.Query().Get(name); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s=%q: want the id of the last item seen (a number)", name, s)
		}
		cursor = n
	}
	wait, err := waitParam(r)
	return cursor, wait, err
}

func waitParam(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("wait")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n >= 0) { // NaN too
		return 0, fmt.Errorf("wait=%q: want seconds to wait for news (at most %d)", s, int(maxWait/time.Second))
	}
	// Bounded before the conversion: a float beyond int64's range (1e300,
	// Inf) converts to a negative Duration, which would answer at once.
	if n >= maxWait.Seconds() {
		return maxWait, nil
	}
	return time.Duration(n * float64(time.Second)), nil
}

// waitFor returns once ready() holds, or after wait, or when the client
// goes away; changed gives the channel that announces the next change. It
// reports whether ready() held.
func (c *Console) waitFor(r *http.Request, wait time.Duration, changed func() <-chan struct{}, ready func() bool) bool {
	if wait <= 0 {
		return ready()
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		ch := changed() // before the check: a change between them still wakes us
		if ready() {
			return true
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		case <-r.Context().Done():
			return false
		case <-c.done:
			return false
		}
	}
}

// ---- GET /api/scripts?rev=R&wait=S ----

type scriptsAnswer struct {
	// Rev changes with every reload and handler error: pass it back as
	// ?rev= with ?wait= to wait for the next change.
	Rev          string         `json:"rev"`
	Dir          string         `json:"dir"`
	Version      uint64         `json:"version"`
	LoadedAt     *time.Time     `json:"loaded_at,omitempty"`
	Files        []fileAnswer   `json:"files"`
	Modules      []string       `json:"modules"`
	LoadError    *errorAnswer   `json:"load_error"`    // the newest reload's error, while the files on disk do not load
	HandlerError *errorAnswer   `json:"handler_error"` // the last error a handler raised
	Reloads      []reloadAnswer `json:"reloads"`       // newest first
}

type fileAnswer struct {
	File     string          `json:"file"`
	Handlers []handlerAnswer `json:"handlers"`
}

type handlerAnswer struct {
	Func string `json:"func"`
	Type string `json:"type,omitempty"`
	Rule string `json:"rule,omitempty"`
	At   string `json:"at"`
	Text string `json:"text"` // as luarobot check prints it: robot.filter [text] "help"
}

type errorAnswer struct {
	At      time.Time    `json:"at"`
	Error   string       `json:"error"` // file:line: message
	File    string       `json:"file,omitempty"`
	Line    int          `json:"line,omitempty"`
	Message string       `json:"message"`
	Source  []sourceLine `json:"source,omitempty"` // the lines around Line
}

type sourceLine struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

type reloadAnswer struct {
	At            time.Time `json:"at"`
	TookMS        float64   `json:"took_ms"`
	OK            bool      `json:"ok"`
	Version       uint64    `json:"version,omitempty"`
	Scripts       int       `json:"scripts"`
	Modules       int       `json:"modules"`
	Registrations int       `json:"registrations"`
	Error         string    `json:"error,omitempty"`
}

func reloadOf(rec luaapi.ReloadRecord) reloadAnswer {
	a := reloadAnswer{At: rec.At, TookMS: float64(rec.Took.Microseconds()) / 1000, OK: rec.OK, Version: rec.Version,
		Scripts: rec.Scripts, Modules: rec.Modules, Registrations: rec.Registrations}
	if rec.Err != nil {
		a.Error = rec.Err.Error()
	}
	return a
}

func (c *Console) scripts(w http.ResponseWriter, r *http.Request) {
	wait, err := waitParam(r)
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	seen := r.URL.Query().Get("rev")
	if seen != "" {
		c.waitFor(r, wait, c.opts.Scripts.Changed, func() bool { return c.scriptsRev() != seen })
	}
	c.writeJSON(w, http.StatusOK, c.scriptsAnswer())
}

// scriptsRev identifies the state of the scripts: the newest reload and
// the last handler error.
func (c *Console) scriptsRev() string {
	var reload, handler int64
	if hist := c.opts.Scripts.Reloads(); len(hist) > 0 {
		reload = hist[len(hist)-1].At.UnixNano()
	}
	if rec, ok := c.opts.Scripts.LastHandlerError(); ok {
		handler = rec.At.UnixNano()
	}
	return strconv.FormatInt(reload, 36) + "." + strconv.FormatInt(handler, 36)
}

func (c *Console) scriptsAnswer() scriptsAnswer {
	rev := c.scriptsRev()
	loaded := c.opts.Scripts.Loaded()
	ans := scriptsAnswer{Rev: rev, Dir: loaded.Dir, Version: loaded.Version, LoadedAt: timeOrNil(loaded.LoadedAt),
		Files: []fileAnswer{}, Modules: loaded.Modules, Reloads: []reloadAnswer{}}
	if ans.Modules == nil {
		ans.Modules = []string{}
	}
	for _, f := range loaded.Files {
		fa := fileAnswer{File: f.File, Handlers: []handlerAnswer{}}
		for _, h := range f.Handlers {
			fa.Handlers = append(fa.Handlers, handlerAnswer{Func: h.Func, Type: h.Type, Rule: h.Rule, At: h.At, Text: h.String()})
		}
		ans.Files = append(ans.Files, fa)
	}
	hist := c.opts.Scripts.Reloads()
	for i := len(hist) - 1; i >= 0; i-- {
		ans.Reloads = append(ans.Reloads, reloadOf(hist[i]))
	}
	if n := len(hist); n > 0 && !hist[n-1].OK {
		ans.LoadError = c.errorAnswer(hist[n-1].At, hist[n-1].Err)
	}
	if rec, ok := c.opts.Scripts.LastHandlerError(); ok {
		ans.HandlerError = c.errorAnswer(rec.At, rec.Err)
	}
	return ans
}

func (c *Console) errorAnswer(at time.Time, e *luaapi.Error) *errorAnswer {
	if e == nil {
		return nil
	}
	a := &errorAnswer{At: at, Error: e.Error(), File: e.File, Line: e.Line, Message: e.Message}
	if e.File != "" && e.Line > 0 {
		lines, err := c.opts.Scripts.Source(e.File, e.Line, sourceAround)
		if err == nil {
			for _, l := range lines {
				a.Source = append(a.Source, sourceLine{N: l.N, Text: l.Text})
			}
		}
	}
	return a
}

// ---- GET /api/log?since=N&level=L and the stream ----

type logAnswer struct {
	Entries []logring.Entry `json:"entries"`
	// Last is the id of the newest line logged (shown or filtered out):
	// the next ?since=.
	Last uint64 `json:"last"`
}

func (c *Console) logLines(w http.ResponseWriter, r *http.Request) {
	since, wait, err := cursorAndWait(r, "since")
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	level, err := logring.ParseLevel(r.URL.Query().Get("level"))
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	since = ofThisProcess(since, c.opts.Log.Last())
	c.waitFor(r, wait, c.opts.Log.Changed, func() bool { return c.opts.Log.Last() > since })
	last := c.opts.Log.Last()
	entries := c.opts.Log.Since(since, maxLogBatch, level)
	if len(entries) == maxLogBatch {
		last = entries[len(entries)-1].ID // more to come: continue from here
	}
	if entries == nil {
		entries = []logring.Entry{}
	}
	c.writeJSON(w, http.StatusOK, logAnswer{Entries: entries, Last: last})
}

// keepAlive is how often an idle stream sends a comment, so that proxies
// and the browser keep it open.
const keepAlive = 15 * time.Second

// logStream is GET /api/log/stream: the log as server-sent events, one
// "log" event per line with its id, so that the browser's reconnect
// (Last-Event-ID) resumes where it stopped.
func (c *Console) logStream(w http.ResponseWriter, r *http.Request) {
	since, _, err := cursorAndWait(r, "since")
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		if n, err := strconv.ParseUint(id, 10, 64); err == nil {
			since = n
		}
	}
	since = ofThisProcess(since, c.opts.Log.Last())
	level, err := logring.ParseLevel(r.URL.Query().Get("level"))
	if err != nil {
		c.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rc := http.NewResponseController(w)
	// The admin listener's write timeout is for ordinary answers; a stream
	// lives as long as its page.
	rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "retry: 2000\n\n")
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		changed := c.opts.Log.Changed()
		entries := c.opts.Log.Since(since, maxLogBatch, level)
		buf.Reset()
		for _, e := range entries {
			data, err := c.encode(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(&buf, "id: %d\nevent: log\ndata: %s\n\n", e.ID, bytes.TrimRight(data, "\n"))
			since = e.ID
		}
		if len(entries) < maxLogBatch {
			// Lines filtered out by the level are passed too.
			since = max(since, c.opts.Log.Last())
			if len(entries) == 0 {
				select {
				case <-changed:
					continue
				case <-tick.C:
					buf.WriteString(": keep-alive\n\n")
				case <-r.Context().Done():
					return
				case <-c.done:
					return
				}
			}
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// ---- GET and DELETE /api/sessions/{openid} ----

type sessionAnswer struct {
	OpenID  string          `json:"openid"`
	Session json.RawMessage `json:"session"`
	// Dialog is the record of the dialog in progress (robot.dialog), null
	// when none: its name, start, the recorded steps (answers and d:once
	// results).
	Dialog json.RawMessage `json:"dialog"`
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) {
	openid, ok := c.sessionsFor(w, r)
	if !ok {
		return
	}
	stored, err := c.opts.Sessions.LoadSession(r.Context(), openid)
	if err != nil {
		c.writeError(w, http.StatusServiceUnavailable, "loading the session: "+err.Error())
		return
	}
	if stored == nil {
		c.writeError(w, http.StatusNotFound, fmt.Sprintf("no session for %s", openid))
		return
	}
	sess, dialog := luaapi.SplitSession(stored)
	ans := sessionAnswer{OpenID: openid, Session: asJSON(sess), Dialog: json.RawMessage("null")}
	if len(dialog) > 0 {
		ans.Dialog = asJSON(dialog)
	}
	c.writeJSON(w, http.StatusOK, ans)
}

// asJSON passes valid JSON through and makes anything else a JSON string.
func asJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b))
	return s
}

func (c *Console) deleteSession(w http.ResponseWriter, r *http.Request) {
	openid, ok := c.sessionsFor(w, r)
	if !ok {
		return
	}
	stored, err := c.opts.Sessions.LoadSession(r.Context(), openid)
	if err == nil && stored == nil {
		c.writeError(w, http.StatusNotFound, fmt.Sprintf("no session for %s", openid))
		return
	}
	if err == nil {
		err = c.opts.Sessions.DeleteSession(r.Context(), openid)
	}
	if err != nil {
		c.writeError(w, http.StatusServiceUnavailable, "deleting the session: "+err.Error())
		return
	}
	c.log.Info("console: session deleted", "user", openid)
	w.WriteHeader(http.StatusNoContent)
}

// sessionsFor checks the openid of a sessions route and that sessions are
// kept at all.
func (c *Console) sessionsFor(w http.ResponseWriter, r *http.Request) (string, bool) {
	openid := r.PathValue("openid")
	if openid == "" || len(openid) > 128 || strings.ContainsAny(openid, " \t\r\n") {
		c.writeError(w, http.StatusBadRequest, fmt.Sprintf("openid %q: not an openid", openid))
		return "", false
	}
	if c.opts.Sessions == nil {
		c.writeError(w, http.StatusNotFound, `session_storage is "off": no sessions are kept`)
		return "", false
	}
	return openid, true
}
