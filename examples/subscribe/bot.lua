-- 关注回复: answer a new follower.
--
-- Try it:
--   subscribe event                         → "感谢这位小可爱的关注~"
--   subscribe event with key "qrscene_42"   → "感谢关注！你扫描的是 42 号二维码"
--   unsubscribe event                       → no answer (nobody would read it)

robot.subscribe(function(message)
  -- Following by scanning a parameterised QR code gives the scene as the key.
  local scene = message.key and message.key:match("^qrscene_(.+)")
  if scene then
    return "感谢关注！你扫描的是 " .. scene .. " 号二维码"
  end
  return "感谢这位小可爱的关注~"
end)

robot.unsubscribe(function(message)
  robot.log.info("a follower left", {user = message.source})
end)
