-- Hello World (WeRoBot 入门, ZgRoBot 例子 HelloWorld).
--
-- Try it:
--   text "帮助"   → the help text
--   text "hi"     → "Hello World!"
--   any event     → "Hello World!"

robot.filter("帮助", function(message)
  return [[
帮助
XXXXX
]]
end)

-- robot.handler receives every message and event, after the typed
-- handlers (here the filter) gave nothing.
robot.handler(function(message)
  return "Hello World!"
end)
