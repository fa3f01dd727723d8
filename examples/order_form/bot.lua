-- 下单表单 (an order form): a conversation written as the questions it
-- asks, with robot.dialog. The dialog survives restarts and hot reloads:
-- what the user answered is saved with their session.
--
-- Try it (as one user):
--   text "下单"          → "请问怎么称呼？"
--   text "小明"          → "手机号？"
--   text "123"           → "请输入 11 位手机号"
--   text "13800138000"   → "送到哪里？请发送位置"
--   text "我家"          → "请点「+」→「位置」发送送货地址"
--   location (广州)      → "订单 1：小明 13800138000，送到 广州\n确认下单？\n1. 确认\n2. 再想想"
--   text "1"             → "下单成功，订单号 1"
--   text "我的订单"      → "你下过 1 单，最近一单：1"
-- At any step, "取消" or "退出" ends the dialog ("已取消"); three wrong
-- phone numbers end it too; ten minutes of silence and it is forgotten.

local order = robot.dialog("order", function(d, message, session)
  local name = d:ask("请问怎么称呼？")
  local phone = d:ask("手机号？", {check = robot.re([[^1\d{10}$]]), retry = "请输入 11 位手机号", tries = 3})
  local place = d:wait("送到哪里？请发送位置", "location", {retry = "请点「+」→「位置」发送送货地址"})

  -- The function runs again from the top for every message (with the
  -- answers recorded so far): anything that must happen once per order,
  -- such as taking a number, goes in d:once.
  local number = d:once(function() return robot.store.incr("order_number") end)

  local summary = string.format("订单 %d：%s %s，送到 %s", number, name, phone, place.label)
  if d:choose(summary .. "\n确认下单？", {"确认", "再想想"}) == "再想想" then
    return "好的，下次再来"
  end
  -- Session changes made in a dialog apply once, when they run for the
  -- last time.
  session.orders = (session.orders or 0) + 1
  session.last_order = number
  return "下单成功，订单号 " .. number
end, {
  timeout = "10m",
  cancel = {"取消", "退出"},
  fail = "输错太多次了，发送「下单」重新开始",
})

robot.filter("下单", order) -- a dialog is a handler: this message starts it

robot.filter("我的订单", function(message, session)
  if not session.orders then
    return "你还没有下过单，发送「下单」试试"
  end
  return string.format("你下过 %d 单，最近一单：%d", session.orders, session.last_order)
end)
