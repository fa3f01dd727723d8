package luaapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/internal/suggest"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// This file is the one home of the `robot` global: newRobot builds it from
// the binding tables below (typeRegistrations, robotFuncs, robotTables,
// robotValues), each entry a name, its signature and description for
// editors (bind.go, types.go) and the Go function behind it (dot syntax,
// WeRoBot's names). The functions and the tables of robotTables live in
// handlers.go (registration and dispatch), replies.go (return values and
// robot.reply), and the files named below.

// messageTypes are the message types: robot.NAME handles type NAME.
var messageTypes = []string{"text", "image", "location", "link", "voice", "video", "shortvideo",
	"miniprogrampage", "device_text", "device_event", "unknown"}

// eventTypes are the events: robot.NAME handles type NAME_event (NAME when
// it already ends in _event), as WeRoBot names them. The events WeRoBot
// lacks follow DESIGN.md's rule: the type without its _event suffix
// (robot.subscribe_msg_popup handles subscribe_msg_popup_event).
var eventTypes = []string{
	"subscribe", "unsubscribe", "click", "view", "scan",
	"scancode_push", "scancode_waitmsg",
	"pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select",
	"location_event", "templatesendjobfinish_event",
	"user_scan_product", "user_scan_product_enter_session", "user_scan_product_async",
	"user_scan_product_verify_action",
	"card_pass_check", "card_not_pass_check", "user_get_card", "user_gifting_card",
	"user_del_card", "user_consume_card", "user_pay_from_pay_cell", "user_view_card",
	"user_enter_session_from_card", "update_member_card", "card_sku_remind",
	"card_pay_order", "submit_membercard_user_info",
	"masssendjobfinish", "subscribe_msg_popup", "subscribe_msg_change", "subscribe_msg_sent",
	"merchant_order", "kf_create_session", "kf_close_session", "kf_switch_session",
	"shakearoundusershake", "poi_check_notify", "wificonnected",
	"qualification_verify_success", "qualification_verify_fail", "naming_verify_success",
	"naming_verify_fail", "annual_renew", "verify_expired",
	"user_authorize_invoice", "update_invoice_status", "submit_invoice_title",
	"user_enter_tempsession", "view_miniprogram", "wxa_media_check",
	"unknown_event",
}

// eventType returns the message type an event registration handles.
func eventType(name string) string {
	if strings.HasSuffix(name, "_event") {
		return name
	}
	return name + "_event"
}

// handlerTypes maps every name add_handler accepts (the message type, or
// the registration function's name) to the message type.
var handlerTypes = func() map[string]string {
	m := map[string]string{"all": "all"}
	for _, t := range messageTypes {
		m[t] = t
	}
	for _, e := range eventTypes {
		m[e] = eventType(e)
		m[eventType(e)] = eventType(e)
	}
	return m
}()

// typeRegistrations are robot.text, robot.subscribe, ...: one function
// per message type and event, generated from messageTypes and eventTypes.
var typeRegistrations = func() []apiFunc {
	var out []apiFunc
	for _, t := range messageTypes {
		out = append(out, typeRegistration(t, t))
	}
	for _, e := range eventTypes {
		out = append(out, typeRegistration(e, eventType(e)))
	}
	return out
}()

// typeRegistration is robot.NAME for the messages of type typ.
func typeRegistration(name, typ string) apiFunc {
	handler := "fun(message: robot.Message." + typ + ", session: robot.Session): robot.Answer"
	what := "the messages `" + typ + "`"
	if info, ok := message.Describe(typ); ok {
		switch {
		case info.Wire == "" || typ == "unknown":
			what += " (of a type LuaRoBot does not know: read message.raw)"
		case info.Event:
			what = "the event `" + typ + "` (WeChat's Event `" + info.Wire + "`)"
		default:
			what += " (WeChat's MsgType `" + info.Wire + "`)"
		}
	}
	return apiFunc{Name: name, Sig: "(fn: " + handler + "): " + handler,
		Doc: "Registers fn for " + what + ". fn returns the answer; nil lets the next handler answer.",
		Fn:  registerType(name, typ)}
}

