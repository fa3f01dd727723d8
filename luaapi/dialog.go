package luaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// This file is the one home of conversations, robot.dialog:
//
//	local order = robot.dialog("order", function(d, message, session)
//	  local name = d:ask("请问怎么称呼？")
//	  ...
//	end, {timeout = "10m", cancel = {"取消"}})
//	robot.filter("下单", order)
//
// A dialog waits for the user between its steps (d:ask, d:choose,
// d:wait), yet nothing of it stays in memory: for every message of the
// user the function runs again from its start (a replay), its steps
// returning the answers recorded so far, until it reaches the first step
// that has none. That step takes the message (or answers it with the
// retry prompt), and the next step without an answer stops the run and
// sends its prompt. The record — the dialog's name, when it started, the
// message that started it, the session as it was then, the answers, and
// the session changes of other handlers — is saved inside the user's
// stored session, in the same write: a dialog
// survives a restart, a kill -9 between two messages, a hot reload (the
// new code replays the answers) and a move to another process on Redis.
//
// Stopping a run: the step raises a Lua error whose value is a sentinel
// (dialogState.stop) after noting in the run why it stopped and what the
// session was at that moment. gopher-lua can yield from Go functions only
// inside coroutines, and the sandbox gives scripts none; a sentinel is
// enough because a stopped run is never resumed, only replayed. A script
// that wraps d:ask in pcall catches the sentinel, but not the stop: the
// run is flagged, every later step and d:once raises the sentinel again,
// and what the run does after the stop is ignored (its session is the
// one noted at the stop).
//
// The session: each replay starts from the snapshot in the record, so a
// change a dialog makes (session.orders = session.orders + 1) applies
// exactly once however many times the function runs; between two messages
// the stored session is the last replay's result. Handlers that run while
// a dialog waits (events go to them) change the stored session too. Their
// changes are recorded, member by member, at the place where the dialog
// waited, and a replay applies them when it gets there again: not into
// the snapshot, where the replay would apply the dialog's own earlier
// changes on top of them a second time (a count the dialog raised and a
// handler raised again would be raised twice).
//
// The record lives under a key no script can write: the exact JSON codec
// writes every key a script can make that begins with NUL in base64
// (binaryPrefix), so the member "\u0000dialog" of the stored object can
// only be the record. It is taken out before the session reaches Lua and
// put back after; sessions stored before dialogs existed simply have no
// such member.

// Limits and defaults of dialogs (DESIGN.md, "Conversations").
const (
	maxDialogSteps = 50 // steps (d:ask, d:choose, d:wait) of one dialog
	maxDialogOnce  = 50 // d:once results one dialog records

	defaultDialogTimeout     = 30 * time.Minute
	defaultDialogFail        = "已结束"
	defaultDialogCancelReply = "已取消"
)

// dialogKey is the reserved member of a stored session that holds the
// dialog record, as JSON writes it at the start of the object.
const dialogKey = `{"\u0000dialog":`

// dialogDef is one robot.dialog registration of a state.
type dialogDef struct {
	name        string
	fn          *lua.LFunction
	timeout     time.Duration
	cancel      []string
	cancelReply lua.LValue
	fail        lua.LValue
	at          string // where robot.dialog was called
}

// dialogState is a state's share of dialogs: what its scripts registered,
// and the dialog work of the dispatch in progress.
type dialogState struct {
	defs     map[string]*dialogDef
	starters map[*lua.LFunction]*dialogDef // the handlers robot.dialog returned
	meta     *lua.LTable                   // metatable of the d values
	methods  *lua.LTable                   // their methods (dialogMethods)
	stop     *lua.LUserData                // the sentinel a stopping step raises

	dispatch *dialogDispatch // &current during a dispatch, else nil
	current  dialogDispatch  // reused: a dispatch allocates nothing for dialogs
	running  *dialogRun      // the run in progress, if any
}

// dialogDispatch is the dialog side of one dispatch.
type dialogDispatch struct {
	msg  *message.Message
	msgV lua.LValue
	sess *lua.LTable // the session the handlers get

	// active is the user's record when the dispatch began (nil: none, or
	// it ended); base is the session its last replay left, from which the
	// changes of other handlers are measured.
	active *dialogRecord
	base   []byte
}

// dialogRecord is what is saved of a dialog in progress.
type dialogRecord struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	// Last is when the dialog last took a message of the user: the
	// timeout counts from it.
	Last time.Time `json:"last"`
	// Message is the message that started the dialog, as JSON (fields,
	// not raw): the function's message argument on every replay.
	Message json.RawMessage `json:"message"`
	// Session is the session when the dialog started (exact JSON).
	Session json.RawMessage `json:"session"`
	// Steps are the answers and d:once results, in the order the
	// function reached them.
	Steps []dialogEntry `json:"steps"`
	// Tries counts the wrong answers given to the step that waits.
	Tries int `json:"tries,omitempty"`
	// Changes are what other handlers did to the session while the
	// dialog waited, in the order the dialog waited.
	Changes []sessionPatch `json:"changes,omitempty"`
}

// sessionPatch is the change other handlers made to the top-level members
// of the session while the dialog waited at entry At of Steps (the step
// that had no answer yet): a replay applies it when it reaches that entry.
type sessionPatch struct {
	At  int                        `json:"at"`
	Set map[string]json.RawMessage `json:"set,omitempty"` // member (as the exact JSON writes its key) → new value
	Del []string                   `json:"del,omitempty"` // members removed
}

// dialogEntry is one recorded answer (d:ask, d:choose, d:wait) or d:once
// result.
type dialogEntry struct {
	Kind  string          `json:"kind"`  // "ask", "choose", "wait", "once"
	Value json.RawMessage `json:"value"` // exact JSON of the value the call returned
	// N is the number of the option d:choose took, so that a reworded
	// option still maps to its place.
	N int `json:"n,omitempty"`
}

// ---- registration ----

// dialogMethods are the methods of the dialog value d.
var dialogMethods = []apiFunc{
	{Name: "ask", Sig: "(prompt: robot.Answer, opts?: robot.AskOptions): string", Fn: (*state).dialogAsk,
		Doc: "Sends prompt (any reply; nil sends nothing) and returns the text of the user's next text message that passes opts.check. Another message is answered with opts.retry (default: the prompt) and counts as a try."},
	{Name: "choose", Sig: "(prompt: string, options: string[], opts?: robot.StepOptions): string", Fn: (*state).dialogChoose,
		Doc: "Sends prompt with the options as numbered lines and returns the option the user picked, by its text or its number."},
	{Name: "wait", Sig: "(prompt: robot.Answer, type?: robot.DialogMessageType, opts?: robot.StepOptions): robot.AnyMessage", Fn: (*state).dialogWait,
		Doc:       "Sends prompt and returns the user's next message (without raw): of any type, or only of type.",
		Overloads: dialogWaitOverloads},
	{Name: "once", Sig: "<T>(fn: fun(): T): T", Fn: (*state).dialogOnce,
		Doc: "Runs fn the first time the dialog gets here and returns its recorded result on every replay (API calls, random numbers, the time). The result is recorded as JSON."},
}

