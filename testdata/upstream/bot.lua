-- The bot of e2e_upstream_test.go: "menu" waits on the WeChat API; every
-- other text is answered at once, without touching it.

robot.filter("menu", function(message)
  local menu, err = robot.client.get_menu()
  if err then
    return "menu failed: " .. err.errmsg
  end
  return "menu ok"
end)

robot.text(function(message)
  return "plain " .. message.content
end)
