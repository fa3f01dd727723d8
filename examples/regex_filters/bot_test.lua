-- WeRoBot's filter examples: a rule matches at the start of the text.

test("a string rule is the whole text", function(t)
  t:user():send("a"):expect("正文为 a ")
end)

test("regular expressions", function(t)
  local u = t:user()
  u:send("xbbx"):expect("正文中含有 bb ")
  u:send("abc"):expect("正文中含有 c 或正文为 d")
  u:send("d"):expect("正文中含有 c 或正文为 d")
end)

test("match groups reach the handler", function(t)
  local u = t:user()
  u:send("onee"):expect("正文为 onee")
  u:send("f"):expect("正文为 f")
end)

test("named groups", function(t)
  t:user():send("天气 北京"):expect("北京今天晴")
end)

test("numbers from the groups", function(t)
  local u = t:user()
  u:send("加 3 4"):expect("3 + 4 = 7")
  u:send("加 -10 4"):expect("-10 + 4 = -6")
end)
