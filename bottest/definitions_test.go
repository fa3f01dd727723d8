package bottest_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/bottest"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// The test API's definitions come from the tables that bind it: they
// write as Lua, and every luarobot.* type they name is one of them.
func TestDefinitions(t *testing.T) {
	sections, err := bottest.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	robot, err := luaapi.Definitions(luaapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	// The robot.* types the test API names are the robot API's.
	if err := luadef.Write(&b, "test API", append(robot, sections...)); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(text); err != nil {
		t.Fatalf("not Lua: %v\n%s", err, text)
	}
	for _, want := range []string{
		"---@overload fun(name: string, fn: fun(t: luarobot.Test))\ntest = {}",
		"function test.config(settings) end",
		"function luarobot_Test:user(openid) end",
		"function luarobot_User:message(type, fields) end",
		"function luarobot_Reply:expect_match(pattern) end",
		"function luarobot_FakeAPI:expect_called(endpoint, body) end",
		"function luarobot_FakeHTTP:on(url_pattern, response) end",
		"function luarobot_Clock:advance(duration) end",
		"---@field sent luarobot.Reply[]",
		"---@field delay? string|number",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the definitions lack %q", want)
		}
	}
	defined := map[string]bool{}
	for _, c := range sections[0].Classes {
		defined[c.Name] = true
	}
	for _, name := range regexp.MustCompile(`luarobot\.[A-Z][A-Za-z]+`).FindAllString(text, -1) {
		if !defined[name] {
			t.Errorf("%s is used but not defined", name)
		}
	}
}
