-- 使用 Session 记录用户状态: session is a table per user (keyed by the
-- user's OpenID), loaded before the handlers and saved after them if it
-- changed. Values: strings, numbers, booleans, nested tables.
--
-- Try it (as the same user):
--   text "你好"   → "你之前没给我发过消息（第 1 条）"
--   text "你好"   → "你之前给我发过消息（第 2 条）"
--   text "重置"   → "已清空"; the next message counts from 1 again

robot.filter("重置", function(message, session)
  session.first = nil
  session.count = nil
  return "已清空"
end)

robot.text(function(message, session)
  session.count = (session.count or 0) + 1
  if session.first then
    return "你之前给我发过消息（第 " .. session.count .. " 条）"
  end
  session.first = true
  return "你之前没给我发过消息（第 " .. session.count .. " 条）"
end)
