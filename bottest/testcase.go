package bottest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/app"
	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/host/client/fakewechat"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/host/simulate"
	"github.com/luarobot/luarobot/internal/fakeclock"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/store/memory"
)

// The fake account of every test bot. The Client gets these credentials
// and the fake WeChat API accepts them; nothing of the real configuration
// (luarobot.toml, LUAROBOT_*) is read.
const (
	testToken     = "luarobottest"
	testAppID     = "wxluarobottest000"
	testAppSecret = "luarobot-test-secret"
	testAccount   = "gh_luarobot_test"
	// botURL is where the simulator posts; the requests never leave the
	// process (handlerTransport).
	botURL = "http://bot.luarobot.test/"
)

// failure is why a test failed: where (the test file's line) and what.
type failure struct {
	where string   // "hello_test.lua:12", or "" when unknown
	msg   string   //
	from  []string // the lines that called where's function, innermost first: a helper's callers
}

func (f *failure) String() string {
	s := f.msg
	if f.where != "" {
		s = f.where + ": " + f.msg
	}
	if len(f.from) > 0 {
		s += " (called from " + strings.Join(f.from, ", ") + ")"
	}
	return s
}

// testCase is one running test: its fakes, its clock and, once something
// needs it, its bot.
type testCase struct {
	file *testFile
	name string
	ctx  context.Context
	cfg  config.Config

	clock  *fakeclock.Clock
	store  *memory.Store
	wechat *fakewechat.Server
	api    apiFakes
	web    httpFakes
	pump   *pump
	log    *testLog

	media  string   // the folder of the test's downloads, removed at close
	bot    *app.Bot // built on first need (see ensureBot)
	botErr error
	sim    *simulate.Simulator

	users  int
	msgs   int64    // messages delivered, for their MsgIds
	failed *failure // the first failure
}

func newTestCase(ctx context.Context, f *testFile, name string) *testCase {
	tc := &testCase{
		file:  f,
		name:  name,
		ctx:   ctx,
		cfg:   f.config,
		clock: newClock(),
		pump:  newPump(),
		log:   &testLog{},
	}
	tc.store = memory.New(memory.Options{SessionTTL: tc.cfg.SessionTTL, Now: tc.clock.Now})
	tc.wechat = fakewechat.New(testAppID, testAppSecret)
	tc.wechat.SetResponder(func(c fakewechat.Call) (any, bool) { return tc.api.respond(tc.ctx, c) })
	return tc
}

// close stops the bot, waiting for what it still does, and the fakes.
func (tc *testCase) close() {
	tc.pump.close()
	if tc.bot != nil {
		ctx, cancel := context.WithTimeout(context.Background(), tc.waitLimit())
		tc.bot.Close(ctx)
		cancel()
	}
	tc.store.Close()
	tc.wechat.Close()
	if tc.media != "" {
		os.RemoveAll(tc.media)
	}
}

// fail records a failure; the first one is the test's.
func (tc *testCase) fail(where, msg string, from ...string) {
	if tc.failed == nil {
		tc.failed = &failure{where: where, msg: msg, from: from}
	}
}

// failAt records a failure at the test file's line that called the
// running Go function, and stops the test there. A check made in a helper
// function names the helper's line and the lines that called it, so that
// a helper used by many tests still says which call failed.
func (tc *testCase) failAt(L *lua.LState, format string, args ...any) {
	where, from := callChain(L)
	tc.fail(where, fmt.Sprintf(format, args...), from...)
	L.RaiseError("%s", errCheckFailed)
}

// errCheckFailed is the Lua error that unwinds a test after a failed
// check; the failure itself is recorded in the testCase.
const errCheckFailed = "check failed"

// callSite is "file:line" of the Lua code that called the running Go
// function.
func callSite(L *lua.LState) string {
	where, _ := callChain(L)
	return where
}

// maxCallers bounds the "called from" lines of a failure.
const maxCallers = 3

// callChain is callSite and, innermost first, the Lua lines that called
// its function in turn (up to maxCallers; a recursion's repeated line
// once).
func callChain(L *lua.LState) (where string, from []string) {
	for level := 1; level < 16 && len(from) < maxCallers; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			break
		}
		if dbg.CurrentLine <= 0 || dbg.Source == "" || dbg.Source == "[G]" {
			continue
		}
		pos := fmt.Sprintf("%s:%d", dbg.Source, dbg.CurrentLine)
		switch {
		case where == "":
			where = pos
		case pos != where && (len(from) == 0 || from[len(from)-1] != pos):
			from = append(from, pos)
		}
	}
	return where, from
}

// waitLimit bounds the wait for a delivery's background work: a handler
// runs at most handler_timeout, its robot.async work as long again.
func (tc *testCase) waitLimit() time.Duration {
	return tc.cfg.ReplyTimeout + 2*tc.cfg.HandlerTimeout + 30*time.Second
}

