package luaapi

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/luarobot/luarobot/host/client"
	"github.com/luarobot/luarobot/host/message"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

var updateTypes = flag.Bool("update-types", false, "rewrite testdata/types.golden from the current definitions")

// typesStats stands for the host's Stats in these tests: robot.Stats
// takes its fields from the luar tags.
type typesStats struct {
	Deliveries int64   `luar:"deliveries"`
	Ratio      float64 `luar:"ratio"`
	Hidden     int     `luar:"-"`
	Plain      string
	unexported int
}

// definitionFile is the definition file of the robot API, as `luarobot
// types` writes it.
func definitionFile(t *testing.T) string {
	t.Helper()
	sections, err := Definitions(Options{Stats: func() any { return typesStats{} }})
	if err != nil {
		t.Fatalf("Definitions: %v", err)
	}
	var b bytes.Buffer
	if err := luadef.Write(&b, "test", sections); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return b.String()
}

// defs is what a definition file declares, read back from its text.
type defs struct {
	funcs   map[string]bool            // "robot.store.get", "robot_Dialog:ask"
	classes map[string]map[string]bool // class → its fields
	fields  map[string]map[string]string
	parent  map[string]string
}

func readDefs(t *testing.T, text string) defs {
	t.Helper()
	d := defs{funcs: map[string]bool{}, classes: map[string]map[string]bool{},
		fields: map[string]map[string]string{}, parent: map[string]string{}}
	class := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "---@class "):
			name, parent, _ := strings.Cut(strings.TrimPrefix(line, "---@class "), " : ")
			class = name
			d.classes[class] = map[string]bool{}
			d.fields[class] = map[string]string{}
			d.parent[class] = parent
		case strings.HasPrefix(line, "---@field ") && class != "":
			name, typ, _ := strings.Cut(strings.TrimPrefix(line, "---@field "), " ")
			typ, _, _ = strings.Cut(typ, " # ")
			name = strings.TrimSuffix(name, "?")
			d.classes[class][name] = true
			d.fields[class][name] = typ
		case strings.HasPrefix(line, "function "):
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "function "), "(")
			d.funcs[name] = true
			class = ""
		default:
			class = ""
		}
	}
	return d
}

// fieldsOf is the fields of class and of the classes it extends.
func (d defs) fieldsOf(class string) map[string]string {
	out := map[string]string{}
	for c := class; c != ""; c = d.parent[c] {
		for k, v := range d.fields[c] {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

// typesState is a real state of a runtime, as the pool makes them.
func typesState(t *testing.T, opts Options) *state {
	t.Helper()
	rt, _ := startRuntime(t, map[string]string{"a.lua": "-- nothing"}, opts)
	st, err := rt.newState(context.Background(), rt.cur.Load())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.close)
	return st
}

func plain(v lua.LValue) (*lua.LTable, bool) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, false
	}
	return plainTable(t), true
}

// Every function of a real robot table — registrations, robot.reply,
// robot.store, ..., every robot.client method — has a definition, and
// every defined robot function exists.
func TestDefinitionsCoverTheRobotTable(t *testing.T) {
	d := readDefs(t, definitionFile(t))
	st := typesState(t, Options{Stats: func() any { return typesStats{} }})
	robot, _ := plain(st.L.GetGlobal("robot"))
	seen := map[string]bool{}
	var walk func(path string, tbl *lua.LTable)
	walk = func(path string, tbl *lua.LTable) {
		if _, ok := d.classes[path]; !ok {
			t.Errorf("%s: no class", path)
		}
		tbl.ForEach(func(k, v lua.LValue) {
			name := path + "." + k.String()
			switch v := v.(type) {
			case *lua.LFunction:
				seen[name] = true
				if !d.funcs[name] {
					t.Errorf("%s is bound but not defined", name)
				}
			case *lua.LTable:
				if path == "robot" && (k.String() == "config" || k.String() == "settings") {
					// Data, not API: a field of robot.
					if d.fields["robot"][k.String()] != "table<string, any>" {
						t.Errorf("robot.%s: field %q", k, d.fields["robot"][k.String()])
					}
					return
				}
				sub, _ := plain(v)
				walk(name, sub)
			default:
				t.Errorf("%s is a %s: what does it define?", name, v.Type())
			}
		})
	}
	walk("robot", robot)
	var defined []string
	for name := range d.funcs {
		if strings.HasPrefix(name, "robot.") {
			defined = append(defined, name)
			if !seen[name] {
				t.Errorf("%s is defined but not bound", name)
			}
		}
	}
	// The walk saw everything: registrations, the client's methods.
	if len(defined) < len(messageTypes)+len(eventTypes)+len(client.Methods())+40 {
		t.Errorf("only %d robot functions defined", len(defined))
	}
	for _, name := range []string{"robot.text", "robot.subscribe", "robot.unknown_event", "robot.filter", "robot.dialog",
		"robot.reply.articles", "robot.store.incr", "robot.http.request", "robot.client.send_text_message", "robot.client.call"} {
		if !seen[name] {
			t.Errorf("the walk missed %s", name)
		}
	}
}

