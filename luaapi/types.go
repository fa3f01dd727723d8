package luaapi

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// Definitions describes the Lua API of a runtime with opts for editors:
// the sections of the lua-language-server definition file `luarobot
// types` writes (luadef.Write). Everything comes from the tables that
// build the bindings: the robot table (robot.go and the binding tables
// of each file), the message types and fields of host/message, the
// methods of host/client. opts.Stats, when set, gives robot.Stats its
// fields (the luar tags of the value it returns).
func Definitions(opts Options) ([]luadef.Section, error) {
	var d definer
	sections := []luadef.Section{
		d.values(),
		d.messages(),
		d.robot(opts),
		d.dialogs(),
		d.client(),
	}
	return sections, d.err
}

// definer builds the sections, keeping the first error (a signature that
// does not parse).
type definer struct{ err error }

func (d *definer) funcs(fns []apiFunc) []luadef.Func {
	out, err := luadef.Funcs(fns)
	if err != nil && d.err == nil {
		d.err = err
	}
	return out
}

// values are the types a handler gets and returns.
func (d *definer) values() luadef.Section {
	s := luadef.Section{Title: "Handlers, replies and the values they use"}
	s.Aliases = []luadef.Alias{
		{Name: "robot.Session", Type: "table<string, any>",
			Doc: "The user's session: a table kept between the user's messages (strings, numbers, booleans and tables of them)."},
		{Name: "robot.Answer", Type: "string|robot.Reply|robot.Article[]|string[][]|string[]|false|nil",
			Doc: "What a handler returns: a text, a robot.reply value, a list of articles ({ {title, description, img, url}, ... } or keyed tables), a music list {title, description, url, hq_url?}; nil, false or \"\" let the next handler answer."},
		{Name: "robot.Handler", Type: "fun(message: robot.AnyMessage, session: robot.Session, match: robot.Match?): robot.Answer",
			Doc: "A handler: it gets the message, the user's session, and for a robot.re filter rule the match."},
		{Name: "robot.FilterHandler", Type: "fun(message: robot.Message.text, session: robot.Session, match: robot.Match?): robot.Answer",
			Doc: "A robot.filter handler: match is set when a robot.re rule matched."},
		{Name: "robot.HandlerType", Doc: "What robot.add_handler registers for: \"all\", a message or event type, or an event's registration name.",
			Cases: handlerTypeCases()},
		{Name: "robot.MessageType", Doc: "A message or event type (message.type).", Cases: literalCases(message.Types())},
		{Name: "robot.DialogMessageType", Doc: "A message type a dialog receives (events go to the other handlers).",
			Cases: literalCases(dialogTypes)},
		{Name: "robot.Rule", Type: "string|robot.Regex|(string|robot.Regex)[]",
			Doc: "A robot.filter rule: a text the content must equal, a robot.re that must match at its start, or a list of rules."},
		{Name: "robot.Match", Type: "table<integer|string, string>",
			Doc: "A regular expression's match: [0] the whole match, [1], [2], ... the groups (nil for a group that took no part), .NAME the named groups (?P<NAME>...)."},
		{Name: "robot.Query", Type: "table<string, string|number|boolean|(string|number|boolean)[]>",
			Doc: "Query parameters: a list of values repeats the parameter."},
	}
	s.Classes = append(s.Classes,
		luadef.Class{Name: "robot.Article", Doc: "One article of a news reply.", Fields: []luadef.Field{
			{Name: "title", Type: "string", Optional: true}, {Name: "description", Type: "string", Optional: true},
			{Name: "img", Type: "string", Optional: true, Doc: "the picture's URL"}, {Name: "url", Type: "string", Optional: true}}},
		luadef.Class{Name: "robot.Reply", Doc: "A value of robot.reply: kind names its constructor; its fields are the constructor's parameters.",
			Fields: []luadef.Field{{Name: "kind", Type: "string"}}},
	)
	for _, f := range d.funcs(replyAPI.funcs) {
		c := luadef.Class{Name: "robot.Reply." + f.Name, Parent: "robot.Reply", Doc: "The value of robot.reply." + f.Name + "().",
			Fields: []luadef.Field{{Name: "kind", Type: strconv.Quote(f.Name)}}}
		for _, p := range f.Params {
			c.Fields = append(c.Fields, luadef.Field{Name: p.Name, Type: p.Type})
		}
		s.Classes = append(s.Classes, c)
	}
	s.Classes = append(s.Classes,
		luadef.Class{Name: "robot.Error", Fields: errorFields, Doc: errorClassDoc},
		luadef.Class{Name: "robot.Regex", Methods: d.funcs(regexMethods), Doc: "A compiled robot.re pattern."},
	)
	return s
}

// Functions that answer nil and an error on failure give no error when
// they succeed; the error result is declared without nil all the same,
// because lua-language-server cannot tell that err is set exactly when
// the first result is nil: the idiom `if not res then log(err.errmsg) end`
// would warn (need-check-nil) on every use.
const (
	errorClassDoc = "The error of robot.client, robot.http and robot.send: tostring(err) is the whole message.\n" +
		"It is returned after a nil first result, and is nil when the call succeeded: check the first result\n" +
		"(`local res, err = robot.http.get(url); if not res then robot.log.warn(err.errmsg) end`)."
	errDoc = "nil when the call succeeded"
)

