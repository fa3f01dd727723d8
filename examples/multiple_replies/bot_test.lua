test("多次回复: a customer-service message, then the reply", function(t)
  local u = t:user()
  local r = u:send("多次回复")
  r:expect("这是第二次回复哦")
  t:eq(#r.sent, 1)
  r.sent[1]:expect("这是客服发的消息")
  t.api:expect_called("message/custom/send", {touser = u.openid, msgtype = "text", text = {content = "这是客服发的消息"}})
end)

test("稍后: the reply first, then two messages from robot.async", function(t)
  local r = t:user():send("稍后")
  r:expect("马上就好")
  t:eq(#r.sent, 2)
  r.sent[1]:expect("这是稍后的第一条")
  r.sent[2]:expect{type = "image", media_id = "MEDIA_ID_OF_A_PICTURE"}
end)

test("a refused customer-service message does not stop the reply", function(t)
  t.api:fail("message/custom/send", 45015) -- the user has not talked to the account for 48 hours
  local r = t:user():send("多次回复")
  r:expect("这是第二次回复哦")
  t:eq(#r.sent, 0)
end)
