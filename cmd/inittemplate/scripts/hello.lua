-- hello.lua: your bot. Every *.lua file of this folder is a script of the
-- bot, loaded in file-name order and reloaded the moment you save it
-- (except *_test.lua files: those are its tests).
--
--   luarobot serve          serve it (luarobot.toml holds the token)
--   luarobot test scripts   run the tests of hello_test.lua
--   luarobot check scripts  list what each script registers
--
-- A handler is called as fn(message, session); the first one that returns
-- something answers, and returning nil lets the next one try.

-- 关注回复: greet new followers.
robot.subscribe(function(message)
  return "感谢关注！发送「帮助」看看我能做什么。"
end)

-- 关键词回复: a filter answers text that equals one of its rules.
robot.filter("帮助", "help", function(message)
  return "发送「计数」数一数，发送别的文字我会复述。"
end)

-- session is a table per user, saved when it changes.
robot.filter("计数", function(message, session)
  session.count = (session.count or 0) + 1
  return "这是你第 " .. session.count .. " 次计数"
end)

-- Every other text message.
robot.text(function(message)
  return "你说：" .. message.content
end)