// handlerTypeCases lists what add_handler accepts: "all", the message
// types, then each event's registration name and its type.
func handlerTypeCases() []luadef.Case {
	cases := []luadef.Case{{Type: `"all"`, Doc: "every message and event (robot.handler)"}}
	for _, t := range messageTypes {
		cases = append(cases, luadef.Case{Type: strconv.Quote(t)})
	}
	for _, e := range eventTypes {
		if t := eventType(e); t != e {
			cases = append(cases, luadef.Case{Type: strconv.Quote(e), Doc: "the same as " + strconv.Quote(t)})
			cases = append(cases, luadef.Case{Type: strconv.Quote(t)})
		} else {
			cases = append(cases, luadef.Case{Type: strconv.Quote(e)})
		}
	}
	return cases
}

func literalCases(names []string) []luadef.Case {
	cases := make([]luadef.Case, len(names))
	for i, n := range names {
		cases[i] = luadef.Case{Type: strconv.Quote(n)}
	}
	return cases
}

// messages are the message tables: a class per type, from host/message's
// tables, and robot.AnyMessage.
func (d *definer) messages() luadef.Section {
	s := luadef.Section{Title: "Messages: the message table, a class per type (fields WeChat sent empty are absent)"}
	s.Classes = append(s.Classes, luadef.Class{Name: "robot.Message", Fields: messageFields,
		Doc: "A message or event WeChat pushed, read-only: the fields every type has. A field WeChat sent empty is absent;\nan integer field holds WeChat's text (a string) when it is not a plain integer."})
	union := luadef.Alias{Name: "robot.AnyMessage", Doc: "A message of any type; message.type tells which."}
	for _, typ := range message.Types() {
		info, _ := message.Describe(typ)
		name := "robot.Message." + typ
		c := luadef.Class{Name: name, Parent: "robot.Message", Doc: messageDoc(info),
			Fields: []luadef.Field{{Name: "type", Type: strconv.Quote(typ)}}}
		for _, f := range info.Fields {
			field, sub := messageField(name, f)
			c.Fields = append(c.Fields, field)
			s.Classes = append(s.Classes, sub...)
		}
		if typ == "unknown_event" {
			c.Fields = append(c.Fields, unknownEventFields...)
		}
		s.Classes = append(s.Classes, c)
		union.Cases = append(union.Cases, luadef.Case{Type: name})
	}
	s.Aliases = append(s.Aliases, union)
	return s
}

func messageDoc(info message.TypeInfo) string {
	switch {
	case info.Name == "unknown":
		return "A message of a MsgType LuaRoBot does not know: read message.raw."
	case info.Name == "unknown_event":
		return "An event LuaRoBot does not know: event and key, the rest in message.raw."
	case info.Event:
		return "The event `" + info.Name + "`: WeChat's Event `" + info.Wire + "`."
	}
	return "The message `" + info.Name + "`: WeChat's MsgType `" + info.Wire + "`."
}

// messageField is the field of f in class owner, with the classes of its
// table or list items.
func messageField(owner string, f message.FieldInfo) (luadef.Field, []luadef.Class) {
	field := luadef.Field{Name: f.Name, Optional: true}
	where := "<" + f.Element + ">"
	switch f.Kind {
	case message.KindInteger:
		field.Type, field.Doc = "integer", where
	case message.KindNumber:
		field.Type, field.Doc = "number", where
	case message.KindBytes:
		field.Type, field.Doc = "string", "the bytes of "+where+", decoded from base64"
	case message.KindKeyPart:
		field.Type, field.Doc = "string", "part "+strconv.Itoa(f.Part+1)+" of <EventKey> split at \"|\""
	case message.KindTable, message.KindList:
		class := owner + "." + f.Name
		c := luadef.Class{Name: class, Doc: "The items of " + owner + "'s " + f.Name + "."}
		var classes []luadef.Class
		for _, sf := range f.Fields {
			sfield, sub := messageField(class, sf)
			c.Fields = append(c.Fields, sfield)
			classes = append(classes, sub...)
		}
		if f.Kind == message.KindTable {
			c.Doc = "The " + f.Name + " block of " + owner + "."
			field.Type, field.Doc = class, where
		} else {
			field.Type, field.Doc = class+"[]", where+", one table per item"
		}
		return field, append(classes, c)
	default:
		field.Type, field.Doc = "string", where
	}
	return field, nil
}

