package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
)

// decode reads an answer's JSON into v, failing the test on a non-2xx.
func decode(t testing.TB, a answer, v any) {
	t.Helper()
	if a.status/100 != 2 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("not JSON (%v): %s", err, a.body)
	}
}

type view struct {
	ID       uint64 `json:"id"`
	Type     string `json:"type"`
	Content  string `json:"content"`
	MediaID  string `json:"media_id"`
	Title    string `json:"title"`
	URL      string `json:"url"`
	Articles []struct {
		Title, Description, Img, URL string
	} `json:"articles"`
}

type logEntry struct {
	ID    uint64 `json:"id"`
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Attrs []struct{ Key, Value string }
}

type tryAnswer struct {
	User  string     `json:"user"`
	Reply view       `json:"reply"`
	Sent  []view     `json:"sent"`
	Log   []logEntry `json:"log"`
}

func (e *env) try(body string) tryAnswer {
	e.t.Helper()
	var ans tryAnswer
	decode(e.t, e.post("/api/try", body), &ans)
	return ans
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.try(`{"user":"me","content":"hi"}`)
	e.try(`{"user":"me","content":"whoami"}`) // fetches an access token
	var s struct {
		Version       string    `json:"version"`
		Started       time.Time `json:"started"`
		UptimeSeconds int64     `json:"uptime_seconds"`
		Mode          string    `json:"mode"`
		Scripts       struct {
			Dir                           string
			Version, Files, Registrations int
			LastReload                    struct{ OK bool } `json:"last_reload"`
		}
		Deliveries  struct{ Total int64 }
		AccessToken struct {
			Configured, Cached bool
			Fetches            int64
			UseUntil           time.Time `json:"use_until"`
		} `json:"access_token"`
	}
	decode(t, e.get("/api/status"), &s)
	if s.Version == "" || s.Mode != "aes" || s.Started.IsZero() {
		t.Errorf("host: %+v", s)
	}
	if s.Scripts.Dir != e.dir || s.Scripts.Version != 1 || s.Scripts.Files != 1 || s.Scripts.Registrations < 8 || !s.Scripts.LastReload.OK {
		t.Errorf("scripts: %+v", s.Scripts)
	}
	if s.Deliveries.Total != 2 {
		t.Errorf("deliveries: %+v", s.Deliveries)
	}
	if !s.AccessToken.Configured || !s.AccessToken.Cached || s.AccessToken.Fetches != 1 || !s.AccessToken.UseUntil.After(time.Now()) {
		t.Errorf("access token: %+v", s.AccessToken)
	}
}

func TestTryMessageTypes(t *testing.T) {
	e := newEnv(t)
	ans := e.try(`{"user":"alice","type":"text","content":"hello"}`)
	if ans.User != "console-alice" || ans.Reply.Type != "text" || ans.Reply.Content != "echo: hello" || len(ans.Sent) != 0 {
		t.Errorf("text: %+v", ans)
	}
	// The delivery's own log line (the user as its short hash) names the
	// handler that answered.
	if !hasLog(ans.Log, "bot.lua:9") || !hasLog(ans.Log, host.UserHash("console-alice")) {
		t.Errorf("text: no log line of the delivery: %+v", ans.Log)
	}
	ans = e.try(`{"user":"alice","type":"click","key":"news"}`)
	if ans.Reply.Type != "news" || len(ans.Reply.Articles) != 2 || ans.Reply.Articles[0].Title != "LuaRoBot 1.0" || ans.Reply.Articles[0].Img != "https://example.com/cover.jpg" {
		t.Errorf("click news: %+v", ans.Reply)
	}
	if ans := e.try(`{"user":"alice","type":"click_event","key":"music"}`); ans.Reply.Type != "music" || ans.Reply.Title != "小夜曲" {
		t.Errorf("click music: %+v", ans.Reply)
	}
	if ans := e.try(`{"user":"alice","type":"subscribe"}`); ans.Reply.Content != "感谢关注！发送「下单」试试对话。" {
		t.Errorf("subscribe: %+v", ans.Reply)
	}
	if ans := e.try(`{"user":"alice","type":"location","fields":{"label":"上海","location_x":31.2,"scale":15}}`); ans.Reply.Content != "你在 上海" {
		t.Errorf("location: %+v", ans.Reply)
	}
	if ans := e.try(`{"user":"alice","type":"image","fields":{"media_id":"MEDIA1"}}`); ans.Reply.Type != "image" || ans.Reply.MediaID != "MEDIA1" {
		t.Errorf("image: %+v", ans.Reply)
	}
	// Nothing answers an unsubscribe: success.
	if ans := e.try(`{"user":"alice","type":"unsubscribe"}`); ans.Reply.Type != "success" {
		t.Errorf("unsubscribe: %+v", ans.Reply)
	}
}

