-- The bot the console's tests (and screenshots) talk to.
local order = robot.dialog("order", function(d)
  local name = d:ask("请问怎么称呼？")
  local phone = d:ask("手机号？")
  return "下单成功：" .. name .. " " .. phone
end)
robot.filter("下单", order)

robot.text(function(msg, session)
  local c = msg.content
  if c == "count" then
    session.n = (session.n or 0) + 1
    return "n=" .. session.n
  elseif c == "secret" then
    -- A careless script: the console must still never show the value.
    robot.log.info("the api key is " .. robot.settings.api_key)
    session.key = robot.settings.api_key
    return "key: " .. robot.settings.api_key
  elseif c == "push" then
    robot.send(msg.source, "pushed through the customer-service API")
    return "ok"
  elseif c == "long" then
    return string.rep("很长的回复。", 400)
  elseif c == "slow" then
    robot.sleep(12) -- past the tests' reply_timeout (10s, console/env_test.go)
    return "slow answer"
  elseif c == "boom" then
    error("boom in a handler")
  elseif c == "whoami" then
    local info, err = robot.client.get_user_info(msg.source)
    if not info then
      return "WeChat said " .. err.errcode .. ": " .. (err.errmsg or "")
    end
    return info.nickname
  elseif c == "link" then
    return 'see <a href="https://example.com/doc">the docs</a>\nor https://example.com/more'
  end
  return "echo: " .. c
end)

robot.key_click("news", function()
  return robot.reply.articles{
    {title = "LuaRoBot 1.0", description = "hot reload, dialogs, a console", img = "https://example.com/cover.jpg", url = "https://example.com/news/1"},
    {title = "Second article", description = "", img = "https://example.com/thumb.jpg", url = "https://example.com/news/2"},
  }
end)
robot.key_click("music", function()
  return robot.reply.music{title = "小夜曲", description = "舒伯特", url = "https://example.com/serenade.mp3"}
end)
robot.subscribe(function() return "感谢关注！发送「下单」试试对话。" end)
robot.location(function(m) return "你在 " .. m.label end)
robot.image(function(m) return robot.reply.image(m.media_id) end)