// dialogWaitOverloads are d:wait's forms with a type: they return that
// type's message.
var dialogWaitOverloads = func() []string {
	out := make([]string, len(dialogTypes))
	for i, t := range dialogTypes {
		out[i] = "fun(prompt: robot.Answer, type: \"" + t + "\", opts?: robot.StepOptions): robot.Message." + t
	}
	return out
}()

// The options of robot.dialog and of its steps; the error of an unknown
// option lists them.
var (
	dialogOptionFields = []luadef.Field{
		{Name: "timeout", Type: "string|number", Optional: true, Doc: "silence after which the dialog is over: \"10m\" or seconds (default 30m)"},
		{Name: "cancel", Type: "string|string[]", Optional: true, Doc: "texts that end the dialog (default none)"},
		{Name: "cancel_reply", Type: "robot.Answer", Optional: true, Doc: "the reply to a cancel (default \"" + defaultDialogCancelReply + "\")"},
		{Name: "fail", Type: "robot.Answer", Optional: true, Doc: "the reply when a step's tries run out (default \"" + defaultDialogFail + "\")"},
	}
	stepOptionFields = []luadef.Field{
		{Name: "retry", Type: "robot.Answer", Optional: true, Doc: "the reply to a message the step cannot take (default: the prompt again)"},
		{Name: "tries", Type: "integer", Optional: true, Doc: "attempts in all; the last wrong one ends the dialog with fail (default unlimited)"},
	}
	askOptionFields = []luadef.Field{
		{Name: "check", Type: "string[]|robot.Regex|fun(text: string): (true|robot.Answer)", Optional: true,
			Doc: "the accepted texts, a robot.re that must match at the start, or a function returning true or the reply to send"},
	}
)

// newDialogs prepares the dialog machinery of a state (see newRobot).
func (st *state) newDialogs() {
	L := st.L
	d := &st.dialog
	d.defs = make(map[string]*dialogDef)
	d.starters = make(map[*lua.LFunction]*dialogDef)

	stopMeta := L.CreateTable(0, 2)
	stopMeta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("the dialog stops here to wait for the user (a step raises this to stop the function; do not catch it with pcall)"))
		return 1
	}))
	stopMeta.RawSetString("__metatable", lua.LFalse)
	d.stop = L.NewUserData()
	d.stop.Metatable = stopMeta

	methods := L.CreateTable(0, len(dialogMethods))
	st.bindFuncs(methods, dialogMethods)
	d.methods = methods
	d.meta = L.CreateTable(0, 5)
	d.meta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		run := checkRun(L, st)
		key := L.CheckString(2)
		if key == "message" {
			L.Push(run.msgV)
			return 1
		}
		if m := methods.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		L.RaiseError("a dialog has no member %q (d:ask, d:choose, d:wait, d:once, d.message)", key)
		return 0
	}))
	d.meta.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("the dialog value d is read-only (keep your own values in locals)")
		return 0
	}))
	d.meta.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("dialog " + quoteLua(checkRun(L, st).def.name)))
		return 1
	}))
	d.meta.RawSetString("__metatable", lua.LFalse)
}

// registerDialog is robot.dialog(name, fn, opts?): it registers the dialog
// and returns the handler that starts it.
func (st *state) registerDialog(L *lua.LState) int {
	name, ok := L.Get(1).(lua.LString)
	if !ok || name == "" {
		L.RaiseError("robot.dialog expects (name, fn, opts?): a name for the dialog first, got %s", describe(L.Get(1)))
	}
	fn := checkHandlerFunc(L, 2, "dialog", "(name, fn, opts?)")
	if st.loaded {
		L.RaiseError("robot.dialog: dialogs are registered while the scripts load (at the top level of a script), not from a handler")
	}
	file, line := callerPos(L)
	def := &dialogDef{name: string(name), fn: fn, timeout: defaultDialogTimeout, at: posString(file, line),
		fail: lua.LString(defaultDialogFail), cancelReply: lua.LString(defaultDialogCancelReply)}
	if prev, ok := st.dialog.defs[def.name]; ok {
		L.RaiseError("robot.dialog: a dialog named %q is already registered (%s); dialog names are unique", def.name, prev.at)
	}
	if opts, ok := L.Get(3).(*lua.LTable); ok {
		st.dialogOptions(L, def, opts)
	} else if L.Get(3) != lua.LNil {
		L.RaiseError("robot.dialog: the options are a table {timeout=, cancel=, cancel_reply=, fail=}, not %s", describe(L.Get(3)))
	}
	st.dialog.defs[def.name] = def
	starter := L.NewFunction(st.dialogStarter(def))
	st.dialog.starters[starter] = def
	st.report = append(st.report, registration{st.loading, HandlerInfo{Func: "dialog", Rule: quoteLua(def.name), At: def.at}})
	st.rt.noteDialogMemory(st, def.name)
	L.Push(starter)
	return 1
}

// dialogOptions reads robot.dialog's options into def.
func (st *state) dialogOptions(L *lua.LState, def *dialogDef, opts *lua.LTable) {
	fail := func(format string, args ...any) {
		L.RaiseError("robot.dialog %q: %s", def.name, fmt.Sprintf(format, args...))
	}
	plainTable(opts).ForEach(func(k, v lua.LValue) {
		switch k.String() {
		case "timeout":
			d, err := parseDuration(v)
			if err != nil || d <= 0 {
				why := ""
				if err != nil {
					why = " (" + err.Error() + ")"
				}
				fail("timeout is a duration such as \"10m\" or a number of seconds, more than zero; got %s%s", describe(v), why)
			}
			def.timeout = d
		case "cancel":
			var texts []string
			if err := stringList(v, &texts); err != nil {
				fail("cancel is a text or a list of texts that end the dialog: %s", err)
			}
			def.cancel = texts
		case "cancel_reply", "fail":
			if _, err := st.toReply(v); err != nil || v == lua.LNil {
				fail("%s is the reply to send (a string or a robot.reply value), not %s", k.String(), describe(v))
			}
			if k.String() == "fail" {
				def.fail = v
			} else {
				def.cancelReply = v
			}
		default:
			fail("unknown option %s (want %s)", optionName(k), fieldNames(dialogOptionFields))
		}
	})
}

// maxDurationSeconds is the most seconds a time.Duration holds.
const maxDurationSeconds = float64(math.MaxInt64) / float64(time.Second)

// parseDuration reads a duration option: "10m", "90s", or a number of
// seconds.
func parseDuration(v lua.LValue) (time.Duration, error) {
	switch v := v.(type) {
	case lua.LString:
		return time.ParseDuration(string(v))
	case lua.LNumber:
		// Checked before converting: a float beyond a time.Duration's
		// ~292 years converts to nonsense (a negative duration).
		if f := float64(v); math.IsNaN(f) || math.Abs(f) > maxDurationSeconds {
			return 0, fmt.Errorf("%g seconds is beyond what a duration holds", f)
		}
		return time.Duration(float64(v) * float64(time.Second)), nil
	}
	return 0, errors.New("not a duration")
}