// robotFuncs are the other functions of the robot table.
var robotFuncs = []apiFunc{
	// Registration (handlers.go).
	{Name: "handler", Sig: "(fn: robot.Handler): robot.Handler", Fn: registerType("handler", "all"),
		Doc: "Registers fn for every message and event. These handlers are tried only after all the typed handlers of the message returned nothing."},
	{Name: "add_handler", Sig: "(fn: robot.Handler, type?: robot.HandlerType): robot.Handler", Fn: (*state).addHandler,
		Doc: "WeRoBot's function form of the registrations: type is \"all\" (the default, as robot.handler), a message or event type (\"text\", \"subscribe_event\") or an event's registration name (\"subscribe\")."},
	{Name: "filter", Sig: "(rule: robot.Rule, ...: robot.Rule|robot.FilterHandler): robot.FilterHandler", Fn: (*state).filter,
		Doc: "robot.filter(rule, ..., fn): registers fn for text messages whose content matches one of the rules: a string equal to the content, a robot.re pattern that matches at its start (fn's third argument is then the match), or a list of rules. Rules that are all empty lists are an error.",
		Overloads: []string{
			"fun(rule: robot.Rule, fn: robot.FilterHandler): robot.FilterHandler",
			"fun(rule1: robot.Rule, rule2: robot.Rule, fn: robot.FilterHandler): robot.FilterHandler",
			"fun(rule1: robot.Rule, rule2: robot.Rule, rule3: robot.Rule, fn: robot.FilterHandler): robot.FilterHandler",
		}},
	{Name: "add_filter", Sig: "(fn: robot.FilterHandler, rules: robot.Rule): robot.FilterHandler", Fn: (*state).addFilter,
		Doc: "The function form of robot.filter: rules is one rule or a list of them."},
	{Name: "key_click", Sig: "(key: string, fn: fun(message: robot.Message.click_event, session: robot.Session): robot.Answer): fun(message: robot.Message.click_event, session: robot.Session): robot.Answer",
		Fn: (*state).keyClick, Doc: "Registers fn for menu clicks (click_event) whose key equals key."},
	{Name: "error_page", Sig: "(fn: fun(url: string): string): fun(url: string): string", Fn: (*state).registerErrorPage,
		Doc: "The HTML page shown, with status 403, to a request whose signature does not verify (someone opening the bot's URL in a browser). url comes from the visitor: escape it. The last registration wins."},
	{Name: "on_load", Sig: "(fn: fun()): fun()", Fn: (*state).registerOnLoad,
		Doc: "Runs fn once after the scripts (re)load, outside any message: create menus, warm caches. It may call robot.client and robot.http."},

	// Conversations (dialog.go).
	{Name: "dialog", Sig: "(name: string, fn: fun(d: robot.Dialog, message: robot.AnyMessage, session: robot.Session): robot.Answer, opts?: robot.DialogOptions): robot.Handler",
		Fn:  (*state).registerDialog,
		Doc: "Registers a conversation (names are unique) and returns the handler that starts it: register it (robot.filter(\"下单\", order)) or return it from a handler. Between its steps (d:ask, d:choose, d:wait) the function is replayed from its start with the answers recorded so far."},

	// Regular expressions.
	{Name: "re", Sig: "(pattern: string): robot.Regex", Fn: (*state).compileRegex,
		Doc: "Compiles an RE2 regular expression (Go's syntax; write it in long brackets: robot.re([[\\d+]])). An invalid pattern is an error."},

	// Work beyond the answer.
	{Name: "async", Sig: "(fn: fun())", Fn: (*state).queueAsync,
		Doc: "Runs fn after the handler has answered; send its results with robot.send. At most " + strconv.Itoa(maxAsync) +
			" functions per message, those queued by robot.async functions included, all sharing one handler_timeout counted from the start of the first."},
	{Name: "send", Sig: "(openid: string, reply: robot.Answer): ok: true?, err: robot.Error", Fn: (*state).send,
		Doc: "Sends a reply to the user through the customer-service API (needs app_id and app_secret)."},

	// Utilities.
	{Name: "generate_token", Sig: "(length?: integer): string", Fn: func(_ *state, L *lua.LState) int { return generateToken(L) },
		Doc: "A random token of letters and digits, 3 to 32 long (default 32), as WeRoBot's generate_token."},
	{Name: "stats", Sig: "(): robot.Stats?", Fn: (*state).stats,
		Doc: "The host's reply counters since it started, read-only; nil under luarobot check."},
	{Name: "uuid", Sig: "(): string", Fn: func(_ *state, L *lua.LState) int { return newUUID(L) },
		Doc: "A random (version 4) UUID, lower-case."},
	{Name: "sleep", Sig: "(seconds: number)", Fn: (*state).sleep,
		Doc: "Waits seconds (fractions allowed), never past the handler's deadline; the state's Lua slot serves other messages meanwhile."},
}

