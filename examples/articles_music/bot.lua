-- ArticlesReply and MusicReply, in both of WeRoBot's forms: the
-- constructor, and the plain lists a handler may return.
--
-- Try it:
--   text "图文"     → an articles reply with one article (WeRoBot)
--   text "列表"     → an articles reply built from a list of 4-lists
--   text "音乐"     → a music reply with title, description, url, hq_url
--   text "音乐2"    → a music reply from a 3-list: hq_url is the url

robot.filter("图文", function(message)
  return robot.reply.articles{
    {
      title = "WeRoBot",
      description = "WeRoBot是一个微信机器人框架",
      img = "https://github.com/apple-touch-icon-144.png",
      url = "https://github.com/whtsky/WeRoBot",
    },
  }
end)

robot.filter("列表", function(message)
  return {
    { "title", "description", "img", "url" },
    { "whtsky", "I wrote WeRoBot", "https://secure.gravatar.com/avatar/0024710771815ef9b74881ab21ba4173?s=420", "http://whouz.com/" },
  }
end)

robot.filter("音乐", function(message)
  return robot.reply.music{
    title = "title",
    description = "description",
    url = "music_url",
    hq_url = "hq_music_url",
  }
end)

robot.filter("音乐2", function(message)
  return { "微信你不懂爱", "龚琳娜最新力作", "http://weixin.com/budongai.mp3" }
end)