// stringList reads a text or a list of texts.
func stringList(v lua.LValue, out *[]string) error {
	switch v := v.(type) {
	case lua.LString:
		*out = append(*out, string(v))
		return nil
	case *lua.LTable:
		v = plainTable(v)
		n := v.Len()
		if n == 0 {
			return errors.New("the list is empty")
		}
		for i := 1; i <= n; i++ {
			s, ok := v.RawGetInt(i).(lua.LString)
			if !ok {
				return fmt.Errorf("entry %d is %s, not a string", i, describe(v.RawGetInt(i)))
			}
			*out = append(*out, string(s))
		}
		return nil
	}
	return fmt.Errorf("got %s", describe(v))
}

// ---- dispatch ----

// takesMessage reports whether a dialog receives msg: messages do,
// events (menu clicks, location reports, ...) go to the other handlers.
func takesMessage(msg *message.Message) bool {
	return !strings.HasSuffix(msg.Type, "_event")
}

// dialogTypes are the message types d:wait may wait for: those
// takesMessage lets through (device_event, bind and unbind, is an event).
var dialogTypes = slices.DeleteFunc(slices.Clone(messageTypes), func(t string) bool {
	return strings.HasSuffix(t, "_event")
})

// openDialogs begins the dialog side of a dispatch: it takes the record
// out of the stored session (or memory) and returns the dispatch's state
// with the user's own session bytes. A record that timed out, belongs to a
// user who unsubscribed, or is unreadable is dropped here.
func (st *state) openDialogs(ctx context.Context, msg *message.Message, in []byte) (*dialogDispatch, []byte) {
	st.dialog.current = dialogDispatch{msg: msg}
	dd := &st.dialog.current
	st.dialog.dispatch = dd
	user, raw := splitSession(in)
	if st.rt.opts.DialogMemory {
		raw = st.rt.dialogMem.load(msg.Source)
	}
	if raw == nil {
		return dd, user
	}
	rec := new(dialogRecord)
	if err := json.Unmarshal(raw, rec); err != nil || rec.Name == "" {
		if err == nil {
			err = errors.New("no dialog name")
		}
		st.rt.log.WarnContext(ctx, "dialog record is corrupt; the dialog is dropped", "err", err)
		return dd, user
	}
	def := st.dialog.defs[rec.Name]
	switch {
	case msg.Type == "unsubscribe_event":
		st.rt.log.DebugContext(ctx, "dialog ended: the user unsubscribed", "dialog", rec.Name)
		return dd, user
	case def != nil && !st.rt.now().Before(rec.Last.Add(def.timeout)):
		st.rt.log.DebugContext(ctx, "dialog timed out", "dialog", rec.Name, "timeout", def.timeout)
		return dd, user
	case def == nil && takesMessage(msg):
		st.rt.log.WarnContext(ctx, "dialog ended: the scripts no longer register it; the message goes to the other handlers",
			"dialog", rec.Name)
		return dd, user
	}
	dd.active, dd.base = rec, user
	return dd, user
}

// closeDialogs ends the dialog side of a dispatch.
func (st *state) closeDialogs() {
	st.dialog.current = dialogDispatch{}
	st.dialog.dispatch = nil
	st.dialog.running = nil
}

// continueDialog gives msg to the user's dialog in progress: the function
// replays its recorded answers and msg goes to the first step without one.
// It returns the reply and the new stored session (for sessionChange).
func (st *state) continueDialog(ctx context.Context, dd *dialogDispatch, in []byte) (reply.Reply, []byte, error) {
	rec, msg := dd.active, dd.msg
	def := st.dialog.defs[rec.Name]
	now := st.rt.now()
	if msg.Type == "text" && slices.Contains(def.cancel, strings.TrimSpace(msg.String("content"))) {
		st.rt.log.DebugContext(ctx, "dialog cancelled by the user", "dialog", def.name)
		return st.dialogOutcome(ctx, dd, def, nil, dd.base, def.cancelReply, in)
	}
	rec.Last = now
	dd.msgV = st.messageTable(msg)
	run := &dialogRun{st: st, def: def, rec: rec, msg: msg, msgV: dd.msgV, ctx: ctx}
	ret, err := st.runDialog(ctx, run)
	if err != nil {
		e := callError(ctx, err, def.fn)
		if ctx.Err() != nil {
			return nil, nil, e // the record stays: the user may try again
		}
		// A dialog that fails once fails on every replay: end it rather
		// than leave the user in it until the timeout.
		st.rt.log.ErrorContext(ctx, "dialog ended: its function failed", "dialog", def.name, "err", e)
		return st.dialogOutcome(ctx, dd, def, nil, dd.base, def.fail, in)
	}
	switch run.stop {
	case stopWait:
		return st.dialogOutcome(ctx, dd, def, rec, run.session, run.reply, in)
	case stopEnd:
		return st.dialogOutcome(ctx, dd, def, nil, run.session, run.reply, in)
	}
	out, err := encodeSession(ctx, run.sess)
	if err != nil && ctx.Err() != nil {
		return nil, nil, sessionError(ctx, err, def.fn)
	}
	if err == nil {
		_, err = st.toReply(ret)
		if err != nil {
			err = &Error{File: def.fn.Proto.SourceName, Line: def.fn.Proto.LineDefined,
				Message: "the dialog " + quoteLua(def.name) + " answered with " + err.Error()}
		}
	} else {
		err = sessionError(ctx, err, def.fn)
	}
	if err != nil {
		// As for an error: the same replay would fail the same way on
		// every later message.
		st.rt.log.ErrorContext(ctx, "dialog ended: its outcome cannot be used", "dialog", def.name, "err", err)
		return st.dialogOutcome(ctx, dd, def, nil, dd.base, def.fail, in)
	}
	return st.dialogOutcome(ctx, dd, def, nil, out, ret, in)
}

// dialogOutcome finishes a dispatch that the dialog took: the reply value
// r, the user's session, and the record to keep (nil: the dialog is over).
func (st *state) dialogOutcome(ctx context.Context, dd *dialogDispatch, def *dialogDef, rec *dialogRecord, session []byte, r lua.LValue, in []byte) (reply.Reply, []byte, error) {
	answer, err := st.toReply(r)
	if err != nil {
		return nil, nil, &Error{File: def.fn.Proto.SourceName, Line: def.fn.Proto.LineDefined,
			Message: "the dialog " + quoteLua(def.name) + " answered with " + err.Error()}
	}
	out, ended, err := st.saveDialog(ctx, dd.msg, def, rec, session)
	if err != nil {
		return nil, nil, sessionError(ctx, err, def.fn)
	}
	if ended {
		if answer, err = st.toReply(def.fail); err != nil {
			return nil, nil, err
		}
	}
	return answer, sessionChange(in, out), nil
}