func TestTryUsersAreAlwaysConsoleUsers(t *testing.T) {
	e := newEnv(t)
	for user, want := range map[string]string{"bob": "console-bob", "console-bob": "console-bob", " carol ": "console-carol"} {
		if ans := e.try(`{"user":"` + user + `","content":"count"}`); ans.User != want {
			t.Errorf("user %q became %q, want %q", user, ans.User, want)
		}
	}
	if ans := e.try(`{"user":"bob","content":"count"}`); ans.Reply.Content != "n=3" {
		t.Errorf("bob and console-bob are one user with a real session: %+v", ans.Reply)
	}
	for _, c := range []struct{ body, want string }{
		{`{"user":"","content":"x"}`, "user: required"},
		{`{"user":"o Real Follower","content":"x"}`, "letters, digits"},
		{`{"user":"console-","content":"x"}`, "user: required"},
		{`{"user":"` + strings.Repeat("x", 65) + `","content":"x"}`, "up to 64"},
		{`{"user":"me","type":"teleport"}`, `unknown message type`},
		{`{"user":"me","type":"text","key":"k"}`, "key: a text has no key"},
		{`{"user":"me","type":"location","fields":{"altitude":3}}`, "fields.altitude: a location has no such field"},
		{`{"user":"me","content":"x","extra":1}`, `unknown field`},
		{`not json`, "not a try request"},
	} {
		a := e.post("/api/try", c.body)
		if a.status != http.StatusBadRequest || !strings.Contains(a.body, c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.body, a.status, a.body, c.want)
		}
	}
}

func TestTrySentAndErrors(t *testing.T) {
	e := newEnv(t)
	// robot.send to a console user: in sent, not at WeChat.
	ans := e.try(`{"user":"me","content":"push"}`)
	if ans.Reply.Content != "ok" || len(ans.Sent) != 1 || ans.Sent[0].Content != "pushed through the customer-service API" || ans.Sent[0].ID == 0 {
		t.Errorf("push: %+v", ans)
	}
	// The rest of a long text is in sent too.
	ans = e.try(`{"user":"me","content":"long"}`)
	whole := ans.Reply.Content
	for _, s := range ans.Sent {
		whole += s.Content
	}
	if len(ans.Sent) < 2 || whole != strings.Repeat("很长的回复。", 400) {
		t.Errorf("long text: passive %d bytes, %d parts sent", len(ans.Reply.Content), len(ans.Sent))
	}
	if n := len(e.wx.Messages()); n != 0 {
		t.Errorf("WeChat's customer-service API got %d messages for console users", n)
	}
	// A handler error: success, and the error with its line in the log.
	ans = e.try(`{"user":"me","content":"boom"}`)
	if ans.Reply.Type != "success" || !hasLog(ans.Log, "bot.lua:28: boom in a handler") {
		t.Errorf("boom: %+v", ans)
	}
	// robot.client calls for a console user still go to WeChat, which does
	// not know the openid.
	e.wx.FailAlways("/cgi-bin/user/info", 40003)
	ans = e.try(`{"user":"me","content":"whoami"}`)
	if !strings.HasPrefix(ans.Reply.Content, "WeChat said 40003") || !hasLog(ans.Log, "40003") {
		t.Errorf("whoami: %+v", ans)
	}
	if calls := e.wx.CallsTo("/cgi-bin/user/info"); len(calls) != 1 || !strings.Contains(calls[0].Query.Get("openid"), "console-me") {
		t.Errorf("user/info calls: %+v", calls)
	}
}

func hasLog(entries []logEntry, s string) bool {
	for _, l := range entries {
		if strings.Contains(l.Msg, s) {
			return true
		}
		for _, a := range l.Attrs {
			if strings.Contains(a.Value, s) {
				return true
			}
		}
	}
	return false
}