// robotTables are the tables of functions in the robot table.
var robotTables = []*apiTable{&replyAPI, &logAPI, &jsonAPI, &storeAPI, &httpAPI, &cryptoAPI, &base64API, &urlAPI}

// robotValue is a member of the robot table that is not a function of a
// binding table: the type editors see, and how a state makes it.
type robotValue struct {
	field luadef.Field
	make  func(st *state) lua.LValue
}

// robotValues are the other members of the robot table.
var robotValues = []robotValue{
	{luadef.Field{Name: "config", Type: "table<string, any>",
		Doc: "The configuration (luarobot.toml, LUAROBOT_* variables), read-only, without its secrets (token, app_secret, encoding_aes_key and encoding_aes_key_previous, redis_url, admin_token, api_proxy, http_proxy) and settings (robot.settings); empty under luarobot check."},
		(*state).configTable},
	{luadef.Field{Name: "settings", Type: "table<string, any>",
		Doc: "The scripts' own settings (the [settings] table of luarobot.toml, LUAROBOT_SETTINGS_<NAME>), read-only; empty under luarobot check."},
		(*state).settingsTable},
	{luadef.Field{Name: "client", Type: "robot.client", Doc: "The WeChat API (docs/client.md)."},
		(*state).newClient},
}

// newRobot builds the robot table of one state.
func (st *state) newRobot() *lua.LTable {
	L := st.L
	st.newDialogs()
	st.replyMeta = st.newReplyMeta()
	st.reMeta = st.newRegexMeta()
	r := L.CreateTable(0, len(typeRegistrations)+len(robotFuncs)+len(robotTables)+len(robotValues))
	st.bindFuncs(r, typeRegistrations)
	st.bindFuncs(r, robotFuncs)
	for _, t := range robotTables {
		r.RawSetString(t.key(), st.bindTable(t))
	}
	for _, v := range robotValues {
		r.RawSetString(v.field.Name, v.make(st))
	}
	return st.robotView(r)
}

// robotView is the read-only view of a robot table r, whose missing names
// raise an error naming them.
func (st *state) robotView(r *lua.LTable) *lua.LTable {
	ro := st.readOnly(r, "robot")
	// The view looks names up in r; a name r lacks is a typo, not nil.
	r.Metatable = st.unknownMember(r, "robot")
	return ro
}

// Code that is not a bot script (the test files of luarobot test, in a
// Sandbox) gets the members of robot that need no bot: these functions of
// robotFuncs, and these tables.
var (
	utilityFuncs  = map[string]bool{"re": true, "uuid": true}
	utilityTables = []*apiTable{&logAPI, &jsonAPI, &cryptoAPI, &base64API, &urlAPI}
)

