-- Scripts checked by lua-language-server against the definitions of
-- `luarobot types` (e2e_types_test.go): every line marked "want: CODE"
-- must get that diagnostic, and no other line any.

local order = robot.dialog("order", function(d, message, session)
  local name = d:ask("请问怎么称呼？", {check = robot.re([[^\S+$]]), retry = "再说一次", tries = 3})
  local where = d:wait("发个位置", "location")
  local wrong = where.content -- want: undefined-field
  d:wait("按一下设备", "device_event") -- want: param-type-mismatch
  local pick = d:choose("确认？", {"是", "否"})
  local id = d:once(function() return robot.uuid() end)
  session.orders = (session.orders or 0) + 1
  return name .. pick .. id .. (where.label or "") .. d.message.type
end, {timeout = "10m", cancel = {"取消"}})
robot.filter("下单", order)

robot.filtr("x", function() return "y" end) -- want: undefined-field
robot.text(function(message)
  return message.contnet -- want: undefined-field
end)
robot.location(function(message)
  return message.content -- want: undefined-field
end)
robot.filter("位置", function(message, session, match)
  return message.location_x -- want: undefined-field
end)
robot.filter(robot.re("a(b)"), "c", {"d", robot.re("e")}, function(message, session, match)
  return match and match[1] or message.content
end)
robot.key_click("music", function(message)
  return message.content -- want: undefined-field
end)
robot.subscribe(function(message)
  local scene = message.key and message.key:match("^qrscene_(.+)")
  return robot.reply.articles{{title = "欢迎", url = "https://example.com/" .. (scene or "")}}
end)

robot.store.set() -- want: missing-parameter
local text = robot.reply.text("a")
print(text.content, text.media_id) -- want: undefined-field
local image = robot.reply.image{media_id = "x"}
local music = robot.reply.music("t", "d", "https://example.com/a.mp3")
robot.client.get_user_info("o", "zh_CN", "extra") -- want: redundant-parameter
local req = robot.http.request{method = "GET"} -- want: missing-fields
robot.add_handler(function(message) return message.type end, "subscribe")
robot.add_handler(function() end, "subscrib") -- want: param-type-mismatch

robot.on_load(function()
  local res, err = robot.client.create_menu{button = {}}
  if not res then robot.log.error("menu", err.errmsg, err.hint) end
  local data, ctype = robot.client.download_media("m")
  local page, herr = robot.http.get("https://example.com/", {query = {q = "1"}, timeout = "3s"})
  if page then print(page.status, page.headers["content-type"], page.json) else print(herr.errmsg) end
  local s = robot.stats()
  if s then print(s.deliveries, s.late_replies) end
  local value, jerr = robot.json.decode("{}")
  print(image.media_id, music.hq_url, robot.crypto.hmac_sha256("k", "s"), robot.url.query{a = {1, 2}})
end)
