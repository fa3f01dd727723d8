-- hello_test.lua: the tests of the bot, run by `luarobot test scripts`.
-- Each test gets a fresh bot built from this folder's scripts, with a
-- memory store, a fake WeChat API, fake HTTP and a fake clock: a user's
-- messages go through the real pipeline and come back as replies to check.

test("greets new followers", function(t)
  t:user():subscribe():expect_contains("感谢关注")
end)

test("answers help", function(t)
  t:user():send("帮助"):expect_match("计数")
end)

test("counts in the user's session", function(t)
  local u = t:user()
  u:send("计数"):expect("这是你第 1 次计数")
  u:send("计数"):expect("这是你第 2 次计数")
  t:eq(t:session(u).count, 2)
  t:user():send("计数"):expect("这是你第 1 次计数") -- another user counts alone
end)

test("repeats other text", function(t)
  t:user():send("你好"):expect("你说：你好")
end)
