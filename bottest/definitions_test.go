package bottest_test

import (
	"bytes"
	"fmt"
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

// What a test reads off its objects is what the definitions say: every
// field of t, a user, a reply (of each type, and in sent), an API call and
// an HTTP request, as the runner makes them, is a field of its class.
func TestDefinitionsMatchTheObjects(t *testing.T) {
	sections, err := bottest.Definitions()
	if err != nil {
		t.Fatal(err)
	}
	var fields strings.Builder
	fields.WriteString("local FIELDS = {\n")
	for _, c := range sections[0].Classes {
		fmt.Fprintf(&fields, "  [%q] = {", c.Name)
		for _, f := range c.Fields {
			fmt.Fprintf(&fields, "[%q] = true, ", f.Name)
		}
		fields.WriteString("},\n")
	}
	fields.WriteString("}\n")
	dir := writeFolder(t, map[string]string{
		"bot.lua": `robot.filter("music", function(m)
  robot.send(m.source, robot.reply.music{title = "t", description = "d", url = "u", hq_url = "h", thumb_media_id = "th"})
  robot.client.get_user_info(m.source)
  robot.http.post("https://x.example/", {json = {a = 1}})
  return robot.reply.music{title = "t", description = "d", url = "u", hq_url = "h", thumb_media_id = "th"}
end)
robot.filter("news", function() return robot.reply.articles{{title = "a", description = "b", img = "i", url = "u"}} end)
robot.filter("kf", function() return robot.reply.transfer_customer_service("kf@x") end)
robot.filter("video", function() return robot.reply.video{media_id = "m", title = "t", description = "d"} end)
robot.filter("text", function() return "x" end)`,
		"bot_test.lua": fields.String() + `
local function check(t, class, obj)
  for k in pairs(obj) do
    t:ok(FIELDS[class][k], class .. "." .. tostring(k) .. " is not in the definitions")
  end
end
test("fields", function(t)
  t.http:on("https://x.example/*", "ok")
  check(t, "luarobot.Test", t)
  local u = t:user()
  check(t, "luarobot.User", u)
  for _, text in ipairs{"music", "news", "kf", "video", "text", "nothing"} do
    local r = u:send(text)
    check(t, "luarobot.Reply", r)
    for _, s in ipairs(r.sent) do check(t, "luarobot.Reply", s) end
  end
  t:eq(#t.api:calls("user/info"), 1)
  for _, c in ipairs(t.api:calls()) do check(t, "luarobot.APICall", c) end
  t:eq(#t.http:calls(), 1)
  for _, c in ipairs(t.http:calls()) do check(t, "luarobot.HTTPRequest", c) end
end)`,
	})
	if res, out := run(t, bottest.Options{Dir: dir}); res.Failed != 0 || res.Passed != 1 {
		t.Fatalf("got %+v:\n%s", res, out)
	}
}
