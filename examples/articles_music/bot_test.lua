test("图文: robot.reply.articles", function(t)
  t:user():send("图文"):expect{type = "news", articles = {{
    title = "WeRoBot",
    description = "WeRoBot是一个微信机器人框架",
    img = "https://github.com/apple-touch-icon-144.png",
    url = "https://github.com/whtsky/WeRoBot",
  }}}
end)

test("列表: a list of 4-lists is an articles reply", function(t)
  local r = t:user():send("列表")
  t:eq(r.type, "news")
  t:eq(#r.articles, 2)
  t:eq(r.articles[1], {title = "title", description = "description", img = "img", url = "url"})
  r:expect{articles = {[2] = {title = "whtsky", url = "http://whouz.com/"}}}
end)

test("音乐: robot.reply.music", function(t)
  t:user():send("音乐"):expect{type = "music", title = "title", description = "description", url = "music_url", hq_url = "hq_music_url"}
end)

test("音乐2: a 3-list is a music reply whose hq_url is its url", function(t)
  t:user():send("音乐2"):expect{type = "music", title = "微信你不懂爱", description = "龚琳娜最新力作",
    url = "http://weixin.com/budongai.mp3", hq_url = "http://weixin.com/budongai.mp3"}
end)
