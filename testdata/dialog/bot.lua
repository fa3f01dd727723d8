-- The bot of dialog_test.go: every robot.dialog feature, driven through
-- the whole host by signed requests.

-- The order form of DESIGN.md.
local order = robot.dialog("order", function(d, message, session)
  local name = d:ask("请问怎么称呼？")
  local phone = d:ask("手机号？", {check = robot.re([[^1\d{10}$]]), retry = "请输入 11 位手机号", tries = 3})
  if d:choose("确认下单？", {"确认", "再想想"}) == "再想想" then return "好的，下次再来" end
  session.orders = (session.orders or 0) + 1
  return "下单成功：" .. name .. " " .. phone
end, {timeout = "10m", cancel = {"取消", "退出"}})

robot.filter("下单", order)   -- a dialog is a handler

-- Checks: a list of texts, a function that returns an error text; tries
-- running out ends with fail.
local survey = robot.dialog("survey", function(d)
  local size = d:ask("尺码？", {check = {"S", "M", "L"}, retry = "请回复 S、M 或 L"})
  local age = d:ask("年龄？", {tries = 2, check = function(text)
    local n = tonumber(text)
    if not n then return "请输入数字" end
    if n < 1 or n > 150 then return "年龄在 1 到 150 之间" end
    return true
  end})
  return "尺码 " .. size .. "，年龄 " .. age
end, {fail = "问卷结束，请稍后再试", cancel = "算了", cancel_reply = "好的，不问了"})

-- A handler may hand the message to a dialog by returning it.
robot.filter("问卷", function() return survey end)

-- d:once around an API call; d:wait for a given message type.
robot.filter("打卡", robot.dialog("checkin", function(d, message, session)
  local nickname = d:once(function()
    local info = robot.client.get_user_info(message.source)
    return info and info.nickname or "?"
  end)
  local place = d:wait(nickname .. "，请发送你的位置", "location", {retry = "请发送位置（不是文字）"})
  local photo = d:wait("再发一张照片", "image")
  session.checkins = (session.checkins or 0) + 1
  return string.format("%s 在 %s 打卡（%s），第 %d 次", nickname, place.label, photo.media_id, session.checkins)
end))

-- d:wait for any message; d.message is the message being handled now.
robot.filter("反馈", robot.dialog("feedback", function(d, message)
  local first = d:wait("请发送反馈：文字、图片、语音都可以")
  local second = d:wait("还有吗？（刚收到 " .. d.message.type .. "）")
  return string.format("收到 %s 和 %s，开始于「%s」，最后一条是 %s", first.type, second.type, message.content, d.message.type)
end))

-- More steps than a dialog may have.
robot.filter("长对话", robot.dialog("long", function(d)
  local n = 0
  while true do
    n = n + 1
    d:ask("第 " .. n .. " 问")
  end
end))

-- A pcall around d:ask does not keep the dialog from waiting there.
robot.filter("pcall", robot.dialog("guarded", function(d, message, session)
  local ok, answer = pcall(d.ask, d, "你确定吗？")
  session.after_pcall = true -- not kept: the run stopped at d:ask
  if not ok then return "捕获了：" .. tostring(answer) end
  return "答：" .. answer
end))

-- A session that fits alone, but not with a dialog's record beside it.
robot.filter("垫", function(message, session)
  session.pad = table.concat({string.rep("x", 1048576), string.rep("x", 1048576), string.rep("x", 524288)})
  return "垫好了"
end)
robot.filter("大记录", robot.dialog("big", function(d)
  d:ask("还在吗？")
  return "还在"
end))

-- Events are no answers: they reach these handlers during a dialog.
robot.key_click("menu", function(message, session)
  session.clicks = (session.clicks or 0) + 1
  return "点击了菜单（" .. session.clicks .. "）"
end)
robot.location_event(function(message, session)
  session.last_seen = message.latitude
end)

robot.text(function(message, session)
  return "echo " .. message.content .. " orders=" .. tostring(session.orders)
end)
