-- The tests of hello.lua: `luarobot test scripts` runs them.

test("greets new followers", function(t)
  t:user():subscribe():expect_contains("感谢关注")
end)

test("帮助 lists what the bot does", function(t)
  t:user():send("帮助"):expect_contains("掷骰子")
end)

test("计数 counts every text message of the user", function(t)
  local u = t:user()
  u:send("hi")
  u:send("你好")
  u:send("计数"):expect("你一共给我发了 3 条消息")
  t:eq(t:session(u).count, 3)
end)

test("掷骰子 adds up the dice", function(t)
  local u = t:user()
  local r = u:send("掷骰子 3d6")
  r:expect_match([[^\d \+ \d \+ \d = \d+$]])
  local a, b, c, total = r.content:match("(%d) %+ (%d) %+ (%d) = (%d+)")
  t:eq(tonumber(a) + tonumber(b) + tonumber(c), tonumber(total))
  u:send("掷骰子 99d6"):expect("骰子数 1 到 20，面数 2 到 1000")
end)

test("Hello World, and pictures come back", function(t)
  local u = t:user()
  u:send("hi"):expect("Hello World!")
  u:image("M1"):expect{type = "image", media_id = "M1"}
end)
