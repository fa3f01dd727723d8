-- 快速回复图片: answer a picture with the same picture.
--
-- Try it:
--   image (MediaId=MEDIA)   → an image reply of MEDIA
--   text "图片"             → an image reply of the media saved in robot.store
--                             under "image:default" (set it in robot.on_load
--                             or with the Client's upload_media), else a hint

robot.image(function(message)
  -- The media_id WeChat gave the user's picture can be sent straight back.
  return robot.reply.image(message.media_id)
end)

robot.filter("图片", function(message)
  local id = robot.store.get("image:default")
  if id then
    return robot.reply.image(id)
  end
  return "还没有设置默认图片"
end)
