robot.filter("你好", function() return "你好！" end)
robot.filter("音乐", function() return robot.reply.music{title = "歌", url = "http://m/1.mp3"} end)
robot.filter("出错", function() error("boom") end)
robot.filter("昵称", function(m)
  local u = robot.client.get_user_info(m.source)
  return u.nickname
end)
robot.filter("天气", function()
  local res, err = robot.http.get("https://api.example.com/weather")
  return res and res.body or err.errmsg
end)
robot.filter("推送", function(m)
  robot.send(m.source, "一条")
  return "好"
end)
