package luaapi

import (
	"bytes"
	"context"
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/host/delivery"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/host/reply"
)

// handler is one registered handler of a state.
type handler struct {
	fn    *lua.LFunction
	typ   string // the message type it handles, or "all"
	rules []rule // robot.filter: the content must match one
	key   *string
	// defined is where fn is defined (file:line), made once for the
	// delivery log line of every message the handler answers.
	defined string
}

// rule is one robot.filter rule: a text the content must equal, or a
// regular expression that must match at its start.
type rule struct {
	text string
	re   *regex
}

func (r rule) String() string {
	if r.re != nil {
		return "robot.re(" + quoteLua(r.re.src) + ")"
	}
	return quoteLua(r.text)
}

// HandlerInfo describes one registration, for `luarobot check`.
type HandlerInfo struct {
	// Func is the registration function: "text", "subscribe", "filter",
	// "key_click", "handler", "add_handler", "add_filter", "error_page",
	// "on_load", "dialog".
	Func string
	// Type is the message type handled ("text", "click_event"), "all" for
	// robot.handler, empty for error_page and on_load.
	Type string
	// Rule is what the handler waits for: the filter rules, or the key of
	// key_click; the name of a dialog; empty otherwise.
	Rule string
	// At is the file and line of the registration call.
	At string
}

func (h HandlerInfo) String() string {
	s := "robot." + h.Func
	if h.Type != "" && h.Type != h.Func {
		s += " [" + h.Type + "]"
	}
	if h.Rule != "" {
		s += " " + h.Rule
	}
	return s
}

// register checks that registration is still open and records h.
func (st *state) register(L *lua.LState, fnName string, h *handler, ruleText string) {
	if st.loaded {
		L.RaiseError("robot.%s: handlers are registered while the scripts load (at the top level of a script), not from a handler", fnName)
	}
	h.defined = where(h.fn)
	if h.typ == "all" {
		st.all = append(st.all, h)
	} else {
		st.byType[h.typ] = append(st.byType[h.typ], h)
	}
	file, line := callerPos(L)
	st.report = append(st.report, registration{st.loading, HandlerInfo{Func: fnName, Type: h.typ, Rule: ruleText, At: posString(file, line)}})
}

// checkHandlerFunc returns argument n as a function, or raises an error
// that says what robot.NAME expects.
func checkHandlerFunc(L *lua.LState, n int, fnName, usage string) *lua.LFunction {
	fn, ok := L.Get(n).(*lua.LFunction)
	if !ok {
		L.RaiseError("robot.%s expects %s, got %s as argument %d", fnName, usage, describe(L.Get(n)), n)
	}
	return fn
}

// registerType makes robot.NAME(fn) for a message or event type.
func registerType(fnName, typ string) func(*state, *lua.LState) int {
	return func(st *state, L *lua.LState) int {
		fn := checkHandlerFunc(L, 1, fnName, "a function")
		st.register(L, fnName, &handler{fn: fn, typ: typ}, "")
		L.Push(fn)
		return 1
	}
}

// addHandler is robot.add_handler(fn, type): type defaults to "all" and is
// a message type ("text", "subscribe_event") or a registration name
// ("subscribe").
func (st *state) addHandler(L *lua.LState) int {
	fn := checkHandlerFunc(L, 1, "add_handler", "(fn, type)")
	name := L.OptString(2, "all")
	typ, ok := handlerTypes[name]
	if !ok {
		L.RaiseError("robot.add_handler: unknown type %q (a message type such as \"text\" or \"subscribe_event\", or \"all\")", name)
	}
	st.register(L, "add_handler", &handler{fn: fn, typ: typ}, "")
	L.Push(fn)
	return 1
}

// filter is robot.filter(rule, ..., fn).
func (st *state) filter(L *lua.LState) int {
	n := L.GetTop()
	fn, ok := L.Get(n).(*lua.LFunction)
	if !ok || n < 2 {
		L.RaiseError("robot.filter expects (rule, ..., fn): one or more rules, then the handler function")
	}
	var w ruleWalk
	for i := 1; i < n; i++ {
		st.appendRules(L, "filter", &w, L.Get(i), 0)
	}
	rules := w.rules
	if len(rules) == 0 {
		// Empty lists: without rules the filter would answer every text.
		L.RaiseError("robot.filter: no rules given")
	}
	st.register(L, "filter", &handler{fn: fn, typ: "text", rules: rules}, rulesText(rules))
	L.Push(fn)
	return 1
}

