-- The menu: its definition for create_menu, and the handlers of its
-- buttons. A module returns a table; require caches it.
local M = {}

M.definition = {
  button = {
    { type = "click", name = "今日歌曲", key = "music" },
    { type = "view", name = "主页", url = "https://github.com/luarobot" },
    { type = "click", name = "帮助", key = "help" },
  },
}

function M.register_handlers()
  robot.key_click("music", function(message)
    return "你点击了“今日歌曲”按钮"
  end)
  robot.key_click("help", function()
    return "现在还没有什么帮助哦~"
  end)
end

function M.describe()
  local names = {}
  for i, b in ipairs(M.definition.button) do
    names[i] = b.name
  end
  return "菜单：" .. table.concat(names, " | ")
end

return M