func TestInbox(t *testing.T) {
	e := newEnv(t)
	type inboxAnswer struct {
		User  string `json:"user"`
		Items []view `json:"items"`
	}
	var in inboxAnswer
	decode(t, e.get("/api/inbox/me"), &in)
	if in.User != "console-me" || len(in.Items) != 0 {
		t.Fatalf("empty inbox: %+v", in)
	}
	push := e.try(`{"user":"me","content":"push"}`)
	decode(t, e.get("/api/inbox/console-me?since=0"), &in)
	if len(in.Items) != 1 || in.Items[0].ID != push.Sent[0].ID {
		t.Fatalf("inbox after a push: %+v", in)
	}
	// A reply past reply_timeout (10 s): success now, the reply in the
	// inbox later; a long poll waits for it.
	last := in.Items[0].ID
	slow := e.try(`{"user":"me","content":"slow"}`)
	if slow.Reply.Type != "success" {
		t.Fatalf("slow: %+v", slow.Reply)
	}
	start := time.Now()
	decode(t, e.get("/api/inbox/me?wait=20&since="+itoa(last)), &in)
	if len(in.Items) != 1 || in.Items[0].Content != "slow answer" || in.Items[0].ID <= last {
		t.Fatalf("late reply: %+v", in)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("the long poll did not return when the reply came")
	}
	// Another user's inbox does not have it.
	decode(t, e.get("/api/inbox/other?since=0"), &in)
	if len(in.Items) != 0 {
		t.Errorf("other user's inbox: %+v", in)
	}
	for _, bad := range []string{"/api/inbox/me?since=x", "/api/inbox/me?wait=-1", "/api/inbox/a%20b"} {
		if a := e.get(bad); a.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", bad, a.status, a.body)
		}
	}
}

func itoa(n uint64) string { return strings.TrimSpace(strings.Replace(jsonOf(n), `"`, "", -1)) }

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

type scriptsAnswer struct {
	Rev     string `json:"rev"`
	Version int    `json:"version"`
	Files   []struct {
		File     string
		Handlers []struct{ Func, Type, Rule, At, Text string }
	}
	LoadError *struct {
		Error, File, Message string
		Line                 int
		Source               []struct {
			N    int
			Text string
		}
	} `json:"load_error"`
	HandlerError *struct {
		Error string
		Line  int
	} `json:"handler_error"`
	Reloads []struct {
		OK    bool
		Error string
	}
}

func TestScripts(t *testing.T) {
	e := newEnv(t)
	var s scriptsAnswer
	decode(t, e.get("/api/scripts"), &s)
	if len(s.Files) != 1 || s.Files[0].File != "bot.lua" || s.LoadError != nil || s.HandlerError != nil || len(s.Reloads) != 1 {
		t.Fatalf("scripts: %+v", s)
	}
	texts := ""
	for _, h := range s.Files[0].Handlers {
		texts += h.At + " " + h.Text + "\n"
	}
	for _, want := range []string{"bot.lua:7 robot.filter [text] \"下单\"", "bot.lua:9 robot.text", "robot.key_click [click_event] key \"news\"", "robot.dialog \"order\""} {
		if !strings.Contains(texts, want) {
			t.Errorf("registrations lack %q:\n%s", want, texts)
		}
	}

	// A long poll on the current rev waits for the next change: a broken
	// save, reported with its line and the source around it.
	done := make(chan answer, 1)
	go func() { done <- e.get("/api/scripts?wait=20&rev=" + s.Rev) }()
	time.Sleep(200 * time.Millisecond)
	e.write("bot.lua", "robot.text(function()\n  return 'x'\nend)\nrobot.text(function()\n  return 'y'\n")
	if err := e.rt.Reload(); err == nil {
		t.Fatal("the broken script loaded")
	}
	var broken scriptsAnswer
	select {
	case a := <-done:
		decode(t, a, &broken)
	case <-time.After(30 * time.Second):
		t.Fatal("the long poll did not return")
	}
	le := broken.LoadError
	if le == nil || le.File != "bot.lua" || le.Line != 5 || !strings.HasPrefix(le.Error, "bot.lua:5: ") || broken.Rev == s.Rev {
		t.Fatalf("load error: %+v", broken)
	}
	if len(le.Source) == 0 || le.Source[len(le.Source)-1].N != 5 || le.Source[len(le.Source)-1].Text != "  return 'y'" {
		t.Errorf("source around the error: %+v", le.Source)
	}
	if broken.Version != s.Version || len(broken.Files[0].Handlers) != len(s.Files[0].Handlers) {
		t.Errorf("the old scripts should keep serving: %+v", broken)
	}
	if len(broken.Reloads) != 2 || broken.Reloads[0].OK || !strings.Contains(broken.Reloads[0].Error, "bot.lua:5") {
		t.Errorf("reloads (newest first): %+v", broken.Reloads)
	}

	// A handler error shows too.
	e.try(`{"user":"me","content":"boom"}`)
	decode(t, e.get("/api/scripts"), &s)
	if s.HandlerError == nil || s.HandlerError.Line != 28 || !strings.Contains(s.HandlerError.Error, "boom in a handler") {
		t.Errorf("handler error: %+v", s.HandlerError)
	}
	// Fixed: the error is gone, the new handlers are there.
	e.write("bot.lua", "robot.text(function() return 'fixed' end)\n")
	if err := e.rt.Reload(); err != nil {
		t.Fatal(err)
	}
	decode(t, e.get("/api/scripts"), &s)
	if s.LoadError != nil || len(s.Files[0].Handlers) != 1 || s.Version <= broken.Version {
		t.Errorf("after the fix: %+v", s)
	}
	if a := e.get("/api/scripts?wait=x&rev=1"); a.status != http.StatusBadRequest {
		t.Errorf("bad wait: %d", a.status)
	}
}

