-- A bot with one of each thing luarobot test must see: the tests of this
-- folder check the harness against it.

local greeting = require "greeting"

robot.on_load(function()
  robot.client.create_menu{button = {{type = "click", name = "音乐", key = "music"}}}
end)

robot.subscribe(function(message)
  if message.key then
    return "感谢关注（" .. message.key .. "）"
  end
  return greeting.welcome
end)

robot.key_click("music", function()
  return robot.reply.music{title = "歌", description = "好听", url = "http://m.example/1.mp3", hq_url = "http://m.example/hq.mp3"}
end)

robot.key_click("news", function()
  return robot.reply.articles{{title = "标题", description = "描述", img = "http://i.example/1.png", url = "http://u.example/1"}}
end)

robot.filter("计数", function(message, session)
  session.n = (session.n or 0) + 1
  return "第 " .. session.n .. " 次"
end)

robot.filter("昵称", function(message)
  local user, err = robot.client.get_user_info(message.source)
  if not user then
    return "出错 " .. tostring(err.errcode)
  end
  return "你好，" .. tostring(user.nickname)
end)

robot.filter("推送", function(message)
  robot.send(message.source, "推送一")
  robot.send(message.source, robot.reply.image("IMG"))
  robot.send("oSomeoneElse", "别人的")
  return "已推送"
end)

robot.filter("稍后", function(message)
  robot.async(function()
    robot.send(message.source, "稍后的消息")
  end)
  return "马上"
end)

robot.filter("长文", function()
  return string.rep("长", 1000)
end)

robot.filter("天气", function()
  local res, err = robot.http.get("https://api.example.com/weather", {query = {city = "北京"}})
  if not res then
    return "出错：" .. err.errmsg
  end
  return "北京 " .. res.json.temp .. "°C"
end)

robot.filter("提问", function()
  local res, err = robot.http.post("https://llm.example.com/v1/chat", {json = {q = "你好"}})
  if not res then
    return "出错：" .. err.errmsg
  end
  return res.status .. " " .. res.body
end)

robot.filter("记住", function()
  robot.store.set("memo", "记下的", 60)
  return "记住了"
end)

robot.filter("回忆", function()
  return robot.store.get("memo") or "忘了"
end)

robot.filter("时间", function()
  return tostring(os.time()) .. " " .. os.date("!%Y", os.time())
end)

robot.filter("转人工", function()
  return robot.reply.transfer_customer_service("kf1@test")
end)

robot.location(function(message)
  return string.format("%s %.2f %.2f", message.label, message.location_x, message.location_y)
end)

robot.image(function(message)
  return robot.reply.image(message.media_id)
end)

robot.voice(function(message)
  return "听到：" .. (message.recognition or "")
end)

robot.link(function(message)
  return "收藏 " .. message.title .. " " .. message.url
end)

robot.view(function(message)
  return "打开 " .. message.key
end)

robot.scan(function(message)
  return "扫码 " .. message.key
end)

robot.video(function(message)
  return "视频 " .. message.media_id
end)

robot.unsubscribe(function(message)
  robot.log.info("unsubscribed", {user = message.source})
end)

local ask = robot.dialog("ask", function(d)
  local name = d:ask("名字？")
  return "好的，" .. name
end, {timeout = "5m"})

robot.filter("问", ask)

robot.filter("日志", function()
  print("printed by the bot")
  robot.log.warn("a warning", {n = 1})
  return "记了"
end)

robot.filter("慢", function()
  robot.sleep(1.5)
  return "慢的回答"
end)