// The methods of the values scripts get (robot.re values, the dialog
// value d) are defined, and only those.
func TestDefinitionsCoverMethods(t *testing.T) {
	d := readDefs(t, definitionFile(t))
	st := typesState(t, Options{})
	reMethods, _ := st.reMeta.RawGetString("__index").(*lua.LTable)
	for class, methods := range map[string]*lua.LTable{"robot.Regex": reMethods, "robot.Dialog": st.dialog.methods} {
		local := luadef.LocalName(class)
		var bound []string
		methods.ForEach(func(k, _ lua.LValue) {
			bound = append(bound, local+":"+k.String())
			if !d.funcs[local+":"+k.String()] {
				t.Errorf("%s:%s is bound but not defined", class, k)
			}
		})
		for name := range d.funcs {
			if strings.HasPrefix(name, local+":") && !slices.Contains(bound, name) {
				t.Errorf("%s is defined but not bound", name)
			}
		}
		if len(bound) < 2 {
			t.Errorf("%s: %d methods", class, len(bound))
		}
	}
	if !d.classes["robot.Dialog"]["message"] {
		t.Error("d.message is not defined")
	}
}

// Every message of every golden sample becomes a table whose fields —
// down into its blocks and lists — are those of its class.
func TestDefinitionsOfMessages(t *testing.T) {
	d := readDefs(t, definitionFile(t))
	st := typesState(t, Options{})
	files, err := filepath.Glob("../host/message/testdata/messages/*.xml")
	if err != nil || len(files) < 60 {
		t.Fatalf("samples: %v (%d)", err, len(files))
	}
	types := map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := message.Parse(raw)
		if err != nil {
			continue
		}
		types[msg.Type] = true
		tbl, _ := plain(st.messageTable(msg))
		checkTableFields(t, d, filepath.Base(file), "robot.Message."+msg.Type, tbl)
	}
	if len(types) < 50 {
		t.Errorf("the samples cover only %d types", len(types))
	}
	// Every type has its class, with the fields host/message lists, and
	// is in robot.AnyMessage.
	text := definitionFile(t)
	for _, typ := range message.Types() {
		fields := d.fieldsOf("robot.Message." + typ)
		names, _ := message.FieldNames(typ)
		for _, n := range names {
			if _, ok := fields[n]; !ok {
				t.Errorf("robot.Message.%s has no field %s", typ, n)
			}
		}
		if fields["type"] != `"`+typ+`"` {
			t.Errorf("robot.Message.%s: type is %q", typ, fields["type"])
		}
		if !strings.Contains(text, "---| robot.Message."+typ+"\n") {
			t.Errorf("robot.AnyMessage lacks %s", typ)
		}
	}
}

// checkTableFields checks that every key of tbl is a field of class,
// and the fields of nested tables against their classes.
func checkTableFields(t *testing.T, d defs, where, class string, tbl *lua.LTable) {
	t.Helper()
	fields := d.fieldsOf(class)
	if len(fields) == 0 {
		t.Errorf("%s: no class %s", where, class)
		return
	}
	tbl.ForEach(func(k, v lua.LValue) {
		typ, ok := fields[k.String()]
		if !ok {
			t.Errorf("%s: %s has no field %s", where, class, k)
			return
		}
		sub, isTable := plain(v)
		switch {
		case !isTable:
		case strings.HasSuffix(typ, "[]"):
			for i := 1; i <= sub.Len(); i++ {
				item, _ := plain(sub.RawGetInt(i))
				checkTableFields(t, d, where, strings.TrimSuffix(typ, "[]"), item)
			}
		default:
			checkTableFields(t, d, where, typ, sub)
		}
	})
}