// finishDialogs is the end of a dispatch that the handlers took: out is
// the user's session as they left it. A dialog one of them started is
// saved with it; a dialog that waits keeps waiting, with the handlers'
// changes carried into its snapshot. It returns the bytes to store and,
// when a record does not fit, the reply that replaces the handlers'.
func (st *state) finishDialogs(ctx context.Context, dd *dialogDispatch, out []byte) ([]byte, lua.LValue, error) {
	rec := dd.active
	if rec == nil {
		if st.rt.opts.DialogMemory {
			st.rt.dialogMem.store(dd.msg.Source, nil, time.Time{}, time.Time{})
		}
		return out, nil, nil
	}
	if !sameSession(dd.base, out) {
		if err := rec.noteChanges(dd.base, out); err != nil {
			return nil, nil, err
		}
	}
	def := st.dialog.defs[rec.Name]
	if def == nil {
		// Not taken by the dialog (an event), and its dialog is gone:
		// it ends with the next message, which logs it.
		def = &dialogDef{name: rec.Name, timeout: defaultDialogTimeout, fail: lua.LString(defaultDialogFail)}
	}
	saved, ended, err := st.saveDialog(ctx, dd.msg, def, rec, out)
	if err != nil || !ended {
		return saved, nil, err
	}
	return saved, def.fail, nil
}

// saveDialog joins the record to the user's session (or, with sessions
// off, keeps it in memory). A record that would take the session over
// its size limit ends the dialog with a log line: ended reports it.
func (st *state) saveDialog(ctx context.Context, msg *message.Message, def *dialogDef, rec *dialogRecord, session []byte) (out []byte, ended bool, err error) {
	if rec == nil {
		if st.rt.opts.DialogMemory {
			st.rt.dialogMem.store(msg.Source, nil, time.Time{}, time.Time{})
		}
		return normalSession(session), false, nil
	}
	raw, err := marshalRecord(rec)
	if err == nil && len(raw)+len(session)+1 > maxJSONBytes {
		err = &limitError{fmt.Sprintf("the dialog's record would make the session over %d bytes", maxJSONBytes)}
	}
	var lerr *limitError
	if errors.As(err, &lerr) {
		st.rt.log.WarnContext(ctx, "dialog ended: its record does not fit in the session", "dialog", def.name,
			"steps", len(rec.Steps), "err", err)
		if st.rt.opts.DialogMemory {
			st.rt.dialogMem.store(msg.Source, nil, time.Time{}, time.Time{})
		}
		return normalSession(session), true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if st.rt.opts.DialogMemory {
		st.rt.dialogMem.store(msg.Source, raw, rec.Last.Add(def.timeout), st.rt.now())
		return normalSession(session), false, nil
	}
	return joinSession(session, raw), false, nil
}

// sessionError is the error of a session that cannot be written.
func sessionError(ctx context.Context, err error, fn *lua.LFunction) error {
	if ctx.Err() != nil {
		return stopped(ctx, "while writing the session")
	}
	return &Error{File: fn.Proto.SourceName, Line: fn.Proto.LineDefined,
		Message: "the session cannot be saved: " + strings.Replace(err.Error(), "value", "session", 1) +
			" (a session holds strings, numbers, booleans and tables)"}
}

// ---- starting ----

// dialogStarter is the handler robot.dialog returns: called as
// fn(message, session, match) from a dispatch — registered, returned by
// a handler, or called by one — it starts the dialog with the dispatch's
// message and session, runs the function to its first step, and returns
// that step's prompt (or, when the function asks nothing, what it
// returns).
func (st *state) dialogStarter(def *dialogDef) lua.LGFunction {
	return func(L *lua.LState) int {
		dd := st.dialog.dispatch
		if dd == nil {
			L.RaiseError("dialog %q starts from a handler (robot.filter(\"...\", dialog), return dialog, or dialog(message, session)), not from robot.async or robot.on_load", def.name)
		}
		if r := st.dialog.running; r != nil {
			L.RaiseError("dialog %q cannot start inside dialog %q: one dialog at a time", def.name, r.def.name)
		}
		ctx := st.ctx()
		snapshot, err := encodeSession(ctx, dd.sess)
		if err != nil {
			L.RaiseError("dialog %q cannot start: the session cannot be saved: %s", def.name, err)
		}
		start, err := recordMessage(ctx, L, dd.msgV)
		if err != nil {
			L.RaiseError("dialog %q cannot start: %s", def.name, err)
		}
		now := st.rt.now()
		rec := &dialogRecord{Name: def.name, Start: now, Last: now, Message: start, Session: snapshot, Steps: []dialogEntry{}}
		run := &dialogRun{st: st, def: def, rec: rec, msgV: dd.msgV, ctx: ctx}
		ret, err := st.runDialog(ctx, run)
		if err != nil {
			var aerr *lua.ApiError
			if errors.As(err, &aerr) {
				L.Error(aerr.Object, 0) // the function's own error, with its position
			}
			L.RaiseError("%s", err)
		}
		session := run.session
		if run.stop == stopNone {
			if session, err = encodeSession(ctx, run.sess); err != nil {
				L.RaiseError("dialog %q: the session cannot be saved: %s", def.name, err)
			}
		}
		// The handlers' session becomes what the run left: replays start
		// from the snapshot, so the run itself never touched it.
		if err := st.replaceSession(dd.sess, session); err != nil {
			L.RaiseError("dialog %q: %s", def.name, err)
		}
		// A dialog that ends at once leaves one in progress waiting (what
		// it did to the session counts as another handler's change); one
		// that waits replaces it.
		switch run.stop {
		case stopWait:
			dd.active, dd.base = rec, session
			L.Push(run.reply)
		case stopEnd:
			L.Push(run.reply)
		default:
			L.Push(ret)
		}
		return 1
	}
}

// replaceSession makes t hold the session encoded in b.
func (st *state) replaceSession(t *lua.LTable, b []byte) error {
	v, err := decodeTable(st.L, b)
	if err != nil {
		return err
	}
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	for _, k := range keys {
		t.RawSet(k, lua.LNil)
	}
	v.ForEach(func(k, e lua.LValue) { t.RawSet(k, e) })
	return nil
}

// ---- the run ----

// stopKind says why a run stopped before its function returned.
type stopKind int

const (
	stopNone stopKind = iota
	stopWait          // a step waits for the user's next message
	stopEnd           // the dialog is over: tries ran out, or it cannot go on
)

// dialogRun is one run of a dialog's function.
type dialogRun struct {
	st   *state
	def  *dialogDef
	rec  *dialogRecord
	ctx  context.Context
	sess *lua.LTable // the session the function got

	// msg is the user's message while no step has taken it (nil on the
	// run that starts the dialog: the message that starts it is no
	// answer); msgV is d.message.
	msg  *message.Message
	msgV lua.LValue

	pos     int // the next entry of rec.Steps to replay
	steps   int // steps reached so far
	once    int // d:once calls reached so far
	patched int // entries of rec.Changes applied to sess so far

	inside string // "d:once" or "the check function" while one runs: no steps there
	over   bool   // the run has returned: its d is stale

	stop    stopKind
	reply   lua.LValue // what answers the message when the run stopped
	session []byte     // the session when the run stopped
}

// runDialog calls the dialog's function for run, against a session
// decoded from the record's snapshot. The error is the raw one of the
// call (a *lua.ApiError), nil when the run stopped at a step.
func (st *state) runDialog(ctx context.Context, run *dialogRun) (lua.LValue, error) {
	L := st.L
	sess, err := decodeTable(L, run.rec.Session)
	if err != nil {
		return lua.LNil, fmt.Errorf("dialog %q: the session snapshot is corrupt: %w", run.def.name, err)
	}
	start, err := decodeTable(L, run.rec.Message)
	if err != nil {
		return lua.LNil, fmt.Errorf("dialog %q: the recorded message is corrupt: %w", run.def.name, err)
	}
	run.sess = sess
	prev := st.dialog.running
	st.dialog.running = run
	defer func() {
		st.dialog.running = prev
		run.over = true
	}()
	ud := L.NewUserData()
	ud.Value = run
	ud.Metatable = st.dialog.meta
	if st.task != nil {
		st.task.calling.Store(run.def.fn.Proto)
	}
	top := L.GetTop()
	L.Push(run.def.fn)
	L.Push(ud)
	L.Push(st.readOnlyMessage(start))
	L.Push(run.sess)
	err = L.PCall(3, 1, nil)
	if err == nil && run.stop == stopNone && run.patched < len(run.rec.Changes) {
		// The function returned before the place where the other
		// handlers' changes were made (the scripts changed): they are
		// kept all the same.
		err = run.applyChanges(math.MaxInt)
	}
	if run.stop != stopNone && ctx.Err() == nil {
		// However the function went on after the stop (a pcall around
		// the step), the stop is the outcome.
		L.SetTop(top)
		return lua.LNil, nil
	}
	if err != nil {
		return lua.LNil, err
	}
	ret := L.Get(-1)
	L.SetTop(top)
	return ret, nil
}

// decodeTable decodes exact JSON that must be an object.
func decodeTable(L *lua.LState, b []byte) (*lua.LTable, error) {
	v, err := DecodeJSON(L, b, true)
	if err != nil {
		return nil, err
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("%s where a JSON object belongs", describe(v))
	}
	return t, nil
}

// checkRun returns the run of the d value given as argument 1.
func checkRun(L *lua.LState, st *state) *dialogRun {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if run, ok := ud.Value.(*dialogRun); ok {
			return run
		}
	}
	L.RaiseError("a dialog method is called with a colon: d:ask(...), d:choose(...), d:wait(...), d:once(...)")
	return nil
}

