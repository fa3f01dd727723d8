-- Every test but the first fails, each at a known line (see
-- runner_test.go): the kinds of failure luarobot test reports.

test("passes", function(t)
  t:user():send("你好"):expect("你好！")
end)

test("expect", function(t)
  t:user():send("你好"):expect("Hello")
end)

test("expect on another type", function(t)
  t:user():send("音乐"):expect("歌")
end)

test("expect_contains", function(t)
  t:user():send("你好"):expect_contains("再见")
end)

test("expect_match", function(t)
  t:user():send("你好"):expect_match("^Hello")
end)

test("expect a table", function(t)
  t:user():send("音乐"):expect{type = "music", title = "另一首"}
end)

test("expect_none", function(t)
  t:user():send("你好"):expect_none()
end)

test("eq", function(t)
  t:eq({a = 1, b = {"x"}}, {a = 1, b = {"y"}})
end)

test("ok", function(t)
  t:ok(nil, "the value is missing")
end)

test("fail", function(t)
  t:fail("not written yet")
end)

test("expect_called", function(t)
  t:user():send("你好")
  t.api:expect_called("user/info", {openid = "x"})
end)

test("a Lua error in the test", function(t)
  local x = nil
  t:eq(x.field, 1)
end)

test("the first failure is the one reported", function(t)
  local ok = pcall(function() t:fail("first") end)
  t:ok(not ok)
  t:fail("second")
end)

test("an error in a t.api:on function", function(t)
  t.api:on("user/info", function(call)
    error("the fake broke")
  end)
  t:user():send("昵称")
end)

test("a bad argument", function(t)
  t:user():location("north", 1)
end)

test("a message type that does not exist", function(t)
  t:user():message("telegram", {})
end)

test("expect an empty list", function(t)
  t:user():send("推送"):expect{sent = {}}
end)

test("an error of two lines", function(t)
  error("line one\nline two")
end)

local function greets(u, want)
  u:send("你好"):expect(want)
end

test("a check in a helper", function(t)
  local u = t:user()
  greets(u, "你好！")
  greets(u, "Hello")
end)