// A robot.reply value has the fields its class says, the constructor's
// parameters.
func TestDefinitionsOfReplies(t *testing.T) {
	d := readDefs(t, definitionFile(t))
	st := typesState(t, Options{})
	L := st.L
	robot, _ := plain(L.GetGlobal("robot"))
	ctors, _ := plain(robot.RawGetString("reply"))
	for _, ctor := range replyAPI.funcs {
		f, err := ctor.Func()
		if err != nil {
			t.Fatal(err)
		}
		var args []lua.LValue
		for i, p := range f.Params {
			if p.Type == "robot.Article[]" {
				art := L.NewTable()
				art.RawSetString("title", lua.LString("t"))
				list := L.NewTable()
				list.Append(art)
				args = append(args, list)
				continue
			}
			args = append(args, lua.LString("v"+string(rune('1'+i))))
		}
		if err := L.CallByParam(lua.P{Fn: ctors.RawGetString(ctor.Name), NRet: 1, Protect: true}, args...); err != nil {
			t.Errorf("robot.reply.%s: %v", ctor.Name, err)
			continue
		}
		value := L.Get(-1)
		L.Pop(1)
		class := "robot.Reply." + ctor.Name
		fields := d.fieldsOf(class)
		if fields["kind"] != `"`+ctor.Name+`"` || L.GetField(value, "kind").String() != ctor.Name {
			t.Errorf("%s: kind %s, the value's %s", class, fields["kind"], L.GetField(value, "kind"))
		}
		for name := range fields {
			if L.GetField(value, name) == lua.LNil {
				t.Errorf("%s.%s is nil on robot.reply.%s(...)", class, name, ctor.Name)
			}
		}
		if len(fields) != len(f.Params)+1 {
			t.Errorf("%s has %d fields for %d parameters", class, len(fields), len(f.Params))
		}
	}
}

// luaSample is a Lua value of a documented option: a value that means
// something where the type alone does not say, else one of the type.
func luaSample(t *testing.T, f luadef.Field) string {
	t.Helper()
	if s, ok := map[string]string{"timeout": `"1m"`, "url": `"http://127.0.0.1:1/x"`, "method": `"PUT"`,
		"check": `{"a"}`, "tries": "3", "cancel": `{"q"}`}[f.Name]; ok {
		return s
	}
	first, _, _ := strings.Cut(f.Type, "|")
	switch first {
	case "string", "robot.Answer":
		return `"x"`
	case "robot.Query", "table<string, string>":
		return `{a = "1"}`
	case "any":
		return `{a = 1}`
	case "integer", "number":
		return "2"
	}
	t.Fatalf("option %s: no sample for type %s", f.Name, f.Type)
	return ""
}