// usable checks that run can take another step or d:once call: it raises
// the stop sentinel again when the run has stopped (a pcall caught it).
func (run *dialogRun) usable(L *lua.LState, what string) {
	switch {
	case run.over:
		L.RaiseError("%s: this d belongs to an earlier message of dialog %q; use the d its function receives", what, run.def.name)
	case run.stop != stopNone:
		L.Error(run.st.dialog.stop, 0)
	case run.inside != "":
		L.RaiseError("%s cannot be called inside %s", what, run.inside)
	}
	// The function is back where it once waited: what other handlers did
	// to the session while it waited there happens now.
	if err := run.applyChanges(run.pos + 1); err != nil {
		run.breakOff(L, "the session changes recorded in it are corrupt: "+err.Error())
	}
}

// applyChanges applies to the run's session the recorded changes of other
// handlers made before entry upTo of the record.
func (run *dialogRun) applyChanges(upTo int) error {
	for run.patched < len(run.rec.Changes) && run.rec.Changes[run.patched].At < upTo {
		if err := run.st.patchSession(run.sess, run.rec.Changes[run.patched]); err != nil {
			return err
		}
		run.patched++
	}
	return nil
}

// patchSession applies p to the session table t.
func (st *state) patchSession(t *lua.LTable, p sessionPatch) error {
	// A member is decoded as a one-member object, so that its key comes
	// back as the exact codec wrote it (a number key as a number).
	member := func(key string, value json.RawMessage) (lua.LValue, lua.LValue, error) {
		k, err := json.Marshal(key)
		if err != nil {
			return nil, nil, err
		}
		obj, err := decodeTable(st.L, slices.Concat([]byte("{"), k, []byte(":"), value, []byte("}")))
		if err != nil {
			return nil, nil, err
		}
		mk, mv := obj.Next(lua.LNil)
		if mk == lua.LNil {
			return nil, nil, fmt.Errorf("member %q decodes to nothing", key)
		}
		return mk, mv, nil
	}
	for _, key := range slices.Sorted(maps.Keys(p.Set)) {
		k, v, err := member(key, p.Set[key])
		if err != nil {
			return err
		}
		t.RawSet(k, v)
	}
	for _, key := range p.Del {
		k, _, err := member(key, json.RawMessage("true"))
		if err != nil {
			return err
		}
		t.RawSet(k, lua.LNil)
	}
	return nil
}

// halt stops the run: the dialog waits (stopWait) or is over (stopEnd),
// and r answers the message. It notes the session as it is now and
// raises the sentinel; it does not return.
func (run *dialogRun) halt(L *lua.LState, kind stopKind, r lua.LValue) {
	if kind == stopEnd {
		// Ended before the places where other handlers changed the
		// session (the scripts changed): their changes are kept. A
		// corrupt change is what ended it; the others still apply.
		for run.applyChanges(math.MaxInt) != nil {
			run.patched++
		}
	}
	session, err := encodeSession(run.ctx, run.sess)
	if err != nil {
		L.RaiseError("dialog %q: the session cannot be saved: %s", run.def.name, strings.Replace(err.Error(), "value", "session", 1))
	}
	run.stop, run.reply, run.session = kind, r, session
	L.Error(run.st.dialog.stop, 0)
}

// breakOff ends the dialog because it cannot go on (the scripts changed
// under it, or it reached its step limit), with a log line that says
// where, and the dialog's fail reply.
func (run *dialogRun) breakOff(L *lua.LState, why string) {
	file, line := callerPos(L)
	run.st.rt.log.WarnContext(run.ctx, "dialog ended: "+why, "dialog", run.def.name, "at", posString(file, line))
	run.halt(L, stopEnd, run.def.fail)
}

// entryName names recorded entry i for a log line: "step 2 (d:ask)".
func (run *dialogRun) entryName(i int) string {
	e := run.rec.Steps[i]
	if e.Kind == "once" {
		return "d:once call " + strconv.Itoa(countKind(run.rec.Steps[:i+1], true))
	}
	return fmt.Sprintf("step %d (d:%s)", countKind(run.rec.Steps[:i+1], false), e.Kind)
}