// newUtilityRobot builds the robot table of a Sandbox: the utilities only.
func (st *state) newUtilityRobot() *lua.LTable {
	st.reMeta = st.newRegexMeta()
	var funcs []apiFunc
	for _, f := range robotFuncs {
		if utilityFuncs[f.Name] {
			funcs = append(funcs, f)
		}
	}
	r := st.L.CreateTable(0, len(funcs)+len(utilityTables))
	st.bindFuncs(r, funcs)
	for _, t := range utilityTables {
		r.RawSetString(t.key(), st.bindTable(t))
	}
	return st.robotView(r)
}

// unknownMember is the metatable of a table behind a read-only view whose
// missing names raise an error with a suggestion: "robot.subscibe does not
// exist (did you mean robot.subscribe?)", at load when the typo is at a
// script's top level, rather than "attempt to call a nil value" from the
// first user who reaches it.
func (st *state) unknownMember(t *lua.LTable, name string) *lua.LTable {
	mt := st.L.CreateTable(0, 1)
	mt.RawSetString("__index", st.L.NewFunction(func(L *lua.LState) int {
		key, ok := L.Get(2).(lua.LString)
		if !ok {
			L.Push(lua.LNil)
			return 1
		}
		var names []string
		t.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				names = append(names, string(s))
			}
		})
		hint := ""
		if c := suggest.Closest(string(key), names); c != "" {
			hint = fmt.Sprintf(" (did you mean %s.%s?)", name, c)
		}
		L.RaiseError("%s.%s does not exist%s", name, key, hint)
		return 0
	}))
	return mt
}

// ---- robot.stats ----

// stats is robot.stats(): the Go value Options.Stats returns, exposed
// through gopher-luar. It is a struct value, not a pointer, so its fields
// (named by their luar tags) read but cannot be assigned.
func (st *state) stats(L *lua.LState) int {
	if st.rt.opts.Stats == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(luar.New(L, st.rt.opts.Stats()))
	return 1
}

// ---- robot.async, robot.send ----

// maxAsync bounds the robot.async functions of one delivery, those they
// queue in turn included (all of them share one handler_timeout: see
// Runtime.runAsync).
const maxAsync = 8

func (st *state) queueAsync(L *lua.LState) int {
	fn := L.CheckFunction(1)
	if !st.loaded {
		L.RaiseError("robot.async runs work after a handler answers; call it from a handler (or robot.on_load), not while the scripts load")
	}
	if len(st.async) >= maxAsync {
		L.RaiseError("robot.async: at most %d functions per message, those queued by robot.async functions included", maxAsync)
	}
	file, line := callerPos(L)
	st.async = append(st.async, asyncJob{fn: fn, where: posString(file, line)})
	return 0
}

func (st *state) send(L *lua.LState) int {
	openid := L.CheckString(1)
	r, err := st.toReply(L.Get(2))
	if err != nil {
		L.RaiseError("robot.send: %s", err)
	}
	if r == nil {
		L.ArgError(2, "a reply to send (a string or a robot.reply value)")
	}
	// Like robot.client: a failure to deliver (no Client, WeChat refusing)
	// is a result the script can handle, nil and an error table.
	if st.rt.opts.Send == nil {
		return pushClientError(L, errors.New("robot.send: sending needs app_id and app_secret in the configuration"))
	}
	st.waitOrRaise(L, "robot.send", func(ctx context.Context) {
		err = st.rt.opts.Send(ctx, openid, r)
	})
	if err != nil {
		return pushClientError(L, err)
	}
	L.Push(lua.LTrue)
	return 1
}