// Every documented option is accepted: the unknown-option errors list
// the documented names, so an option missing from the code fails here.
func TestDefinedOptionsAreAccepted(t *testing.T) {
	// robot.http: one option at a time (body, json and form exclude
	// each other). The URL is refused by http_allow: no request leaves.
	var calls []string
	for _, f := range httpOptionFields {
		calls = append(calls, "robot.http.get(\"http://127.0.0.1:1/x\", {"+f.Name+" = "+luaSample(t, f)+"})")
	}
	var req []string
	for _, f := range httpTargetFields {
		req = append(req, f.Name+" = "+luaSample(t, f))
	}
	calls = append(calls, "robot.http.request{"+strings.Join(req, ", ")+"}")
	chunk := "local n = 0\n"
	for _, c := range calls {
		chunk += "do local res, err = " + c + "; assert(err and err.errmsg:find(\"http_allow\"), tostring(err)); n = n + 1 end\n"
	}
	if got := runLua(t, Options{}, chunk+"return tostring(n)"); got != strconv.Itoa(len(calls)) {
		t.Errorf("robot.http options: %s", got)
	}

	// robot.dialog and its steps, with every option at once.
	opts := func(fields ...[]luadef.Field) string {
		var parts []string
		for _, fs := range fields {
			for _, f := range fs {
				parts = append(parts, f.Name+" = "+luaSample(t, f))
			}
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	script := `
local flow = robot.dialog("flow", function(d)
  local a = d:ask("ask", ` + opts(askOptionFields, stepOptionFields) + `)
  local b = d:choose("choose", {"b"}, ` + opts(stepOptionFields) + `)
  local m = d:wait("wait", "text", ` + opts(stepOptionFields) + `)
  return a .. b .. m.content
end, ` + opts(dialogOptionFields) + `)
robot.filter("go", flow)
`
	rt, _ := startRuntime(t, map[string]string{"flow.lua": script}, Options{})
	var session []byte
	var got []string
	for _, text := range []string{"go", "a", "b", "c"} {
		r, s := dispatch(t, rt, textMsg(text), session)
		if s != nil {
			session = s
		}
		got = append(got, textOf(r))
	}
	if want := []string{"ask", "choose\n1. b", "wait", "abc"}; !slices.Equal(got, want) {
		t.Errorf("dialog replies %q, want %q", got, want)
	}
}

// robot.Stats has the luar-tagged fields of the value Options.Stats
// returns.
func TestDefinitionsOfStats(t *testing.T) {
	d := readDefs(t, definitionFile(t))
	got := d.fields["robot.Stats"]
	want := map[string]string{"deliveries": "integer", "ratio": "number", "Plain": "string"}
	if len(got) != len(want) {
		t.Errorf("robot.Stats fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("robot.Stats.%s: %q, want %q", k, got[k], v)
		}
	}
	sections, err := Definitions(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sections {
		for _, c := range s.Classes {
			if c.Name == "robot.Stats" && len(c.Fields) != 0 {
				t.Errorf("without Options.Stats, robot.Stats has fields %v", c.Fields)
			}
		}
	}
}

// The file is Lua: it parses, and running it defines robot's functions.
func TestDefinitionFileIsLua(t *testing.T) {
	text := definitionFile(t)
	if _, err := parse.Parse(strings.NewReader(text), "luarobot.d.lua"); err != nil {
		t.Fatalf("parse: %v", err)
	}
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(text); err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := L.DoString(`assert(type(robot.text) == "function" and type(robot.client.get_user_info) == "function"
		and type(robot.reply.music) == "function")`); err != nil {
		t.Error(err)
	}
}

// A golden excerpt of the file: robot.store, the text message, a client
// method with a default and a download. Run with -update-types after a
// deliberate change.
func TestDefinitionsGolden(t *testing.T) {
	text := definitionFile(t)
	var excerpt strings.Builder
	for _, block := range []struct{ from, to string }{
		{"---Bot-wide values", "function robot.store.incr(key, n) end\n"},
		{"---The message `text`", "---@field content? string # <Content>\n"},
		{"---`GET /cgi-bin/user/info`", "function robot.client.get_user_info(user_id, lang) end\n"},
		{"---`GET /cgi-bin/media/get`", "function robot.client.download_media(media_id, save_as) end\n"},
	} {
		i := strings.Index(text, block.from)
		j := strings.Index(text[max(i, 0):], block.to)
		if i < 0 || j < 0 {
			t.Fatalf("the file has no block from %q to %q", block.from, block.to)
		}
		excerpt.WriteString(text[i:i+j+len(block.to)] + "\n")
	}
	const golden = "testdata/types.golden"
	if *updateTypes {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(excerpt.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDefinitionsGolden -update-types)", err)
	}
	if excerpt.String() != string(want) {
		t.Errorf("excerpt differs from %s:\n%s", golden, excerpt.String())
	}
}

// The robot.HandlerType cases are exactly the names add_handler accepts.
func TestHandlerTypeCases(t *testing.T) {
	var got []string
	for _, c := range handlerTypeCases() {
		got = append(got, strings.Trim(c.Type, `"`))
	}
	var want []string
	for name := range handlerTypes {
		want = append(want, name)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("robot.HandlerType %v\nadd_handler accepts %v", got, want)
	}
}

// The robot.DialogMessageType cases, and the typed forms of d:wait, are
// exactly the types d:wait accepts: a dialog waiting for each message
// type either sends its prompt or fails, as the definitions say.
func TestDialogMessageTypeCases(t *testing.T) {
	text := definitionFile(t)
	var defined []string
	block := text[strings.Index(text, "---@alias robot.DialogMessageType\n"):]
	for _, line := range strings.Split(block, "\n")[1:] {
		c, ok := strings.CutPrefix(line, "---| ")
		if !ok {
			break
		}
		defined = append(defined, strings.Trim(c, `"`))
	}
	var script strings.Builder
	for _, typ := range messageTypes {
		fmt.Fprintf(&script, "robot.filter(%q, robot.dialog(%q, function(d) return d:wait(\"prompt\", %q).type end))\n",
			"wait "+typ, "wait_"+typ, typ)
	}
	rt, _ := startRuntime(t, map[string]string{"wait.lua": script.String()}, Options{})
	var accepted []string
	for _, typ := range messageTypes {
		r, _, _ := rt.Dispatch(context.Background(), textMsg("wait "+typ), nil)
		if textOf(r) == "prompt" {
			accepted = append(accepted, typ)
		}
	}
	if len(accepted) < 5 || !slices.Equal(defined, accepted) {
		t.Errorf("robot.DialogMessageType %v\nd:wait accepts %v", defined, accepted)
	}
	for _, typ := range messageTypes {
		overload := `type: "` + typ + `", opts?: robot.StepOptions): robot.Message.` + typ
		if strings.Contains(text, overload) != slices.Contains(accepted, typ) {
			t.Errorf("d:wait's typed form for %q is defined: %v; accepted: %v", typ, !slices.Contains(accepted, typ), slices.Contains(accepted, typ))
		}
	}
}
