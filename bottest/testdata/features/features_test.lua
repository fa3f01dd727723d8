-- Every test here passes: each checks one feature of the harness.

test("text and a chain of checks", function(t)
  local u = t:user("oAlice")
  t:eq(u.openid, "oAlice")
  u:send("计数"):expect("第 1 次"):expect_contains("1"):expect_match([[^第 \d 次$]])
  u:send("计数"):expect_match(robot.re([[\d]])):expect{type = "text", content = "第 2 次"}
  t:eq(t:session("oAlice").n, 2)
  t:eq(t:session(u), {n = 2})
end)

test("fresh users have fresh openids", function(t)
  local a, b = t:user(), t:user()
  t:ok(a.openid ~= b.openid, "two users share an openid")
  a:send("计数"):expect("第 1 次")
  b:send("计数"):expect("第 1 次")
end)

test("events and reply types", function(t)
  local u = t:user()
  u:subscribe():expect("感谢关注")
  u:subscribe("qrscene_42"):expect("感谢关注（qrscene_42）")
  local r = u:click("music")
  t:eq(r.type, "music")
  r:expect{title = "歌", description = "好听", url = "http://m.example/1.mp3", hq_url = "http://m.example/hq.mp3"}
  u:click("news"):expect{type = "news", articles = {{title = "标题", img = "http://i.example/1.png"}}}
  u:click("nothing"):expect_none()
  u:unsubscribe():expect_none()
  u:view("https://example.com/page"):expect("打开 https://example.com/page")
  u:scan("7"):expect("扫码 7")
  u:send("转人工"):expect{type = "transfer_customer_service", account = "kf1@test"}
end)

test("messages of every kind", function(t)
  local u = t:user()
  u:location(23.13, 113.36, "广州"):expect("广州 23.13 113.36")
  u:image("MEDIA_1"):expect{type = "image", media_id = "MEDIA_1"}
  u:voice("V", "你好"):expect("听到：你好")
  u:link("标题", "https://example.com/"):expect("收藏 标题 https://example.com/")
  u:message("video", {media_id = "VID", thumb_media_id = "T"}):expect("视频 VID")
  u:message("text", {content = "计数"}):expect("第 1 次")
end)

test("the same msg_id twice is WeChat's retry: the handlers run once", function(t)
  local u = t:user()
  u:message("text", {content = "计数", msg_id = "1234567890123456789"}):expect("第 1 次")
  u:message("text", {content = "计数", msg_id = "1234567890123456789"}):expect("第 1 次")
  t:eq(t:session(u).n, 1)
end)