// ctx is the context of the running call; Go calls made by scripts (the
// store, the Client, send) use it so that they end with the handler.
func (st *state) ctx() context.Context {
	if ctx := st.L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// ---- robot.client ----

// newClient builds robot.client: the Client's bindings; without a Client
// every method still exists and answers nil and an error saying why.
func (st *state) newClient() lua.LValue {
	return st.readOnly(newClientTable(st.L, st.rt.opts.Client, st.waitOrRaise), "robot.client")
}

// ---- robot.config ----

// secretKeys never reach robot.config, should the caller forget to remove
// them: a script that logs its configuration must not log these (a proxy
// URL, api_proxy or http_proxy, may hold a password).
var secretKeys = []string{"token", "app_secret", "encoding_aes_key", "encoding_aes_key_previous", "redis_url", "api_proxy", "http_proxy"}

// configTable is robot.config: Options.Config as nested read-only tables.
func (st *state) configTable() lua.LValue {
	cfg := st.rt.opts.Config
	for _, k := range secretKeys {
		if _, ok := cfg[k]; ok {
			cfg = maps.Clone(cfg)
			for _, k := range secretKeys {
				delete(cfg, k)
			}
			break
		}
	}
	return st.readOnlyValue(cfg, "robot.config", 0)
}

func (st *state) readOnlyValue(v any, name string, depth int) lua.LValue {
	if depth > maxDepth {
		return lua.LNil
	}
	L := st.L
	switch v := v.(type) {
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, st.readOnlyValue(e, name+"."+k, depth+1))
		}
		return st.readOnly(t, name)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(st.readOnlyValue(e, name, depth+1))
		}
		return st.readOnly(t, name)
	case nil:
		if depth == 0 {
			return st.readOnly(L.CreateTable(0, 0), name)
		}
		return lua.LNil
	case time.Duration:
		return lua.LString(v.String())
	default:
		return FromGo(L, v)
	}
}

// ---- robot.log and print ----

type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
)

var slogLevels = [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

// logAPI is robot.log: one function per level.
var logAPI = apiTable{name: "robot.log",
	doc: "The host's log (print logs at info). A line names the script and line that logged it.",
	funcs: []apiFunc{
		logFunc("debug", levelDebug), logFunc("info", levelInfo), logFunc("warn", levelWarn), logFunc("error", levelError),
	}}

func logFunc(name string, level logLevel) apiFunc {
	return apiFunc{Name: name, Sig: "(...: any)",
		Doc: "Logs the arguments, joined by spaces, at level " + name + "; a trailing table's fields become attributes: robot.log." + name + "(\"menu created\", {buttons = 3}).",
		Fn: func(st *state, L *lua.LState) int {
			st.logArgs(L, level)
			return 0
		}}
}

// logArgs logs robot.log.LEVEL(...): the arguments joined by spaces, and a
// trailing table's fields as attributes:
//
//	robot.log.info("menu created", {buttons = 3})
func (st *state) logArgs(L *lua.LState, level logLevel) {
	n := L.GetTop()
	var attrs *lua.LTable
	if n > 1 {
		if t, ok := L.Get(n).(*lua.LTable); ok {
			attrs = t
			n--
		}
	}
	parts := make([]string, n)
	for i := 1; i <= n; i++ {
		parts[i-1] = L.ToStringMeta(L.Get(i)).String()
	}
	st.logAt(L, level, joinLog(parts, " "), attrs)
}

// Bounds of one log line: a script logs what it likes, but one call must
// not copy megabytes into the log (print(s, s, s, ...) of a large string).
const (
	maxLogText  = 64 << 10 // the message, and the strings of the attributes
	maxLogAttrs = 64
)

// joinLog joins the parts of a log message, cut at maxLogText.
func joinLog(parts []string, sep string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + len(sep)
	}
	if n <= maxLogText+len(sep) {
		return strings.Join(parts, sep)
	}
	var b strings.Builder
	b.Grow(maxLogText + 32)
	for i, p := range parts {
		if i > 0 {
			b.WriteString(sep)
		}
		if b.Len()+len(p) > maxLogText {
			b.WriteString(p[:max(maxLogText-b.Len(), 0)])
			break
		}
		b.WriteString(p)
	}
	fmt.Fprintf(&b, "... (%d bytes in all)", n-len(sep))
	return b.String()
}