type logAnswer struct {
	Entries []logEntry `json:"entries"`
	Last    uint64     `json:"last"`
}

func TestLog(t *testing.T) {
	e := newEnv(t)
	e.log.Debug("a debug line")
	e.log.Warn("a warning", "n", 1)
	var l logAnswer
	decode(t, e.get("/api/log"), &l)
	if len(l.Entries) < 2 || l.Last != l.Entries[len(l.Entries)-1].ID {
		t.Fatalf("log: %+v", l)
	}
	decode(t, e.get("/api/log?level=warn"), &l)
	for _, en := range l.Entries {
		if en.Level != "WARN" && en.Level != "ERROR" {
			t.Errorf("level=warn gave %+v", en)
		}
	}
	last := l.Last
	decode(t, e.get("/api/log?since="+itoa(last)), &l)
	if len(l.Entries) != 0 || l.Last != last {
		t.Errorf("since=last: %+v", l)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		e.log.Info("arrives later")
	}()
	decode(t, e.get("/api/log?wait=20&since="+itoa(last)), &l)
	if len(l.Entries) != 1 || l.Entries[0].Msg != "arrives later" || l.Entries[0].ID != last+1 {
		t.Errorf("long poll: %+v", l)
	}
	for _, bad := range []string{"/api/log?level=loud", "/api/log?since=-1", "/api/log/stream?level=x"} {
		if a := e.get(bad); a.status != http.StatusBadRequest || !strings.Contains(a.body, "error") {
			t.Errorf("%s: %d %s", bad, a.status, a.body)
		}
	}
}

// TestLogStream: server-sent events with ids; a reconnect with
// Last-Event-ID resumes after the last line seen.
func TestLogStream(t *testing.T) {
	e := newEnv(t)
	e.log.Info("first line")
	read := func(lastID string, n int) []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/log/stream", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || res.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("stream headers: %v", res.Header)
		}
		// An event is its lines up to an empty line: only then does a
		// browser's EventSource dispatch it.
		var events []string
		var id, data string
		sc := bufio.NewScanner(res.Body)
		for len(events) < n && sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && data != "":
				var en logEntry
				if err := json.Unmarshal([]byte(data), &en); err != nil {
					t.Fatalf("event data: %v: %s", err, data)
				}
				if itoa(en.ID) != id {
					t.Errorf("event id %s, data id %d", id, en.ID)
				}
				events = append(events, id+" "+en.Msg)
				id, data = "", ""
			}
		}
		return events
	}
	got := read("", 1)
	if len(got) != 1 {
		t.Fatalf("stream: %v", got)
	}
	var l logAnswer
	decode(t, e.get("/api/log"), &l)
	firstID := itoa(l.Entries[len(l.Entries)-1].ID)
	go func() {
		time.Sleep(200 * time.Millisecond)
		e.log.Info("second line")
		e.log.Info("third line")
	}()
	got = read(firstID, 2)
	if len(got) != 2 || !strings.HasSuffix(got[0], " second line") || !strings.HasSuffix(got[1], " third line") {
		t.Errorf("resumed stream: %v", got)
	}
}