func countKind(entries []dialogEntry, once bool) int {
	n := 0
	for _, e := range entries {
		if (e.Kind == "once") == once {
			n++
		}
	}
	return n
}

// stepSpec describes one d:ask, d:choose or d:wait: what it sends and
// what it takes.
type stepSpec struct {
	kind   string // "ask", "choose", "wait"
	prompt lua.LValue
	retry  lua.LValue
	tries  int // 0: unlimited
	// take decides whether msg answers the step: the answer to return
	// and record, or (ok false) the reply to send instead (nil: retry).
	take func(msg *message.Message) (a stepAnswer, ok bool, refusal lua.LValue)
	// replay turns a recorded entry back into the value to return; false
	// when it no longer fits the step.
	replay func(e dialogEntry) (lua.LValue, bool)
}

// stepAnswer is what a step took from the user's message: the value the step
// returns, and what the record keeps of it (raw: the exact JSON of value
// when nil; n: see dialogEntry.N).
type stepAnswer struct {
	value lua.LValue
	raw   json.RawMessage
	n     int
}

// step runs one step: it returns the recorded answer on a replay, takes
// the user's message when it is the first step without one, and
// otherwise stops the run with the step's prompt.
func (run *dialogRun) step(L *lua.LState, s stepSpec) lua.LValue {
	what := "d:" + s.kind
	run.usable(L, what)
	if run.pos < len(run.rec.Steps) {
		i := run.pos
		e := run.rec.Steps[i]
		if e.Kind != s.kind {
			run.breakOff(L, fmt.Sprintf("the scripts changed while it was in progress: step %d is %s where the record has %s",
				run.steps+1, what, run.entryName(i)))
		}
		v, ok := s.replay(e)
		if !ok {
			run.breakOff(L, fmt.Sprintf("the scripts changed while it was in progress: the answer recorded for %s no longer fits it", run.entryName(i)))
		}
		run.pos++
		run.steps++
		return v
	}
	if run.steps >= maxDialogSteps {
		run.breakOff(L, fmt.Sprintf("it reached %s at step %d; a dialog has at most %d steps", what, run.steps+1, maxDialogSteps))
	}
	if run.msg == nil {
		run.halt(L, stopWait, s.prompt)
	}
	a, ok, refusal := s.take(run.msg)
	if !ok {
		run.rec.Tries++
		if s.tries > 0 && run.rec.Tries >= s.tries {
			run.halt(L, stopEnd, run.def.fail)
		}
		if refusal == nil {
			refusal = s.retry
		}
		run.halt(L, stopWait, refusal)
	}
	if a.raw == nil {
		raw, err := encodeJSON(run.ctx, a.value, true)
		if err != nil {
			L.RaiseError("%s: the answer cannot be recorded: %s", what, err)
		}
		a.raw = raw
	}
	run.rec.Steps = append(run.rec.Steps, dialogEntry{Kind: s.kind, Value: a.raw, N: a.n})
	run.rec.Tries = 0
	run.msg = nil
	run.pos++
	run.steps++
	return a.value
}

// stepOptions reads the options table of a step (argument n): retry,
// tries, and check for d:ask.
func (st *state) stepOptions(L *lua.LState, n int, s *stepSpec, check *lua.LValue) {
	v := L.Get(n)
	if v == lua.LNil {
		return
	}
	opts, ok := v.(*lua.LTable)
	if !ok {
		L.RaiseError("d:%s: the options are a table {retry=, tries=}, not %s", s.kind, describe(v))
	}
	plainTable(opts).ForEach(func(k, v lua.LValue) {
		switch k.String() {
		case "retry":
			s.retry = v
		case "tries":
			t, ok := v.(lua.LNumber)
			if !ok || t < 1 || float64(t) != float64(int(t)) {
				L.RaiseError("d:%s: tries is the number of attempts in all (1 or more), not %s", s.kind, describe(v))
			}
			s.tries = int(t)
		case "check":
			if check != nil {
				*check = v
				return
			}
			fallthrough
		default:
			known := fieldNames(stepOptionFields)
			if check != nil {
				known = fieldNames(askOptionFields, stepOptionFields)
			}
			L.RaiseError("d:%s: unknown option %s (want %s)", s.kind, optionName(k), known)
		}
	})
}

// optionName names an options table's key in an error: a name as the
// script spelled it ("tires"), any other key by its type and value.
func optionName(k lua.LValue) string {
	if name, ok := k.(lua.LString); ok {
		return strconv.Quote(string(name))
	}
	return describe(k)
}

// checkPrompt raises an error unless v can answer a message.
func (st *state) checkPrompt(L *lua.LState, what string, v lua.LValue) lua.LValue {
	if v == lua.LNil {
		// Wait without saying anything: the message is answered success.
		ud := L.NewUserData()
		ud.Value = &reply.Success{}
		ud.Metatable = st.replyMeta
		return ud
	}
	if _, err := st.toReply(v); err != nil {
		L.RaiseError("%s: the prompt is %s", what, err)
	}
	return v
}

// dialogAsk is d:ask(prompt, opts?): the text of the user's next text
// message that passes opts.check.
func (st *state) dialogAsk(L *lua.LState) int {
	run := checkRun(L, st)
	s := stepSpec{kind: "ask"}
	var check lua.LValue = lua.LNil
	st.stepOptions(L, 3, &s, &check)
	s.prompt = st.checkPrompt(L, "d:ask", L.Get(2))
	s.retry = st.retryPrompt(L, "d:ask", s)
	accept := st.textCheck(L, run, check)
	s.take = func(msg *message.Message) (stepAnswer, bool, lua.LValue) {
		if msg.Type != "text" {
			return stepAnswer{}, false, nil
		}
		text, ok, refusal := accept(msg.String("content"))
		return stepAnswer{value: lua.LString(text)}, ok, refusal
	}
	s.replay = func(e dialogEntry) (lua.LValue, bool) {
		var text string
		if json.Unmarshal(e.Value, &text) != nil {
			return nil, false
		}
		return lua.LString(text), true
	}
	L.Push(run.step(L, s))
	return 1
}

// retryPrompt is a step's retry reply: opts.retry, or the prompt again.
func (st *state) retryPrompt(L *lua.LState, what string, s stepSpec) lua.LValue {
	if s.retry == nil || s.retry == lua.LNil {
		return s.prompt
	}
	if _, err := st.toReply(s.retry); err != nil {
		L.RaiseError("%s: retry is %s", what, err)
	}
	return s.retry
}

