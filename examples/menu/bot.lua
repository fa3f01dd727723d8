-- 创建自定义菜单 / 导入其他文件: the menu lives in lib/menu.lua, a module
-- loaded with require (modules are not loaded on their own; only the files
-- directly in this folder are).
--
-- Try it:
--   click event, key "music"   → "你点击了“今日歌曲”按钮"
--   click event, key "help"    → "现在还没有什么帮助哦~"
--   text "菜单"                → the menu's buttons, as text

local menu = require "menu"

menu.register_handlers()

-- Creating the menu is a call to WeChat: do it once per (re)load, not in
-- every Lua state, so in robot.on_load. Without app_id/app_secret it fails
-- and the log says why.
robot.on_load(function()
  local _, err = robot.client.create_menu(menu.definition)
  if err then
    robot.log.warn("create_menu failed", {errmsg = err.errmsg})
  end
end)

robot.filter("菜单", function()
  return menu.describe()
end)