type sessionAnswer struct {
	OpenID  string          `json:"openid"`
	Session map[string]any  `json:"session"`
	Dialog  json.RawMessage `json:"dialog"`
}

func TestSessions(t *testing.T) {
	e := newEnv(t)
	if a := e.get("/api/sessions/console-me"); a.status != http.StatusNotFound || !strings.Contains(a.body, "no session for console-me") {
		t.Errorf("no session: %d %s", a.status, a.body)
	}
	e.try(`{"user":"me","content":"count"}`)
	if ans := e.try(`{"user":"me","content":"下单"}`); ans.Reply.Content != "请问怎么称呼？" {
		t.Fatalf("dialog start: %+v", ans.Reply)
	}
	e.try(`{"user":"me","content":"小明"}`)
	var s sessionAnswer
	decode(t, e.get("/api/sessions/console-me"), &s)
	if s.OpenID != "console-me" || s.Session["n"] != float64(1) {
		t.Errorf("session: %+v", s)
	}
	var dialog struct {
		Name  string
		Steps []struct{ Kind string }
	}
	if err := json.Unmarshal(s.Dialog, &dialog); err != nil || dialog.Name != "order" || len(dialog.Steps) != 1 {
		t.Errorf("dialog: %s (%v)", s.Dialog, err)
	}
	// Real followers' sessions can be looked up too (by openid).
	e.sessions.SaveSession(context.Background(), "oRealFollower", []byte(`{"visits":3}`))
	decode(t, e.get("/api/sessions/oRealFollower"), &s)
	if s.Session["visits"] != float64(3) || string(s.Dialog) != "null" {
		t.Errorf("follower's session: %+v", s)
	}
	if a := e.do(request{method: "DELETE", path: "/api/sessions/console-me", bearer: adminToken}); a.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", a.status, a.body)
	}
	if a := e.get("/api/sessions/console-me"); a.status != http.StatusNotFound {
		t.Errorf("after delete: %d", a.status)
	}
	if a := e.do(request{method: "DELETE", path: "/api/sessions/console-me", bearer: adminToken}); a.status != http.StatusNotFound {
		t.Errorf("delete again: %d", a.status)
	}
	// The user starts afresh: no count, no dialog.
	if ans := e.try(`{"user":"me","content":"count"}`); ans.Reply.Content != "n=1" {
		t.Errorf("after delete: %+v", ans.Reply)
	}
}

func TestSessionsOff(t *testing.T) {
	e := newEnv(t, envOptions{noSessions: true})
	for _, m := range []string{"GET", "DELETE"} {
		a := e.do(request{method: m, path: "/api/sessions/console-me", bearer: adminToken})
		if a.status != http.StatusNotFound || !strings.Contains(a.body, `session_storage is \"off\"`) {
			t.Errorf("%s with sessions off: %d %s", m, a.status, a.body)
		}
	}
}

// TestCursorsOfAnEarlierProcess: log lines and inbox items are numbered
// from 1 by each process, so a cursor past the newest id comes from
// before a restart (a page left open, an SSE client's Last-Event-ID). It
// reads from the start, not "after" ids this process has not reached.
// Before, a long poll with such a cursor waited out its time, and a
// resumed stream showed nothing until the ring's numbers caught up.
func TestCursorsOfAnEarlierProcess(t *testing.T) {
	e := newEnv(t)
	push := e.try(`{"user":"me","content":"push"}`)
	var in struct{ Items []view }
	decode(t, e.get("/api/inbox/me?wait=5&since=90000"), &in)
	if len(in.Items) != 1 || in.Items[0].ID != push.Sent[0].ID {
		t.Errorf("inbox with a cursor past the newest item: %+v", in)
	}
	e.log.Warn("logged by this process")
	var l logAnswer
	decode(t, e.get("/api/log?wait=5&since=90000"), &l)
	if len(l.Entries) == 0 || l.Entries[0].ID != 1 {
		t.Errorf("log with a cursor past the newest line: %+v", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/log/stream", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Last-Event-ID", "90000")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "logged by this process") {
			return
		}
	}
	t.Errorf("the stream resumed from Last-Event-ID 90000 never showed this process's line: %v", sc.Err())
}