// robot is the robot table.
func (d *definer) robot(opts Options) luadef.Section {
	s := luadef.Section{Title: "The robot table"}
	r := luadef.Class{Name: "robot", Global: true,
		Doc:   "The LuaRoBot API (docs/lua.md). Handlers are registered while the scripts load.",
		Funcs: append(d.funcs(typeRegistrations), d.funcs(robotFuncs)...)}
	for _, v := range robotValues {
		r.Fields = append(r.Fields, v.field)
	}
	s.Classes = append(s.Classes, r)
	for _, t := range robotTables {
		s.Classes = append(s.Classes, luadef.Class{Name: t.name, Global: true, Doc: t.doc, Funcs: d.funcs(t.funcs)})
	}
	s.Classes = append(s.Classes,
		luadef.Class{Name: "robot.http.Options", Fields: httpOptionFields, Doc: "The options of robot.http.get and robot.http.post."},
		luadef.Class{Name: "robot.http.Request", Parent: "robot.http.Options", Fields: httpTargetFields,
			Doc: "The request of robot.http.request: the options with method and url."},
		luadef.Class{Name: "robot.http.Response", Fields: httpResultFields, Doc: "A response of robot.http."},
		statsClass(opts),
	)
	return s
}

// statsClass describes what robot.stats() returns: the fields of the
// value opts.Stats gives, named by their luar tags.
func statsClass(opts Options) luadef.Class {
	c := luadef.Class{Name: "robot.Stats", Doc: "The host's reply counters since it started (robot.stats()), read-only."}
	if opts.Stats == nil {
		return c
	}
	t := reflect.TypeOf(opts.Stats())
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return c
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("luar")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		c.Fields = append(c.Fields, luadef.Field{Name: name, Type: luaTypeOf(f.Type)})
	}
	return c
}

func luaTypeOf(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	}
	return "any"
}

// dialogs are robot.dialog's values.
func (d *definer) dialogs() luadef.Section {
	return luadef.Section{Title: "Conversations: robot.dialog", Classes: []luadef.Class{
		{Name: "robot.Dialog", Methods: d.funcs(dialogMethods),
			Fields: []luadef.Field{{Name: "message", Type: "robot.AnyMessage", Doc: "the message being handled"}},
			Doc:    "The dialog value d of a robot.dialog function: its steps wait for the user."},
		{Name: "robot.DialogOptions", Fields: dialogOptionFields, Doc: "The options of robot.dialog."},
		{Name: "robot.StepOptions", Fields: stepOptionFields, Doc: "The options of a step (d:ask, d:choose, d:wait)."},
		{Name: "robot.AskOptions", Parent: "robot.StepOptions", Fields: askOptionFields, Doc: "The options of d:ask."},
	}}
}

// client is robot.client: a function per method of host/client's table,
// and call.
func (d *definer) client() luadef.Section {
	c := luadef.Class{Name: "robot.client", Global: true,
		Doc: "The WeChat API (docs/client.md): WeRoBot's Client methods, Python's names and positional arguments. Each returns WeChat's answer, or nil and a robot.Error; wrong arguments are Lua errors."}
	for _, m := range client.Methods() {
		c.Funcs = append(c.Funcs, clientMethodDef(m))
	}
	call, err := clientCallDef.Func()
	if err != nil && d.err == nil {
		d.err = err
	}
	c.Funcs = append(c.Funcs, call)
	return luadef.Section{Title: "robot.client: the WeChat API", Classes: []luadef.Class{c}}
}

// clientParamTypes are the Lua types of the client's parameter types.
var clientParamTypes = map[client.ParamType]string{
	client.TypeString: "string", client.TypeInteger: "integer|string", client.TypeTable: "table",
	client.TypeList: "any[]", client.TypeJSON: "any", client.TypeBoolean: "boolean",
	client.TypeFlag: "boolean|integer", client.TypePath: "string", client.TypeAny: "any",
}

func clientMethodDef(m client.Method) luadef.Func {
	f := luadef.Func{Name: m.Name}
	var doc []string
	switch {
	case m.HTTPMethod != "" && !strings.HasPrefix(m.Path, "("):
		doc = append(doc, "`"+m.HTTPMethod+" "+m.Path+"`.")
	case m.HTTPMethod == "":
		doc = append(doc, "Answered by the host.")
	}
	if m.Note != "" {
		doc = append(doc, upperFirst(m.Note)+".")
	}
	doc = append(doc, "(From "+m.Source+".)")
	f.Doc = strings.Join(doc, " ")
	for _, p := range m.Params {
		lp := luadef.Param{Name: p.Name, Type: clientParamTypes[p.Type()], Optional: p.Optional || p.Default != nil}
		if p.Type() == client.TypePath {
			lp.Doc = "a path inside media_dir"
		}
		if p.Default != nil {
			lp.Doc = strings.TrimPrefix(lp.Doc+"; default "+defaultLiteral(p.Default), "; ")
		}
		f.Params = append(f.Params, lp)
	}
	switch m.Result {
	case client.ResultMedia:
		f.Returns = []luadef.Return{
			{Type: "string?", Name: "data", Doc: "the bytes, or the save_as path"},
			{Type: "string|robot.Error", Name: "content_type", Doc: "the content type; on failure the error"},
		}
	case client.ResultString:
		f.Returns = []luadef.Return{{Type: "string?", Name: "value"}, {Type: "robot.Error", Name: "err", Doc: errDoc}}
	default:
		f.Returns = []luadef.Return{{Type: "table?", Name: "res", Doc: "WeChat's answer"}, {Type: "robot.Error", Name: "err", Doc: errDoc}}
	}
	return f
}

// defaultLiteral writes a parameter's default as Lua source.
func defaultLiteral(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