// textCheck compiles d:ask's check option: nil (any text), a list of
// accepted texts, a robot.re value (matching at the start, as
// robot.filter), or a function(text) returning true or the reply to
// send.
//
// The function it returns gives the text d:ask returns: the message's text
// as sent, or, for a list, the entry it matched (spaces around the answer
// do not count).
func (st *state) textCheck(L *lua.LState, run *dialogRun, check lua.LValue) func(string) (string, bool, lua.LValue) {
	switch c := check.(type) {
	case *lua.LNilType:
		return func(text string) (string, bool, lua.LValue) { return text, true, nil }
	case *lua.LTable:
		var texts []string
		if err := stringList(c, &texts); err != nil {
			L.RaiseError("d:ask: check is a list of accepted texts, a robot.re value or a function: %s", err)
		}
		return func(text string) (string, bool, lua.LValue) {
			text = strings.TrimSpace(text)
			return text, slices.Contains(texts, text), nil
		}
	case *lua.LUserData:
		if rx, ok := c.Value.(*regex); ok {
			return func(text string) (string, bool, lua.LValue) {
				m := rx.re.FindStringIndex(text)
				return text, m != nil && m[0] == 0, nil
			}
		}
	case *lua.LFunction:
		return func(text string) (string, bool, lua.LValue) {
			ret := run.call(L, "the check function", c, lua.LString(text))
			switch ret {
			case lua.LTrue:
				return text, true, nil
			case lua.LNil, lua.LFalse:
				return text, false, nil
			}
			if _, err := st.toReply(ret); err != nil {
				L.RaiseError("d:ask: the check function returned %s; it returns true, or the reply to send (an error text)", describe(ret))
			}
			return text, false, ret
		}
	}
	L.RaiseError("d:ask: check is a list of accepted texts, a robot.re value or a function, not %s", describe(check))
	return nil
}

// call calls fn (a check function, d:once's function) with no steps
// allowed inside, and returns its first result. Its error becomes the
// run's, with the position it had.
func (run *dialogRun) call(L *lua.LState, inside string, fn *lua.LFunction, args ...lua.LValue) lua.LValue {
	run.inside = inside
	top := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	err := L.PCall(len(args), 1, nil)
	run.inside = ""
	if err != nil {
		var aerr *lua.ApiError
		if errors.As(err, &aerr) {
			L.Error(aerr.Object, 0)
		}
		L.RaiseError("%s", err)
	}
	ret := L.Get(-1)
	L.SetTop(top)
	return ret
}

// dialogChoose is d:choose(prompt, options, opts?): one of options, taken
// by its text or its number; the prompt lists them as numbered lines.
func (st *state) dialogChoose(L *lua.LState) int {
	run := checkRun(L, st)
	s := stepSpec{kind: "choose"}
	var options []string
	if err := stringList(L.Get(3), &options); err != nil {
		L.RaiseError("d:choose(prompt, options): options is a list of texts: %s", err)
	}
	st.stepOptions(L, 4, &s, nil)
	prompt, ok := L.Get(2).(lua.LString)
	if !ok {
		L.RaiseError("d:choose: the prompt is a text (the options are added to it as numbered lines), not %s", describe(L.Get(2)))
	}
	var b strings.Builder
	b.WriteString(string(prompt))
	for i, o := range options {
		fmt.Fprintf(&b, "\n%d. %s", i+1, o)
	}
	s.prompt = lua.LString(b.String())
	s.retry = st.retryPrompt(L, "d:choose", s)
	s.take = func(msg *message.Message) (stepAnswer, bool, lua.LValue) {
		if msg.Type != "text" {
			return stepAnswer{}, false, nil
		}
		if n := chosen(options, msg.String("content")); n > 0 {
			return stepAnswer{value: lua.LString(options[n-1]), n: n}, true, nil
		}
		return stepAnswer{}, false, nil
	}
	s.replay = func(e dialogEntry) (lua.LValue, bool) {
		var text string
		if json.Unmarshal(e.Value, &text) != nil {
			return nil, false
		}
		if slices.Contains(options, text) {
			return lua.LString(text), true
		}
		if e.N >= 1 && e.N <= len(options) {
			return lua.LString(options[e.N-1]), true // the option was reworded
		}
		return nil, false
	}
	L.Push(run.step(L, s))
	return 1
}

// chosen returns the number (1...) of the option answer names, by its text
// or its number (full-width digits too, as Chinese keyboards type them),
// or 0.
func chosen(options []string, answer string) int {
	answer = strings.TrimSpace(answer)
	if i := slices.Index(options, answer); i >= 0 {
		return i + 1
	}
	digits := strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return '0' + (r - '０')
		}
		return r
	}, strings.TrimSuffix(strings.TrimSuffix(answer, "."), "．"))
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 || n > len(options) {
		return 0
	}
	return n
}

// dialogWait is d:wait(prompt, type?, opts?): the user's next message
// (a read-only message table without raw), of any type or of type only.
func (st *state) dialogWait(L *lua.LState) int {
	run := checkRun(L, st)
	s := stepSpec{kind: "wait"}
	typ := ""
	optsAt := 3
	switch v := L.Get(3).(type) {
	case lua.LString:
		typ = string(v)
		if !slices.Contains(dialogTypes, typ) {
			L.RaiseError("d:wait: %q is not a message type a dialog receives (%s; events go to the other handlers)", typ, strings.Join(dialogTypes, ", "))
		}
		optsAt = 4
	case *lua.LNilType:
		optsAt = 4
	}
	st.stepOptions(L, optsAt, &s, nil)
	s.prompt = st.checkPrompt(L, "d:wait", L.Get(2))
	s.retry = st.retryPrompt(L, "d:wait", s)
	s.take = func(msg *message.Message) (stepAnswer, bool, lua.LValue) {
		if typ != "" && msg.Type != typ {
			return stepAnswer{}, false, nil
		}
		raw, err := recordMessage(run.ctx, L, run.msgV)
		if err != nil {
			L.RaiseError("d:wait: %s", err)
		}
		// The table the replays will see: the recorded fields.
		t, err := decodeTable(L, raw)
		if err != nil {
			L.RaiseError("d:wait: %s", err)
		}
		return stepAnswer{value: st.readOnlyMessage(t), raw: raw}, true, nil
	}
	s.replay = func(e dialogEntry) (lua.LValue, bool) {
		t, err := decodeTable(L, e.Value)
		if err != nil {
			return nil, false
		}
		return st.readOnlyMessage(t), true
	}
	L.Push(run.step(L, s))
	return 1
}