test("robot.send and robot.async land in sent", function(t)
  local u = t:user()
  local r = u:send("推送")
  r:expect("已推送")
  t:eq(#r.sent, 2)
  r.sent[1]:expect("推送一")
  r.sent[2]:expect{type = "image", media_id = "IMG"}
  t:eq(r.sent[1], {type = "text", content = "推送一"}) -- a reply is a table of its fields
  t:eq(r.sent[1].sent, nil)
  local later = u:send("稍后")
  later:expect("马上")
  later.sent[1]:expect("稍后的消息")
  t.api:expect_called("message/custom/send", {touser = "oSomeoneElse", text = {content = "别人的"}})
  u:send("计数"):expect{sent = {}}
end)

test("a long text: the passive part in content, the rest in sent", function(t)
  local r = t:user():send("长文")
  t:eq(#r.sent, 1)
  t:eq(r.content .. r.sent[1].content, string.rep("长", 1000))
end)

test("the fake WeChat API", function(t)
  local u = t:user()
  u:send("昵称"):expect("你好，nil") -- no fake: {errcode = 0, errmsg = "ok"}
  t.api:on("user/info", {nickname = "小明"})
  u:send("昵称"):expect("你好，小明")
  t.api:on("/cgi-bin/user/info", function(call)
    return {nickname = "第 " .. call.query.openid}
  end)
  u:send("昵称"):expect("你好，第 " .. u.openid)
  t.api:fail("user/info", 45009)
  u:send("昵称"):expect("出错 45009")
  t.api:expect_called("user/info", {openid = u.openid})
  t.api:expect_called("menu/create", {button = {{key = "music"}}})
  t:eq(#t.api:calls("user/info"), 4)
  t:eq(t.api:calls("token")[1].method, "GET")
  t:eq(t.api:calls()[1].endpoint, "token")
end)

test("robot.on_load's calls are in t.api:calls before any message", function(t)
  t:eq(#t.api:calls("menu/create"), 1)
  t:eq(t.api:calls("menu/create")[1].body.button[1].name, "音乐")
end)

test("the fake HTTP", function(t)
  local u = t:user()
  u:send("天气"):expect_match("^出错：GET https://api.example.com/weather: no t.http:on fake")
  t.http:on("https://api.example.com/*", {status = 200, json = {temp = 3}})
  u:send("天气"):expect("北京 3°C")
  t.http:on("https://api.example.com/weather?city=北京", {json = {temp = 5}})
  u:send("天气"):expect("北京 5°C")
  t.http:on("https://llm.example.com/*", function(req)
    return {status = 201, body = req.method .. " " .. req.json.q .. " " .. req.headers["content-type"]}
  end)
  u:send("提问"):expect("201 POST 你好 application/json")
  t.http:on("https://llm.example.com/*", function(req)
    return nil, "connection reset"
  end)
  u:send("提问"):expect("出错：POST https://llm.example.com/v1/chat: connection reset")
  t.http:on("https://llm.example.com/*", "plain")
  u:send("提问"):expect("200 plain")
  local calls = t.http:calls()
  t:eq(#calls, 6)
  t:eq(calls[2].query.city, "北京")
  t:eq(calls[4].json, {q = "你好"})
end)

test("t.store is the bot's robot.store", function(t)
  local u = t:user()
  t.store.set("memo", "测试写的")
  u:send("回忆"):expect("测试写的")
  u:send("记住"):expect("记住了")
  t:eq(t.store.get("memo"), "记下的")
  t:eq(t.store.incr("hits", 2), 2)
end)

test("the clock: os.time, os.date and robot.store TTLs", function(t)
  local u = t:user()
  local now = t.clock:now()
  u:send("时间"):expect(now .. " " .. os.date("!%Y", now))
  t:eq(t.clock:now(), now + 1) -- one second per delivery
  t:eq(os.time(), now + 1) -- the test file reads the same clock
  u:send("记住") -- at now + 1, for 60 s; the clock moves to now + 2
  t.clock:advance(58)
  u:send("回忆"):expect("记下的")
  t.clock:advance("1m")
  u:send("回忆"):expect("忘了")
end)

test("the clock: a dialog's timeout", function(t)
  local u = t:user()
  u:send("问"):expect("名字？")
  t.clock:advance("4m")
  u:send("小明"):expect("好的，小明")
  u:send("问"):expect("名字？")
  t.clock:advance("6m")
  u:send("小明"):expect_none() -- the dialog is over: the message goes to the other handlers
end)

test("the clock: the access token expires", function(t)
  local u = t:user()
  t.api:on("user/info", {nickname = "小明"})
  u:send("昵称"):expect("你好，小明")
  t:eq(#t.api:calls("token"), 1) -- robot.on_load fetched it; the message reused it
  t.clock:advance("1h")
  u:send("昵称")
  t:eq(#t.api:calls("token"), 1)
  t.clock:advance("2h")
  u:send("昵称"):expect("你好，小明")
  t:eq(#t.api:calls("token"), 2)
end)

test("the test file requires the scripts' modules", function(t)
  local greeting = require "greeting"
  t:eq(greeting.shout("好"), "好！")
  t:user():subscribe():expect(greeting.welcome)
end)

test("t:ok", function(t)
  t:ok(true)
  t:ok(1, "a number is true")
end)

test("logs", function(t)
  t:user():send("日志"):expect("记了")
end)
