package main

// robot.dialog through the whole host: signed requests in, XML replies,
// stored sessions and log lines out. The bot is testdata/dialog/bot.lua.

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/internal/fakeclock"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store"
	"github.com/luarobot/luarobot/store/memory"
	"github.com/luarobot/luarobot/store/storeopen"
	"github.com/luarobot/luarobot/store/storetest"
)

// dialogBot is a host serving a scripts folder in this process: the Lua
// runtime, the host's handler on an httptest server, and a simulator
// that signs the requests.
type dialogBot struct {
	t     *testing.T
	store store.Store
	clock *fakeclock.Clock
	wx    *fakewechat.Server
	logs  syncBuffer
	rt    *luaapi.Runtime
	h     *host.Handler
	srv   *httptest.Server
	sim   *simulate.Simulator
}

const dialogAppID = "wxdialog00000000001"

// The in-process hosts of these tests wait testReplyTimeout for a passive
// reply, and their simulators testSimTimeout for the answer. WeChat's 5s is
// for production: a race-built test on a busy 2-core machine can take
// longer than that to run a script, and these tests check what the reply
// says. The deadline has its own tests (host/engine_test.go).
const (
	testReplyTimeout = 30 * time.Second
	testSimTimeout   = 2 * testReplyTimeout
)

// startDialogBot serves dir with st as the store. The store outlives the
// bot (see stop), as a database file outlives a process.
func startDialogBot(t *testing.T, dir string, st store.Store) *dialogBot {
	t.Helper()
	b := &dialogBot{t: t, store: st, clock: fakeclock.New(time.Now()), wx: fakewechat.New(dialogAppID, "secret"),
		logs: syncBuffer{new(sync.Mutex), new(bytes.Buffer)}}
	t.Cleanup(b.wx.Close)
	b.wx.Answer("/cgi-bin/user/info", map[string]any{"openid": "o", "nickname": "小明"})
	log := slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	api, err := client.New(client.Options{AppID: dialogAppID, AppSecret: "secret", APIBase: b.wx.URL, Tokens: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	b.rt, err = luaapi.New(luaapi.Options{Dir: dir, Client: api, Values: st, Logger: log, Now: b.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	b.h, err = host.New(host.Options{Token: "tok", AppID: dialogAppID, Dispatcher: b.rt, Sessions: st, Logger: log,
		ReplyTimeout: testReplyTimeout})
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(b.h)
	b.sim, err = simulate.New(simulate.Options{URL: b.srv.URL + "/", Token: "tok", AppID: dialogAppID, Timeout: testSimTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("host logs:\n%s", b.log())
		}
	})
	return b
}

// stop shuts the bot down (the store stays open); stopping twice is fine.
func (b *dialogBot) stop() {
	if b.srv == nil {
		return
	}
	b.srv.Close()
	b.h.Close(context.Background())
	b.rt.Close()
	b.srv = nil
}

func (b *dialogBot) log() string {
	b.logs.mu.Lock()
	defer b.logs.mu.Unlock()
	return b.logs.buf.String()
}

// deliver sends a message of spec and returns what the user sees: the
// content of a text reply, "<image MEDIA>" for an image, "" for success.
func (b *dialogBot) deliver(spec simulate.Spec) string {
	b.t.Helper()
	return deliverTo(b.t, b.sim, spec)
}

func deliverTo(t *testing.T, sim *simulate.Simulator, spec simulate.Spec) string {
	t.Helper()
	m, err := simulate.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := message.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	d := sim.Deliver(context.Background(), raw)
	if d.Err != nil || d.Status != 200 {
		t.Fatalf("%s %q: %d %v %s", spec.Type, spec.Text, d.Status, d.Err, d.Body)
	}
	return replyText(t, d.Body)
}

// replyText reads a passive reply as the user sees it.
func replyText(t *testing.T, body []byte) string {
	t.Helper()
	if s := strings.TrimSpace(string(body)); s == "" || s == "success" {
		return ""
	}
	var r struct {
		MsgType string
		Content string
		Image   struct{ MediaId string }
	}
	if err := xml.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	if r.MsgType != "text" {
		return "<" + r.MsgType + " " + r.Image.MediaId + ">"
	}
	return r.Content
}

func (b *dialogBot) text(user, content string) string {
	b.t.Helper()
	return b.deliver(simulate.Spec{Type: "text", From: user, Text: content})
}

// say sends each text in turn and checks each reply.
func (b *dialogBot) say(user string, exchange ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(exchange); i += 2 {
		if got := b.text(user, exchange[i]); got != exchange[i+1] {
			b.t.Fatalf("%s: %q answered %q, want %q", user, exchange[i], got, exchange[i+1])
		}
	}
}

// stored returns the user's stored session as scripts see it, and the name
// of the user's dialog in progress ("" for none).
func storedSession(t *testing.T, st store.Store, user string) (map[string]any, string) {
	t.Helper()
	raw, err := st.LoadSession(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	sess, dlg := luaapi.SplitSession(raw)
	var m map[string]any
	if err := json.Unmarshal(sess, &m); err != nil {
		t.Fatalf("stored session %s: %v", raw, err)
	}
	var rec struct{ Name string }
	if dlg != nil {
		if err := json.Unmarshal(dlg, &rec); err != nil {
			t.Fatalf("dialog record %s: %v", dlg, err)
		}
	}
	return m, rec.Name
}

func newMemoryBot(t *testing.T) *dialogBot {
	st := memory.New(memory.Options{})
	t.Cleanup(func() { st.Close() })
	return startDialogBot(t, "testdata/dialog", st)
}

// TestDialogOrderForm: the order form of DESIGN.md, end to end, while
// another user talks to the bot undisturbed.
func TestDialogOrderForm(t *testing.T) {
	b := newMemoryBot(t)
	b.say("oAlice",
		"下单", "请问怎么称呼？",
		"小明", "手机号？",
		"123", "请输入 11 位手机号",
	)
	// Another user is untouched by Alice's dialog, and Alice's messages
	// go to her dialog before any other handler.
	b.say("oBob", "小明", "echo 小明 orders=nil")
	if _, dlg := storedSession(t, b.store, "oAlice"); dlg != "order" {
		t.Fatalf("Alice's stored dialog: %q", dlg)
	}
	b.say("oAlice",
		"13800138000", "确认下单？\n1. 确认\n2. 再想想",
		"3", "确认下单？\n1. 确认\n2. 再想想", // not an option
		"1", "下单成功：小明 13800138000",
		"hi", "echo hi orders=1",
	)
	sess, dlg := storedSession(t, b.store, "oAlice")
	if dlg != "" || sess["orders"] != float64(1) {
		t.Fatalf("after the order: session %v, dialog %q", sess, dlg)
	}
	// d:choose takes the option's text too; returning early ends it.
	b.say("oAlice",
		"下单", "请问怎么称呼？",
		"小红", "手机号？",
		"13900139000", "确认下单？\n1. 确认\n2. 再想想",
		" 再想想 ", "好的，下次再来",
		"hi", "echo hi orders=1",
	)
	// Session changes of a dialog apply once, however often it replays.
	b.say("oAlice", "下单", "请问怎么称呼？", "小明", "手机号？", "13800138000", "确认下单？\n1. 确认\n2. 再想想", "１", "下单成功：小明 13800138000")
	if sess, _ := storedSession(t, b.store, "oAlice"); sess["orders"] != float64(2) {
		t.Fatalf("orders after the second order: %v", sess["orders"])
	}
}

// TestDialogChecks: a list of texts, a function returning an error text, a
// message of the wrong type, and tries running out with fail.
func TestDialogChecks(t *testing.T) {
	b := newMemoryBot(t)
	u := "oCheck"
	b.say(u,
		"问卷", "尺码？",
		"XL", "请回复 S、M 或 L",
		" M ", "年龄？",
		"两百", "请输入数字",
		"30", "尺码 M，年龄 30",
	)
	// tries = 2: an image is a try too, and the second wrong answer ends
	// the dialog with its fail reply.
	b.say(u, "问卷", "尺码？", "L", "年龄？")
	if got := b.deliver(simulate.Spec{Type: "image", From: u}); got != "年龄？" {
		t.Fatalf("an image for d:ask answered %q, want the prompt again", got)
	}
	b.say(u,
		"200", "问卷结束，请稍后再试",
		"30", "echo 30 orders=nil", // the dialog is over
	)
	// The order form's phone: tries = 3 and the default fail.
	b.say(u,
		"下单", "请问怎么称呼？",
		"小明", "手机号？",
		"123", "请输入 11 位手机号",
		"abc", "请输入 11 位手机号",
		"1380013800", "已结束",
		"13800138000", "echo 13800138000 orders=nil",
	)
	if _, dlg := storedSession(t, b.store, u); dlg != "" {
		t.Errorf("a failed dialog left its record: %q", dlg)
	}
}

func TestDialogCancel(t *testing.T) {
	b := newMemoryBot(t)
	b.say("oCancel",
		"下单", "请问怎么称呼？",
		"小明", "手机号？",
		" 退出 ", "已取消",
		"小明", "echo 小明 orders=nil",
		"问卷", "尺码？",
		"算了", "好的，不问了",
	)
	if _, dlg := storedSession(t, b.store, "oCancel"); dlg != "" {
		t.Errorf("a cancelled dialog left its record: %q", dlg)
	}
}

// TestDialogTimeout: timeout is silence, counted from the user's last
// message in the dialog; after it, messages go to the other handlers and
// the record is removed.
func TestDialogTimeout(t *testing.T) {
	b := newMemoryBot(t)
	u := "oSlow"
	b.say(u, "下单", "请问怎么称呼？")
	b.clock.Advance(9 * time.Minute)
	b.say(u, "小明", "手机号？")
	b.clock.Advance(9 * time.Minute) // 18 minutes since the start, 9 of silence
	b.say(u, "123", "请输入 11 位手机号")
	b.clock.Advance(10*time.Minute + time.Second)
	b.say(u, "13800138000", "echo 13800138000 orders=nil")
	if _, dlg := storedSession(t, b.store, u); dlg != "" {
		t.Errorf("a timed-out dialog left its record: %q", dlg)
	}
	if !strings.Contains(b.log(), `msg="dialog timed out" dialog=order`) {
		t.Errorf("no log line for the timeout:\n%s", b.log())
	}
}

// TestDialogEvents: events are no answers; they go to the other handlers
// (whose session changes the dialog keeps), and unsubscribe ends it.
func TestDialogEvents(t *testing.T) {
	b := newMemoryBot(t)
	u := "oEvents"
	b.say(u, "下单", "请问怎么称呼？")
	if got := b.deliver(simulate.Spec{Type: "click", From: u, Key: "menu"}); got != "点击了菜单（1）" {
		t.Fatalf("a click during a dialog answered %q", got)
	}
	if got := b.deliver(simulate.Spec{Type: "location_event", From: u}); got != "" {
		t.Fatalf("a location report answered %q", got)
	}
	b.say(u,
		"小明", "手机号？",
		"13800138000", "确认下单？\n1. 确认\n2. 再想想",
	)
	// A second click in the same second with the same key would be
	// WeChat's retry of the first: this one is a minute later.
	if got := b.deliver(simulate.Spec{Type: "click", From: u, Key: "menu", Time: time.Now().Unix() + 60}); got != "点击了菜单（2）" {
		t.Fatalf("the second click answered %q", got)
	}
	b.say(u, "1", "下单成功：小明 13800138000")
	sess, _ := storedSession(t, b.store, u)
	if sess["clicks"] != float64(2) || sess["orders"] != float64(1) || sess["last_seen"] == nil {
		t.Errorf("session after a dialog with events: %v (the handlers' changes must survive the replays)", sess)
	}

	// Events are no tries either: the age step allows 2, one is used, and
	// two clicks in between leave the second.
	b.say(u, "问卷", "尺码？", "M", "年龄？", "两百", "请输入数字")
	for i := int64(1); i <= 2; i++ {
		if got := b.deliver(simulate.Spec{Type: "click", From: u, Key: "menu", Time: time.Now().Unix() + 60*(1+i)}); got != fmt.Sprintf("点击了菜单（%d）", 2+i) {
			t.Fatalf("click %d while d:ask waits with one try left: %q", i, got)
		}
	}
	b.say(u, "30", "尺码 M，年龄 30")

	b.say(u, "下单", "请问怎么称呼？")
	if got := b.deliver(simulate.Spec{Type: "unsubscribe", From: u}); got != "" {
		t.Fatalf("unsubscribe answered %q", got)
	}
	if _, dlg := storedSession(t, b.store, u); dlg != "" {
		t.Errorf("unsubscribe left the dialog: %q", dlg)
	}
	b.say(u, "小明", "echo 小明 orders=1")
}

// TestDialogOnceCallsTheAPIOnce: d:once calls the WeChat API once for the
// whole dialog, however often the function replays; d:wait takes only its
// type.
func TestDialogOnceCallsTheAPIOnce(t *testing.T) {
	b := newMemoryBot(t)
	u := "oCheckin"
	b.say(u,
		"打卡", "小明，请发送你的位置",
		"我在这里", "请发送位置（不是文字）",
	)
	if got := b.deliver(simulate.Spec{Type: "location", From: u}); got != "再发一张照片" {
		t.Fatalf("location answered %q", got)
	}
	if got := b.deliver(simulate.Spec{Type: "voice", From: u}); got != "再发一张照片" {
		t.Fatalf("a voice message for d:wait(image) answered %q", got)
	}
	if got := b.deliver(simulate.Spec{Type: "image", From: u}); got != "小明 在 广州市海珠区 打卡（simulated_media_id），第 1 次" {
		t.Fatalf("image answered %q", got)
	}
	if n := len(b.wx.CallsTo("/cgi-bin/user/info")); n != 1 {
		t.Errorf("user/info called %d times for one dialog of five messages, want 1", n)
	}
}

// TestDialogWaitAnyMessage: d:wait without a type takes any message, and
// d.message is the message being handled, each answer in turn.
func TestDialogWaitAnyMessage(t *testing.T) {
	b := newMemoryBot(t)
	u := "oFeedback"
	b.say(u, "反馈", "请发送反馈：文字、图片、语音都可以")
	if got := b.deliver(simulate.Spec{Type: "image", From: u}); got != "还有吗？（刚收到 image）" {
		t.Fatalf("an image for d:wait() answered %q", got)
	}
	if got := b.deliver(simulate.Spec{Type: "voice", From: u}); got != "收到 image 和 voice，开始于「反馈」，最后一条是 voice" {
		t.Fatalf("a voice message for d:wait() answered %q", got)
	}
	// A text is a message like any other.
	b.say(u, "反馈", "请发送反馈：文字、图片、语音都可以", "很好用", "还有吗？（刚收到 text）", "没了", "收到 text 和 text，开始于「反馈」，最后一条是 text")
}

// TestDialogPcall: a pcall around d:ask catches the stop but the dialog
// still waits there, and what the function did after it is not kept.
func TestDialogPcall(t *testing.T) {
	b := newMemoryBot(t)
	b.say("oPcall", "pcall", "你确定吗？")
	if sess, dlg := storedSession(t, b.store, "oPcall"); dlg != "guarded" || sess["after_pcall"] != nil {
		t.Fatalf("after the stop: session %v, dialog %q", sess, dlg)
	}
	b.say("oPcall", "是", "答：是")
	if sess, _ := storedSession(t, b.store, "oPcall"); sess["after_pcall"] != true {
		t.Fatalf("after the answer: session %v", sess)
	}
}

// TestDialogStepLimit: a dialog has at most 50 steps.
func TestDialogStepLimit(t *testing.T) {
	b := newMemoryBot(t)
	u := "oLong"
	b.say(u, "长对话", "第 1 问")
	for i := 1; i < 50; i++ {
		b.say(u, "答", "第 "+strconv.Itoa(i+1)+" 问")
	}
	b.say(u, "答", "已结束", "答", "echo 答 orders=nil")
	if !strings.Contains(b.log(), "a dialog has at most 50 steps") || !strings.Contains(b.log(), "dialog=long") {
		t.Errorf("no log line for the step limit:\n%s", b.log())
	}
}

// TestDialogSessionSizeLimit: the record counts against the session size
// limit; a dialog whose record does not fit ends, and the session is kept.
func TestDialogSessionSizeLimit(t *testing.T) {
	b := newMemoryBot(t)
	u := "oBig"
	b.say(u,
		"垫", "垫好了",
		"大记录", "已结束",
		"还在吗", "echo 还在吗 orders=nil",
	)
	sess, dlg := storedSession(t, b.store, u)
	if dlg != "" || len(sess["pad"].(string)) != 5<<19 {
		t.Errorf("after a record that did not fit: dialog %q, pad of %d bytes", dlg, len(sess["pad"].(string)))
	}
	if !strings.Contains(b.log(), `msg="dialog ended: its record does not fit in the session" dialog=big`) {
		t.Errorf("no log line for the record:\n%s", b.log())
	}
}

// TestDialogSurvivesRestartOnBolt: a dialog in flight continues after the
// store and the runtime are closed and opened again.
func TestDialogSurvivesRestartOnBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "luarobot.db")
	open := func() store.Store {
		st, err := storeopen.Open(store.Options{Kind: store.KindBolt, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	b := startDialogBot(t, "testdata/dialog", st)
	b.say("oRestart", "下单", "请问怎么称呼？", "小明", "手机号？")
	b.stop()
	st.Close()

	st = open()
	defer st.Close()
	b = startDialogBot(t, "testdata/dialog", st)
	b.say("oRestart",
		"13800138000", "确认下单？\n1. 确认\n2. 再想想",
		"1", "下单成功：小明 13800138000",
	)
}

// TestDialogHotReload: new code replays the recorded answers. A reworded
// prompt keeps the dialog going; a step of another kind at a recorded
// position ends it with a log line naming the dialog and the step; a
// dialog that is gone ends with a log line and the message goes to the
// other handlers.
func TestDialogHotReload(t *testing.T) {
	dir := t.TempDir()
	orig, err := os.ReadFile("testdata/dialog/bot.lua")
	if err != nil {
		t.Fatal(err)
	}
	write := func(old, new string) {
		t.Helper()
		src := strings.Replace(string(orig), old, new, 1)
		if src == string(orig) && old != "" {
			t.Fatalf("%q is not in the script", old)
		}
		if err := os.WriteFile(filepath.Join(dir, "bot.lua"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("", "")
	st := memory.New(memory.Options{})
	defer st.Close()
	b := startDialogBot(t, dir, st)
	reload := func() {
		t.Helper()
		if err := b.rt.Reload(); err != nil {
			t.Fatal(err)
		}
	}

	b.say("oReword", "下单", "请问怎么称呼？")
	write(`"手机号？"`, `"请留下手机号"`)
	reload()
	b.say("oReword", "小明", "请留下手机号", "13800138000", "确认下单？\n1. 确认\n2. 再想想", "1", "下单成功：小明 13800138000")

	b.say("oKind", "下单", "请问怎么称呼？", "小明", "请留下手机号")
	write(`local name = d:ask("请问怎么称呼？")`, `local name = d:choose("会员吗？", {"是", "否"})`)
	reload()
	b.say("oKind", "13800138000", "已结束", "13800138000", "echo 13800138000 orders=nil")
	if !strings.Contains(b.log(), "step 1 is d:choose where the record has step 1 (d:ask)") || !strings.Contains(b.log(), "dialog=order") {
		t.Errorf("no log line naming the dialog and step:\n%s", b.log())
	}

	write("", "")
	reload()
	b.say("oGone", "下单", "请问怎么称呼？")
	write(`robot.dialog("order"`, `robot.dialog("order_v2"`)
	reload()
	b.say("oGone", "小明", "echo 小明 orders=nil")
	if !strings.Contains(b.log(), `msg="dialog ended: the scripts no longer register it; the message goes to the other handlers" dialog=order`) {
		t.Errorf("no log line for the removed dialog:\n%s", b.log())
	}
	if _, dlg := storedSession(t, st, "oGone"); dlg != "" {
		t.Errorf("a removed dialog left its record: %q", dlg)
	}
}

// TestDialogSurvivesKill: the luarobot process is killed with SIGKILL in
// the middle of a dialog; a new process on the same bbolt file continues
// it.
func TestDialogSurvivesKill(t *testing.T) {
	db := filepath.Join(t.TempDir(), "luarobot.db")
	p := startHost(t, "--db", db, "--scripts", "testdata/dialog")
	sim := p.simulator(t, false)
	for _, ex := range [][2]string{{"下单", "请问怎么称呼？"}, {"小明", "手机号？"}} {
		if got := sim.text("oKill", ex[0]); !strings.Contains(got, ex[1]) {
			t.Fatalf("%q answered %s", ex[0], got)
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.done <- nil // for Cleanup

	p2 := startHost(t, "--db", db, "--scripts", "testdata/dialog")
	sim = p2.simulator(t, false)
	for _, ex := range [][2]string{{"13800138000", "确认下单？"}, {"1", "下单成功：小明 13800138000"}} {
		if got := sim.text("oKill", ex[0]); !strings.Contains(got, ex[1]) {
			t.Fatalf("after kill -9: %q answered %s", ex[0], got)
		}
	}
}

// TestDialogTwoProcessesOneRedis: two host processes on one Redis take
// turns answering one user's dialog.
func TestDialogTwoProcessesOneRedis(t *testing.T) {
	redisURL := storetest.RedisURL(t)
	word := "d" + strconv.FormatInt(time.Now().UnixNano(), 36)
	flags := []string{"--session_storage", "redis", "--redis_url", redisURL, "--scripts", "testdata/dialog"}
	a := startHost(t, flags...)
	b := startHost(t, flags...)
	user := "o" + word
	turns := []struct {
		p         *hostProcess
		say, want string
	}{
		{a, "下单", "请问怎么称呼？"},
		{b, "小明", "手机号？"},
		{a, "123", "请输入 11 位手机号"},
		{b, "13800138000", "确认下单？"},
		{a, "1", "下单成功：小明 13800138000"},
		{b, "hi", "echo hi orders=1"},
	}
	for i, turn := range turns {
		if got := turn.p.simulator(t, false).text(user, turn.say); !strings.Contains(got, turn.want) {
			t.Fatalf("turn %d: %q answered %s, want %q", i, turn.say, got, turn.want)
		}
	}
}

// TestDialogSessionsOff: with session_storage = "off", dialogs in
// progress live in the process's memory, which the host says at load.
func TestDialogSessionsOff(t *testing.T) {
	p := startHost(t, "--session_storage", "off", "--scripts", "testdata/dialog")
	sim := p.simulator(t, false)
	for _, ex := range [][2]string{{"下单", "请问怎么称呼？"}, {"小明", "手机号？"}, {"13800138000", "确认下单？"}, {"1", "下单成功：小明 13800138000"}, {"hi", "echo hi orders=nil"}} {
		if got := sim.text("oOff", ex[0]); !strings.Contains(got, ex[1]) {
			t.Fatalf("%q answered %s, want %q", ex[0], got, ex[1])
		}
	}
	if !strings.Contains(p.log(), "session_storage is off: dialogs in progress are kept in memory and lost on restart") {
		t.Errorf("no warning at load:\n%s", p.log())
	}
}