// cutLog cuts a string logged as an attribute or key at maxLogText.
func cutLog(s string) string {
	if len(s) <= maxLogText {
		return s
	}
	return s[:maxLogText] + fmt.Sprintf("... (%d bytes in all)", len(s))
}

func (st *state) logAt(L *lua.LState, level logLevel, msg string, attrs *lua.LTable) {
	logger := st.rt.log
	lv := slogLevels[level]
	ctx := st.ctx()
	if !logger.Enabled(ctx, lv) {
		return
	}
	file, line := callerPos(L)
	args := []any{slog.String("script", posString(file, line))}
	if attrs != nil {
		var keys []string
		vals := map[string]any{}
		// One bound for all the attributes, the size of a message.
		w := goWalk{ctx: ctx, maxBytes: maxLogText}
		k, v := attrs.Next(lua.LNil)
		for ; k != lua.LNil && len(keys) < maxLogAttrs; k, v = attrs.Next(k) {
			key := lua.LVAsString(k)
			if key == "" {
				key = k.String()
			}
			key = cutLog(key)
			g, err := w.value(v, 0)
			if err != nil {
				g = cutLog(v.String())
			}
			keys = append(keys, key)
			vals[key] = g
		}
		if k != lua.LNil {
			args = append(args, slog.String("attributes_dropped", fmt.Sprintf("more than %d", maxLogAttrs)))
		}
		sort.Strings(keys)
		for _, k := range keys {
			args = append(args, slog.Any(k, vals[k]))
		}
	}
	logger.Log(ctx, lv, msg, args...)
}

func posString(file string, line int) string {
	if file == "" {
		return "?"
	}
	if line <= 0 {
		return file
	}
	return file + ":" + strconv.Itoa(line)
}

// ---- robot.json ----

// jsonAPI is robot.json.
var jsonAPI = apiTable{name: "robot.json", doc: "JSON text to Lua values and back.",
	funcs: []apiFunc{
		{Name: "encode", Sig: "(value: any): string", Fn: (*state).jsonEncode,
			Doc: "The JSON text of value; a value JSON cannot hold (a function, a table with mixed keys) is an error."},
		{Name: "decode", Sig: "(text: string): value: any, err: string", Fn: (*state).jsonDecode,
			Doc: "The value of a JSON text, or nil and the error: the text comes from outside."},
	}}

// jsonEncode raises on a value JSON cannot hold: that is a bug in the
// script.
func (st *state) jsonEncode(L *lua.LState) int {
	b, err := encodeJSON(st.ctx(), L.CheckAny(1), false)
	if err != nil {
		L.RaiseError("robot.json.encode: %s", err)
	}
	L.Push(lua.LString(b))
	return 1
}

// jsonDecode answers nil and the error: the input comes from outside.
func (st *state) jsonDecode(L *lua.LState) int {
	text := L.CheckString(1)
	if len(text) > maxJSONBytes {
		L.Push(lua.LNil)
		L.Push(lua.LString(fmt.Sprintf("json: the text is %d bytes; the limit is %d", len(text), maxJSONBytes)))
		return 2
	}
	v, err := DecodeJSON(L, []byte(text), false)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(v)
	return 1
}

// ---- robot.generate_token ----

const tokenLetters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// generateToken is WeRoBot's generate_token: letters and digits, 3 to 32 of
// them (WeChat's limits for a token). The default is 32, the strongest
// token WeChat accepts (WeRoBot picks a random length, which can be 3).
func generateToken(L *lua.LState) int {
	n := L.OptInt(1, 32)
	if n < 3 || n > 32 {
		L.ArgError(1, "a token is 3 to 32 characters long")
	}
	L.Push(lua.LString(GenerateToken(n)))
	return 1
}

