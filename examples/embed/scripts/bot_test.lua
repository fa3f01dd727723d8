test("ping", function(t)
  t:user():send("ping"):expect("pong from the embedded bot")
end)

test("anything else is echoed", function(t)
  t:user():send("你好"):expect("echo: 你好")
end)
