-- The menu comes from lib/menu.lua, loaded with require.

test("robot.on_load creates the menu once", function(t)
  local calls = t.api:calls("menu/create")
  t:eq(#calls, 1)
  t.api:expect_called("menu/create", {button = {{type = "click", name = "今日歌曲", key = "music"}}})
end)

test("the buttons' clicks", function(t)
  local u = t:user()
  u:click("music"):expect("你点击了“今日歌曲”按钮")
  u:click("help"):expect("现在还没有什么帮助哦~")
end)

test("菜单 lists the buttons", function(t)
  t:user():send("菜单"):expect("菜单：今日歌曲 | 主页 | 帮助")
end)

test("the test file can require the module too", function(t)
  local menu = require "menu"
  t:eq(#menu.definition.button, 3)
  t:user():send("菜单"):expect(menu.describe())
end)