// GenerateToken returns a random token of n letters and digits (WeChat
// accepts 3 to 32), as WeRoBot's generate_token: robot.generate_token and
// `luarobot token` both use it.
func GenerateToken(n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(tokenLetters)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		b[i] = tokenLetters[k.Int64()]
	}
	return string(b)
}

// ---- robot.re ----

// regex is a compiled robot.re pattern.
type regex struct {
	src string
	re  *regexp.Regexp
}

// compileRegex is robot.re(pattern). The pattern is compiled once, as
// written; matching at the start (re:match, filter rules) uses the same
// regexp, not one built by wrapping the text in \A(?:...): a pattern's
// text cannot safely be spliced into another (an unterminated \Q quotes
// the closing parenthesis, and the wrapped pattern fails to compile,
// or means something else).
func (st *state) compileRegex(L *lua.LState) int {
	src := L.CheckString(1)
	re, err := regexp.Compile(src)
	if err != nil {
		L.RaiseError("robot.re: %s", err) // err quotes the pattern
	}
	ud := L.NewUserData()
	ud.Value = &regex{src: src, re: re}
	ud.Metatable = st.reMeta
	L.Push(ud)
	return 1
}

// regexMethods are the methods of robot.re values, named as Python's:
// re:match(s) matches at the start of s, re:search(s) anywhere. Both
// answer the match table (match[0] the whole match, match[1]... the
// groups, match.NAME the named groups) or nil.
var regexMethods = []apiFunc{
	{Name: "match", Sig: "(s: string): robot.Match?", Fn: regexMatch(true),
		Doc: "The match at the start of s (as Python's re.match), or nil."},
	{Name: "search", Sig: "(s: string): robot.Match?", Fn: regexMatch(false),
		Doc: "The first match anywhere in s (as Python's re.search), or nil."},
}

func regexMatch(atStart bool) func(*state, *lua.LState) int {
	return func(_ *state, L *lua.LState) int {
		rx := checkRegex(L, 1)
		L.Push(matchTable(L, rx, L.CheckString(2), atStart))
		return 1
	}
}

// newRegexMeta is the metatable of robot.re values.
func (st *state) newRegexMeta() *lua.LTable {
	L := st.L
	methods := L.CreateTable(0, len(regexMethods))
	st.bindFuncs(methods, regexMethods)
	mt := L.CreateTable(0, 4)
	mt.RawSetString("__index", methods)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("robot.re(" + quoteLua(checkRegex(L, 1).src) + ")"))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	return mt
}

func checkRegex(L *lua.LState, n int) *regex {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if rx, ok := ud.Value.(*regex); ok {
			return rx
		}
	}
	L.ArgError(n, "robot.re value expected (use re:match(s), with a colon)")
	return nil
}

// matchTable runs rx on s and returns the match table, or nil. With
// atStart, only a match that begins at the start of s counts (Python's
// re.match): the leftmost match begins there whenever one can, and it is
// then the very match the pattern anchored with \A would give, since Go's
// regexps prefer among the matches at one position as a backtracking
// engine would.
func matchTable(L *lua.LState, rx *regex, s string, atStart bool) lua.LValue {
	m := rx.re.FindStringSubmatchIndex(s)
	if m == nil || (atStart && m[0] != 0) {
		return lua.LNil
	}
	t := L.CreateTable(len(m)/2, 1)
	names := rx.re.SubexpNames()
	for i := 0; i < len(m)/2; i++ {
		if m[2*i] < 0 {
			continue // a group that took no part: nil, as Python's None
		}
		v := lua.LString(s[m[2*i]:m[2*i+1]])
		t.RawSetInt(i, v)
		if i < len(names) && names[i] != "" {
			t.RawSetString(names[i], v)
		}
	}
	return t
}

func quoteLua(s string) string {
	return "\"" + strings.NewReplacer("\\", "\\\\", "\"", "\\\"", "\n", "\\n").Replace(s) + "\""
}
