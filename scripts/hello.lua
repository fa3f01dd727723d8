-- hello.lua: the bot LuaRoBot serves out of the box (`go run .`).
--
-- Every *.lua file of this folder is loaded, in file-name order, and
-- reloaded the moment you save it: edit this file and send the bot a
-- message. `luarobot check scripts` lists what each file registers.
--
-- The API is WeRoBot's, in Lua: robot.text, robot.subscribe, robot.filter,
-- robot.key_click, robot.handler, ... A handler is called as
-- fn(message, session, match); the first handler that returns something
-- answers, and returning nil lets the next one try.

-- 关注回复: greet new followers.
robot.subscribe(function(message)
  return "感谢关注！发送「帮助」看看我能做什么。"
end)

-- A handler that answers nothing still runs: this one counts every text
-- message in the user's session (a table per user, saved when it changes).
robot.text(function(message, session)
  session.count = (session.count or 0) + 1
end)

-- 关键词回复: a filter answers text that equals one of its rules...
robot.filter("帮助", "help", function(message)
  return table.concat({
    "我能做这些：",
    "· 「计数」：你给我发过几条消息",
    "· 「掷骰子 2d6」：掷两个六面骰子",
    "· 其他任何文字：Hello World!",
  }, "\n")
end)

robot.filter("计数", function(message, session)
  return "你一共给我发了 " .. session.count .. " 条消息"
end)

-- ...or matches a regular expression (RE2 syntax) at the start of the
-- text; match[1], match[2], ... are its groups.
robot.filter(robot.re([[掷骰子\s*(\d+)[dD](\d+)\s*$]]), function(message, session, match)
  local dice, sides = tonumber(match[1]), tonumber(match[2])
  if dice < 1 or dice > 20 or sides < 2 or sides > 1000 then
    return "骰子数 1 到 20，面数 2 到 1000"
  end
  local rolls, total = {}, 0
  for i = 1, dice do
    rolls[i] = math.random(sides)
    total = total + rolls[i]
  end
  return string.format("%s = %d", table.concat(rolls, " + "), total)
end)

-- Everything else: Hello World.
robot.text(function(message)
  return "Hello World!"
end)

-- Images: answer with the same picture.
robot.image(function(message)
  return robot.reply.image(message.media_id)
end)