// addFilter is robot.add_filter(fn, rules): rules is a list of rules (or
// one rule).
func (st *state) addFilter(L *lua.LState) int {
	fn := checkHandlerFunc(L, 1, "add_filter", "(fn, rules)")
	var w ruleWalk
	st.appendRules(L, "add_filter", &w, L.Get(2), 0)
	rules := w.rules
	if len(rules) == 0 {
		L.RaiseError("robot.add_filter: no rules given")
	}
	st.register(L, "add_filter", &handler{fn: fn, typ: "text", rules: rules}, rulesText(rules))
	L.Push(fn)
	return 1
}

// Bounds of one registration's rules. Lists of rules may nest (a list of
// keyword lists), but a table that contains itself must be an error, not
// a recursion that overflows the Go stack (which kills the process: no
// recover catches it), and a list that holds one sublist many times must
// not take millions of steps.
const (
	maxRuleDepth = 16
	maxRuleItems = 1 << 16 // rules and lists, all levels together
)

// ruleWalk collects the rules of one registration.
type ruleWalk struct {
	rules []rule
	items int // rules and lists seen
}

// appendRules adds the rules of v — a string, a robot.re value, or a list
// of rules (nested lists too) — to w. depth is the nesting of v.
func (st *state) appendRules(L *lua.LState, fnName string, w *ruleWalk, v lua.LValue, depth int) {
	if w.items++; w.items > maxRuleItems {
		L.RaiseError("robot.%s: more than %d rules", fnName, maxRuleItems)
	}
	switch v := v.(type) {
	case lua.LString:
		w.rules = append(w.rules, rule{text: string(v)})
		return
	case *lua.LUserData:
		if rx, ok := v.Value.(*regex); ok {
			w.rules = append(w.rules, rule{re: rx})
			return
		}
	case *lua.LTable:
		if depth >= maxRuleDepth {
			L.RaiseError("robot.%s: rules nested deeper than %d (does the table contain itself?)", fnName, maxRuleDepth)
		}
		v = plainTable(v) // robot.settings.keywords, say
		for i := 1; i <= v.Len(); i++ {
			st.appendRules(L, fnName, w, v.RawGetInt(i), depth+1)
		}
		return
	}
	L.RaiseError("robot.%s: a rule is a string or robot.re(\"pattern\"), not %s", fnName, describe(v))
}

func rulesText(rules []rule) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", ")
}

// keyClick is robot.key_click(key, fn): click events with that key.
func (st *state) keyClick(L *lua.LState) int {
	key := L.CheckString(1)
	fn := checkHandlerFunc(L, 2, "key_click", "(key, fn)")
	st.register(L, "key_click", &handler{fn: fn, typ: "click_event", key: &key}, "key "+quoteLua(key))
	L.Push(fn)
	return 1
}

func (st *state) registerErrorPage(L *lua.LState) int {
	fn := checkHandlerFunc(L, 1, "error_page", "a function(url) that returns HTML")
	if st.loaded {
		L.RaiseError("robot.error_page: register it while the scripts load, not from a handler")
	}
	st.errorPage = fn // the last one wins, as in WeRoBot
	file, line := callerPos(L)
	st.report = append(st.report, registration{st.loading, HandlerInfo{Func: "error_page", At: posString(file, line)}})
	L.Push(fn)
	return 1
}

func (st *state) registerOnLoad(L *lua.LState) int {
	fn := checkHandlerFunc(L, 1, "on_load", "a function")
	if st.loaded {
		L.RaiseError("robot.on_load: register it while the scripts load, not from a handler")
	}
	st.onLoad = append(st.onLoad, fn)
	file, line := callerPos(L)
	st.report = append(st.report, registration{st.loading, HandlerInfo{Func: "on_load", At: posString(file, line)}})
	L.Push(fn)
	return 1
}

// matches reports whether h takes msg, and the match table of a regular
// expression rule (nil for the others).
func (h *handler) matches(L *lua.LState, msg *message.Message) (bool, lua.LValue) {
	if h.key != nil {
		key := msg.String("key")
		if key == "" {
			key = msg.EventKey
		}
		return key == *h.key, lua.LNil
	}
	if h.rules == nil {
		return true, lua.LNil
	}
	content := msg.String("content")
	for _, r := range h.rules {
		if r.re == nil {
			if content == r.text {
				return true, lua.LNil
			}
			continue
		}
		if m := matchTable(L, r.re, content, true); m != lua.LNil {
			return true, m
		}
	}
	return false, lua.LNil
}

