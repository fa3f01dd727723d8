-- The messages of bot.lua's header comment, and their answers.

test("帮助 answers the help text", function(t)
  t:user():send("帮助"):expect("帮助\nXXXXX\n")
end)

test("any other text is Hello World", function(t)
  t:user():send("hi"):expect("Hello World!")
end)

test("any event is Hello World too: robot.handler gets everything", function(t)
  local u = t:user()
  u:subscribe():expect("Hello World!")
  u:click("anything"):expect("Hello World!")
  u:image():expect("Hello World!")
end)
