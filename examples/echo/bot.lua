-- 消息处理: handlers for one message type each.
--
-- Try it:
--   text "你好"            → "你好"
--   image (PicUrl=URL)     → URL
--   location               → "你在 广州 (23.134521, 113.358803)"
--   link                   → "收藏了：标题"

-- robot.text handles text messages only.
robot.text(function(message)
  return message.content
end)

-- robot.image handles images: message.img is the picture's URL.
robot.image(function(message)
  return message.img
end)

robot.location(function(message)
  return string.format("你在 %s (%s, %s)", message.label, message.location_x, message.location_y)
end)

robot.link(function(message)
  return "收藏了：" .. message.title
end)