// dialogOnce is d:once(fn): fn's result, computed the first time the
// dialog gets here and recorded for its replays (API calls, random
// numbers, the time).
func (st *state) dialogOnce(L *lua.LState) int {
	run := checkRun(L, st)
	fn := L.CheckFunction(2)
	run.usable(L, "d:once")
	if run.pos < len(run.rec.Steps) {
		i := run.pos
		e := run.rec.Steps[i]
		if e.Kind != "once" {
			run.breakOff(L, fmt.Sprintf("the scripts changed while it was in progress: d:once call %d is where the record has %s", run.once+1, run.entryName(i)))
		}
		v, err := DecodeJSON(L, e.Value, true)
		if err != nil {
			run.breakOff(L, fmt.Sprintf("the result recorded for %s is corrupt: %s", run.entryName(i), err))
		}
		run.pos++
		run.once++
		L.Push(v)
		return 1
	}
	if run.once >= maxDialogOnce {
		run.breakOff(L, fmt.Sprintf("it reached d:once call %d; a dialog records at most %d", run.once+1, maxDialogOnce))
	}
	ret := run.call(L, "d:once", fn)
	raw, err := encodeJSON(run.ctx, ret, true)
	if err != nil {
		L.RaiseError("d:once: the result cannot be recorded: %s (a result is nil, a string, a number, a boolean or a table of them)", err)
	}
	run.rec.Steps = append(run.rec.Steps, dialogEntry{Kind: "once", Value: raw})
	run.pos++
	run.once++
	// The replays will see the recorded copy; so does this run.
	v, err := DecodeJSON(L, raw, true)
	if err != nil {
		L.RaiseError("d:once: %s", err)
	}
	L.Push(v)
	return 1
}

// recordMessage writes a message table as the record keeps it: its
// fields as exact JSON, without raw.
func recordMessage(ctx context.Context, L *lua.LState, msgV lua.LValue) (json.RawMessage, error) {
	t, ok := msgV.(*lua.LTable)
	if !ok {
		return nil, errors.New("no message")
	}
	if b, ok := backingOf(t); ok {
		t = b
	}
	fields := L.CreateTable(0, 8)
	t.ForEach(func(k, v lua.LValue) {
		if k != lua.LString("raw") {
			fields.RawSet(k, v)
		}
	})
	b, err := encodeJSON(ctx, fields, true)
	if err != nil {
		return nil, fmt.Errorf("the message cannot be recorded: %w", err)
	}
	return b, nil
}

// ---- the stored form ----

// splitSession separates a stored session into the user's session and the
// dialog record (nil when there is none). A stored value that does not
// parse is returned whole, for decodeSession to report.
func splitSession(stored []byte) (user, record []byte) {
	if !bytes.HasPrefix(stored, []byte(dialogKey)) {
		return stored, nil
	}
	dec := json.NewDecoder(bytes.NewReader(stored[len(dialogKey):]))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return stored, nil
	}
	rest := bytes.TrimLeft(stored[len(dialogKey)+int(dec.InputOffset()):], " \t\r\n")
	switch {
	case len(rest) > 0 && rest[0] == ',':
		return append([]byte{'{'}, rest[1:]...), raw
	case len(rest) > 0 && rest[0] == '}':
		return nil, raw
	}
	return stored, nil
}

// joinSession puts the record in front of the user's session.
func joinSession(session, record []byte) []byte {
	session = normalSession(session)
	out := make([]byte, 0, len(dialogKey)+len(record)+len(session)+1)
	out = append(out, dialogKey...)
	out = append(out, record...)
	if len(session) > 2 {
		out = append(out, ',')
		out = append(out, session[1:]...)
	} else {
		out = append(out, '}')
	}
	return out
}

// SplitSession separates a session as the host stores it into the user's
// session (the table scripts see, as JSON) and the record of the user's
// dialog in progress, if any (nil otherwise): for tools that show a
// user's state, such as the console.
func SplitSession(stored []byte) (session, dialog []byte) {
	session, dialog = splitSession(stored)
	return normalSession(session), dialog
}

// normalSession returns "{}" for an empty session.
func normalSession(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

func sameSession(a, b []byte) bool {
	return bytes.Equal(normalSession(a), normalSession(b))
}

// marshalRecord writes the record as JSON, leaving < > & as they are.
func marshalRecord(rec *dialogRecord) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// noteChanges records the top-level members that differ between base (the
// session the dialog left) and out (the session after other handlers ran)
// at the place where the dialog waits; changes made while it waits at one
// place are merged, so a report every few seconds does not grow the record.
func (rec *dialogRecord) noteChanges(base, out []byte) error {
	var before, after map[string]json.RawMessage
	if err := json.Unmarshal(normalSession(base), &before); err != nil {
		return fmt.Errorf("dialog: session: %w", err)
	}
	if err := json.Unmarshal(normalSession(out), &after); err != nil {
		return fmt.Errorf("dialog: session: %w", err)
	}
	var p *sessionPatch
	patch := func() *sessionPatch {
		if p != nil {
			return p
		}
		at := len(rec.Steps)
		if n := len(rec.Changes); n == 0 || rec.Changes[n-1].At != at {
			rec.Changes = append(rec.Changes, sessionPatch{At: at})
		}
		p = &rec.Changes[len(rec.Changes)-1]
		return p
	}
	for k, v := range after {
		if bytes.Equal(before[k], v) {
			continue
		}
		p := patch()
		if p.Set == nil {
			p.Set = make(map[string]json.RawMessage)
		}
		p.Set[k] = v
		p.Del = slices.DeleteFunc(p.Del, func(d string) bool { return d == k })
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			p := patch()
			delete(p.Set, k)
			if !slices.Contains(p.Del, k) {
				p.Del = append(p.Del, k)
				slices.Sort(p.Del)
			}
		}
	}
	return nil
}

// ---- the clock and sessions off ----

// now is the clock of dialog timeouts: Options.Now, or the wall clock.
func (rt *Runtime) now() time.Time {
	if rt.opts.Now != nil {
		return rt.opts.Now()
	}
	return time.Now()
}

// noteDialogMemory logs, once per load, that dialog records live in memory
// when the host stores no sessions.
func (rt *Runtime) noteDialogMemory(st *state, name string) {
	if !rt.opts.DialogMemory || rt.dialogMem.logged.Swap(st.ver.seq) == st.ver.seq {
		return
	}
	rt.log.Warn("session_storage is off: dialogs in progress are kept in memory and lost on restart", "dialog", name)
}

// dialogMemory keeps dialog records when the host stores no sessions
// (Options.DialogMemory). Records leave when their dialog ends; those of
// users who never come back are swept once past their timeout, whenever
// the map has doubled since the last sweep.
type dialogMemory struct {
	mu      sync.Mutex
	records map[string]memoryRecord
	sweepAt int
	logged  atomic.Uint64 // the version whose load logged it
}

type memoryRecord struct {
	raw     []byte
	expires time.Time
}

func (m *dialogMemory) load(user string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[user].raw
}

// store keeps raw for user until expires (now: the clock of the caller);
// nil removes the user's record.
func (m *dialogMemory) store(user string, raw []byte, expires, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if raw == nil {
		delete(m.records, user)
		return
	}
	if m.records == nil {
		m.records = make(map[string]memoryRecord)
	}
	m.records[user] = memoryRecord{raw, expires}
	if len(m.records) < m.sweepAt {
		return
	}
	for u, r := range m.records {
		if !now.Before(r.expires) {
			delete(m.records, u)
		}
	}
	m.sweepAt = max(2*len(m.records), 1024)
}
