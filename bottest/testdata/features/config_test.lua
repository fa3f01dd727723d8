-- test.config: the bots of this file's tests expire sessions after 30
-- minutes, answer WeChat at one second and split long texts in two.

test.config{session_ttl = "30m", reply_timeout = "1s", max_reply_parts = 2}

test("session_ttl moves with the clock", function(t)
  local u = t:user()
  u:send("计数"):expect("第 1 次")
  t.clock:advance("29m")
  u:send("计数"):expect("第 2 次")
  t.clock:advance("31m")
  u:send("计数"):expect("第 1 次")
end)

test("max_reply_parts", function(t)
  local r = t:user():send("长文")
  t:eq(#r.sent, 1)
end)

test("a reply later than reply_timeout arrives in sent", function(t)
  local r = t:user():send("慢")
  r:expect_none()
  t:eq(#r.sent, 1)
  r.sent[1]:expect("慢的回答")
end)
