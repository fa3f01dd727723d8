-- 关键词回复: fixed answers to fixed words.
--
-- Try it:
--   text "你好呀"        → "你也好呀"
--   text "早" / "早安"   → "早上好！"
--   text "价格"          → the price list
--   text "别的"          → no answer (WeChat shows nothing)

robot.filter("你好呀", function(message)
  return "你也好呀"
end)

-- Several rules: the text equals any of them.
robot.filter("早", "早安", "早上好", function(message)
  return "早上好！"
end)

-- A table of keywords, registered in a loop: each gets its own filter.
local answers = {
  ["价格"] = "基础版 ¥99/月，专业版 ¥199/月",
  ["地址"] = "广州市天河区",
  ["电话"] = "020-12345678",
}
for word, reply in pairs(answers) do
  robot.filter(word, function() return reply end)
end