// dispatch runs the handlers for msg: the typed handlers of its type, then
// robot.handler ones, each as fn(message, session, match), until one
// returns something other than nil, false or "". It returns the reply, the
// new session bytes (nil when unchanged) and the first error.
//
// Dialogs come first: while the user is in one, a message (not an event)
// goes to it and to nothing else (dialog.go).
func (st *state) dispatch(ctx context.Context, msg *message.Message, in []byte) (reply.Reply, []byte, error) {
	L := st.L
	dd, userIn := st.openDialogs(ctx, msg, in)
	defer st.closeDialogs()
	if dd.active != nil && takesMessage(msg) {
		return st.continueDialog(ctx, dd, in)
	}
	msgV := st.messageTable(msg)
	sess := st.decodeSession(ctx, userIn, msg.Source)
	dd.msgV, dd.sess = msgV, sess
	var answer reply.Reply
	var last *handler // the last handler called, to blame for a bad session
lists:
	for _, list := range [2][]*handler{st.byType[msg.Type], st.all} {
		for _, h := range list {
			ok, match := h.matches(L, msg)
			if !ok {
				continue
			}
			last = h
			ret, err := st.call(ctx, h.fn, msgV, sess, match)
			if err != nil {
				return nil, nil, err
			}
			if fn, ok := ret.(*lua.LFunction); ok && st.dialog.starters[fn] != nil {
				// `return order`: a handler hands the message to a dialog.
				if ret, err = st.call(ctx, fn, msgV, sess, match); err != nil {
					return nil, nil, err
				}
			}
			if ret == lua.LNil || ret == lua.LFalse {
				continue
			}
			r, err := st.toReply(ret)
			if err != nil {
				return nil, nil, &Error{File: h.fn.Proto.SourceName, Line: h.fn.Proto.LineDefined,
					Message: "the handler returned " + err.Error()}
			}
			if r == nil {
				continue // "": falsy, as in WeRoBot
			}
			answer = r
			delivery.SetHandler(ctx, h.defined)
			break lists
		}
	}
	out, err := encodeSession(ctx, sess)
	if err != nil && ctx.Err() != nil {
		e := stopped(ctx, "while writing the session")
		if last != nil {
			e.File, e.Line = last.fn.Proto.SourceName, last.fn.Proto.LineDefined
		}
		return nil, nil, e
	}
	if err != nil {
		e := &Error{Message: "the session cannot be saved: " + strings.Replace(err.Error(), "value", "session", 1)}
		if last != nil {
			// Any handler that ran may have stored it; the last one is
			// the likeliest, and its place is what the reader needs.
			e.File, e.Line = last.fn.Proto.SourceName, last.fn.Proto.LineDefined
			e.Message += " (a session holds strings, numbers, booleans and tables)"
		}
		return nil, nil, e
	}
	out, override, err := st.finishDialogs(ctx, dd, out)
	if err != nil {
		return nil, nil, err
	}
	if override != nil {
		if answer, err = st.toReply(override); err != nil {
			return nil, nil, err
		}
	}
	return answer, sessionChange(in, out), nil
}

// sessionChange returns what Dispatch reports for the session: nil when it
// did not change, an empty slice when it became empty (the store deletes
// it), else the new bytes.
func sessionChange(in, out []byte) []byte {
	const empty = "{}"
	if bytes.Equal(in, out) || (len(in) == 0 && string(out) == empty) {
		return nil
	}
	if string(out) == empty {
		return []byte{}
	}
	return out
}

// decodeSession turns the stored session into a table. A missing session is
// an empty table; so is a corrupt one, with a log line, so that one bad
// record does not silence the bot for that user.
func (st *state) decodeSession(ctx context.Context, in []byte, user string) *lua.LTable {
	if len(in) == 0 {
		return st.L.CreateTable(0, 4)
	}
	v, err := DecodeJSON(st.L, in, true)
	if t, ok := v.(*lua.LTable); ok && err == nil && bytes.HasPrefix(bytes.TrimLeft(in, " \t\r\n"), []byte("{")) {
		return t
	}
	if err == nil {
		err = errors.New("not a JSON object")
	}
	if !st.rt.opts.LogUserIDs {
		user = delivery.UserHash(user)
	}
	st.rt.log.WarnContext(ctx, "session is corrupt; starting from an empty one", "user", user, "err", err)
	return st.L.CreateTable(0, 4)
}