// ensureBot builds the test's bot the first time something needs it: the
// folder's scripts loaded as serve loads them (robot.on_load included,
// its API calls answered by the test's fakes), a memory store, the fake
// WeChat API and robot.http's fakes, the fake clock.
func (tc *testCase) ensureBot(L *lua.LState) *app.Bot {
	if tc.bot == nil && tc.botErr == nil {
		cfg := tc.cfg
		cfg.APIBase = tc.wechat.URL
		// Downloads go to a folder of the test's own: the real media
		// folder is only read.
		tc.media, tc.botErr = os.MkdirTemp("", "luarobot-test-media-")
		tc.pump.run(func() {
			if tc.botErr != nil {
				return
			}
			bot, err := app.New(tc.ctx, app.Options{
				Config:        cfg,
				Store:         tc.store,
				Logger:        tc.file.run.logger,
				Now:           tc.clock.Now,
				HTTPTransport: &tc.web,
				DownloadDir:   tc.media,
			})
			if err != nil {
				tc.botErr = err
				return
			}
			tc.bot = bot
			ctx, cancel := context.WithTimeout(tc.ctx, tc.waitLimit())
			defer cancel()
			bot.Wait(ctx) // robot.on_load's robot.async work
		})
		if tc.botErr == nil {
			tc.sim, tc.botErr = simulate.New(simulate.Options{
				URL:        botURL,
				Token:      cfg.Token,
				Timeout:    cfg.ReplyTimeout + 10*time.Second,
				HTTPClient: &http.Client{Transport: handlerTransport{tc.bot.Handler}},
				Now:        tc.clock.Now,
			})
		}
	}
	if tc.botErr != nil {
		var le *luaapi.Error
		if errors.As(tc.botErr, &le) {
			L.RaiseError("the bot's scripts did not load: %s", le)
		}
		L.RaiseError("the bot did not start: %s", tc.botErr)
	}
	return tc.bot
}

// handlerTransport carries the simulator's requests to the bot's handler
// in-process. ServeHTTP has returned when the answer comes back, so every
// piece of background work the delivery started is already counted by the
// handler's Wait.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req.RemoteAddr = "127.0.0.1:80"
	req.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// delivery is what one message brought: the passive reply, and the
// customer-service messages the user got meanwhile.
type delivery struct {
	reply reply.View
	sent  []reply.View
}

// deliver sends the message spec describes from openid, as WeChat would
// (signed, through dedup, the reply engine and the deadline), waits until
// everything it started has finished — a late reply, the rest of a long
// text, robot.async work — and moves the clock one second on.
func (tc *testCase) deliver(L *lua.LState, openid string, spec simulate.Spec) *delivery {
	bot := tc.ensureBot(L)
	spec.From, spec.To, spec.Time = openid, testAccount, tc.clock.Now().Unix()
	if typ, err := simulate.TypeName(spec.Type); err == nil && !strings.HasSuffix(typ, "_event") && spec.MsgID == "" {
		// A MsgId of its own for every message: two must never look like
		// one message and its retry, however fast they come.
		tc.msgs++
		spec.MsgID = strconv.FormatInt(7_000_000_000_000_000_000+tc.msgs, 10)
	}
	msg, err := simulate.Build(spec)
	if err != nil {
		L.RaiseError("%s", err)
	}
	xml, err := message.Marshal(msg)
	if err != nil {
		L.RaiseError("%s", err)
	}
	before := len(tc.wechat.Messages())
	var d simulate.Delivery
	var waitErr error
	tc.pump.run(func() {
		d = tc.sim.Deliver(tc.ctx, xml)
		ctx, cancel := context.WithTimeout(tc.ctx, tc.waitLimit())
		defer cancel()
		waitErr = bot.Wait(ctx)
	})
	tc.clock.Advance(time.Second)
	switch {
	case d.Err != nil:
		L.RaiseError("delivering the %s: %s", msg.Type, d.Err)
	case d.Status != http.StatusOK:
		L.RaiseError("the host refused the %s: HTTP %d %s", msg.Type, d.Status, d.Body)
	case waitErr != nil:
		L.RaiseError("the %s's background work was still running after %s", msg.Type, tc.waitLimit())
	}
	passive, err := reply.Parse(d.Body)
	if err != nil {
		L.RaiseError("the host's answer: %s", err)
	}
	out := &delivery{reply: reply.ViewOf(passive.Reply)}
	for _, m := range tc.wechat.Messages()[before:] {
		if m.ToUser == openid {
			out.sent = append(out.sent, m.View())
		}
	}
	tc.log.add(logLine{level: slog.LevelInfo, text: transcriptLine(openid, msg, out), script: true})
	return out
}

// transcriptLine is a delivery as the test's log shows it.
func transcriptLine(openid string, msg *message.Message, d *delivery) string {
	s := openid + ": " + describeMessage(msg) + " → " + describe(d.reply)
	for _, v := range d.sent {
		s += "\n  sent: " + describe(v)
	}
	return s
}

// describeMessage shows a message briefly: its type and fields.
func describeMessage(m *message.Message) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(m.Type, "_event"))
	for _, f := range m.Fields {
		if s, ok := f.Value.(string); ok {
			if m.Type == "text" && f.Name == "content" {
				b.WriteString(" " + strconv.Quote(s))
				continue
			}
			fmt.Fprintf(&b, " %s=%s", f.Name, strconv.Quote(s))
			continue
		}
		fmt.Fprintf(&b, " %s=%v", f.Name, f.Value)
	}
	return b.String()
}
