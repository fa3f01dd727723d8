package cmd

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/host/reply"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// defaultTypesFile is where `luarobot types` writes; the .luarc.json of
// `luarobot init` points lua-language-server at this name.
const defaultTypesFile = "luarobot.d.lua"

// typesIntro heads the definition file.
const typesIntro = `LuaRoBot's Lua API for lua-language-server (VS Code's Lua extension by
sumneko, Neovim's lua_ls, ...): completion, hover and type checks for robot.*,
the message of each type, robot.client and the test API of luarobot test.
Written by "luarobot types" from the bindings themselves. Do not edit: run
"luarobot types" again after upgrading luarobot. See docs/lua.md, "Editor support".`

// typesCommand is `luarobot types [file]`: it writes the definition file
// of the whole Lua API (default luarobot.d.lua; "-" for the standard
// output).
func typesCommand(args []string) error {
	fs := flag.NewFlagSet("types", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: luarobot types [file]   (default %s; - writes to the standard output)\n\n", defaultTypesFile)
		fmt.Fprintln(fs.Output(), "Writes the lua-language-server definitions of the Lua API, for editor completion and checks.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Sprintf("one file expected, got %d arguments", fs.NArg())}
	}
	file := defaultTypesFile
	if fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	var buf bytes.Buffer
	if err := writeTypes(&buf); err != nil {
		return err
	}
	if file == "-" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := writeFileAtomic(file, buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", file)
	return nil
}

// writeTypes writes the definition file: the robot API of a runtime as
// serve makes it (robot.stats() returns the host's Stats), then the test
// API.
func writeTypes(buf *bytes.Buffer) error {
	sections, err := luaapi.Definitions(luaapi.Options{Stats: func() any { return host.Stats{} }})
	if err != nil {
		return err
	}
	test, err := testAPIDefinitions()
	if err != nil {
		return err
	}
	return luadef.Write(buf, typesIntro, append(sections, test...))
}

// writeFileAtomic replaces file with data through a temporary file in the
// same folder, so an editor watching it never reads half a file.
func writeFileAtomic(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err // it names the temporary file; the caller names the file
	} else if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}

// The test API of `luarobot test` (DESIGN.md, "Testing a bot"), as binding
// tables without their Go functions: the runner that binds these names
// lives elsewhere. When its own binding tables carry these definitions
// (luadef.Binding with its function type, as luaapi's do), they replace
// the tables below and testAPIDefinitions becomes the runner's.
type testBinding = luadef.Binding[any]

var (
	testGlobals = []testBinding{
		{Name: "test", Sig: "(name: string, fn: fun(t: luarobot.Test))",
			Doc: "A test of a *_test.lua file: fn gets a fresh bot (the folder's scripts, a memory store, fake WeChat API, HTTP and clock). A failed check ends the test; the others still run."},
	}
	testMethods = []testBinding{
		{Name: "user", Sig: "(openid?: string): luarobot.User", Doc: "A user of the bot; without an openid, a fresh one."},
		{Name: "eq", Sig: "(got: any, want: any)", Doc: "Fails the test unless got equals want."},
		{Name: "ok", Sig: "(v: any, msg?: string)", Doc: "Fails the test with msg unless v is true (not nil or false)."},
		{Name: "fail", Sig: "(msg: string)", Doc: "Fails the test with msg."},
		{Name: "session", Sig: "(openid: string): robot.Session", Doc: "The stored session of a user."},
	}
	testUserMethods = []testBinding{
		{Name: "send", Sig: "(text: string): luarobot.Reply", Doc: "Sends a text message; returns the bot's reply."},
		{Name: "image", Sig: "(media_id?: string): luarobot.Reply", Doc: "Sends an image message."},
		{Name: "voice", Sig: "(media_id?: string, recognition?: string): luarobot.Reply", Doc: "Sends a voice message (recognition: its speech-recognition text)."},
		{Name: "location", Sig: "(x: number, y: number, label?: string): luarobot.Reply", Doc: "Sends a location message (x latitude, y longitude)."},
		{Name: "link", Sig: "(title: string, url: string): luarobot.Reply", Doc: "Sends a link message."},
		{Name: "subscribe", Sig: "(key?: string): luarobot.Reply", Doc: "The user follows the account (key: the EventKey, as a parameterised QR code gives it)."},
		{Name: "unsubscribe", Sig: "(): luarobot.Reply", Doc: "The user unfollows the account."},
		{Name: "click", Sig: "(key: string): luarobot.Reply", Doc: "The user clicks the menu button of key."},
		{Name: "view", Sig: "(url: string): luarobot.Reply", Doc: "The user opens the menu link url."},
		{Name: "scan", Sig: "(key: string): luarobot.Reply", Doc: "A follower scans the QR code of scene key."},
		{Name: "message", Sig: "(type: robot.MessageType, fields?: table): luarobot.Reply", Doc: "Sends a message or event of any type with its fields."},
	}
	testReplyMethods = []testBinding{
		{Name: "expect", Sig: "(text: string): luarobot.Reply", Doc: "Checks that the reply is the text; with a table, that the reply has those fields.",
			Overloads: []string{"fun(fields: table): luarobot.Reply"}},
		{Name: "expect_contains", Sig: "(s: string): luarobot.Reply", Doc: "Checks that the reply's text contains s."},
		{Name: "expect_match", Sig: "(re: string|robot.Regex): luarobot.Reply", Doc: "Checks that the RE2 pattern matches the reply's text anywhere."},
		{Name: "expect_none", Sig: "(): luarobot.Reply", Doc: "Checks that the bot answered nothing (success)."},
	}
	testAPIMethods = []testBinding{
		{Name: "on", Sig: "(endpoint: string, answer: table|function)", Doc: "WeChat's answer to an endpoint (\"user/info\"): a table, or a function that returns one. Unmatched endpoints answer {errcode = 0, errmsg = \"ok\"}."},
		{Name: "fail", Sig: "(endpoint: string, errcode: integer)", Doc: "The endpoint fails with errcode."},
		{Name: "calls", Sig: "(endpoint?: string): table[]", Doc: "The calls the bot made, of one endpoint or all."},
		{Name: "expect_called", Sig: "(endpoint: string, body_subset?: table)", Doc: "Checks that the bot called endpoint with a body that has those fields."},
	}
	testHTTPMethods = []testBinding{
		{Name: "on", Sig: "(url_pattern: string, response: luarobot.FakeResponse|function)", Doc: "The response to the URLs of pattern (* matches anything, / and the query included): a table, or a function that returns one. An unmatched URL is nil, err."},
		{Name: "calls", Sig: "(): table[]", Doc: "The requests the bot made."},
	}
	testClockMethods = []testBinding{
		{Name: "advance", Sig: "(duration: string|number)", Doc: "Moves the bot's clock: \"31m\", or seconds. Sessions, dialogs and tokens expire with it."},
	}
)

// replyTypes are the values of a test reply's type.
const replyTypes = `"text"|"image"|"voice"|"video"|"music"|"news"|"transfer_customer_service"|"success"`

// testAPIDefinitions is the section of the test API.
func testAPIDefinitions() ([]luadef.Section, error) {
	var firstErr error
	funcs := func(bs []testBinding) []luadef.Func {
		fs, err := luadef.Funcs(bs)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return fs
	}
	s := luadef.Section{Title: "The test API of luarobot test (*_test.lua files)", Funcs: funcs(testGlobals)}
	s.Classes = []luadef.Class{
		{Name: "luarobot.Test", Doc: "A test's t.", Methods: funcs(testMethods), Fields: []luadef.Field{
			{Name: "api", Type: "luarobot.FakeAPI", Doc: "the fake WeChat API behind robot.client and robot.send"},
			{Name: "http", Type: "luarobot.FakeHTTP", Doc: "the fake robot.http"},
			{Name: "clock", Type: "luarobot.Clock", Doc: "the bot's clock"},
			{Name: "store", Type: "robot.store", Doc: "the bot's robot.store"},
		}},
		{Name: "luarobot.User", Doc: "A user talking to the bot: each message returns the reply.", Methods: funcs(testUserMethods),
			Fields: []luadef.Field{{Name: "openid", Type: "string"}}},
		{Name: "luarobot.Reply", Doc: "What the user got for one message; the checks return it, to chain them.",
			Methods: funcs(testReplyMethods), Fields: testReplyFields()},
		{Name: "luarobot.FakeAPI", Doc: "The fake WeChat API (t.api).", Methods: funcs(testAPIMethods)},
		{Name: "luarobot.FakeHTTP", Doc: "The fake robot.http (t.http).", Methods: funcs(testHTTPMethods)},
		{Name: "luarobot.FakeResponse", Doc: "A response of the fake robot.http, as robot.http's: {status = 200, json = {...}}.", Fields: []luadef.Field{
			{Name: "status", Type: "integer", Optional: true}, {Name: "headers", Type: "table<string, string>", Optional: true},
			{Name: "body", Type: "string", Optional: true}, {Name: "json", Type: "any", Optional: true}}},
		{Name: "luarobot.Clock", Doc: "The fake clock (t.clock).", Methods: funcs(testClockMethods)},
	}
	return []luadef.Section{s}, firstErr
}

// testReplyFields are the fields of a test's reply: reply.View's, the one
// shape luarobot test hands a test, and sent.
func testReplyFields() []luadef.Field {
	var fields []luadef.Field
	t := reflect.TypeFor[reply.View]()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		field := luadef.Field{Name: name, Type: "string", Optional: true}
		switch {
		case name == "type":
			field = luadef.Field{Name: name, Type: replyTypes}
		case f.Type.Kind() == reflect.Slice:
			field.Type = "robot.Article[]"
		}
		fields = append(fields, field)
	}
	return append(fields, luadef.Field{Name: "sent", Type: "luarobot.Reply[]",
		Doc: "the messages the user got through the customer-service API during that delivery"})
}
