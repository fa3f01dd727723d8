-- The conversation of bot.lua's header comment, as one user.

local SUMMARY = "订单 %d：%s %s，送到 %s\n确认下单？\n1. 确认\n2. 再想想"

test("an order from start to end", function(t)
  local u = t:user("oAlice")
  u:send("我的订单"):expect("你还没有下过单，发送「下单」试试")
  u:send("下单"):expect("请问怎么称呼？")
  u:send("小明"):expect("手机号？")
  u:send("123"):expect("请输入 11 位手机号")
  u:send("13800138000"):expect("送到哪里？请发送位置")
  u:send("我家"):expect("请点「+」→「位置」发送送货地址")
  u:location(23.1, 113.3, "广州"):expect(SUMMARY:format(1, "小明", "13800138000", "广州"))
  u:send("1"):expect("下单成功，订单号 1")
  u:send("我的订单"):expect("你下过 1 单，最近一单：1")
  t:eq(t:session("oAlice").orders, 1)
  t:eq(t.store.get("order_number"), 1)
end)

test("the next order takes the next number; 取消 leaves the session as it was", function(t)
  local u = t:user()
  for i, name in ipairs{"小明", "小红"} do
    u:send("下单")
    u:send(name)
    u:send("13900139000")
    u:location(39.9, 116.4, "北京"):expect(SUMMARY:format(i, name, "13900139000", "北京"))
    if i == 1 then
      u:send("确认"):expect("下单成功，订单号 1")
    else
      u:send("3"):expect(SUMMARY:format(i, name, "13900139000", "北京")) -- not an option: asked again
      u:send("取消"):expect("已取消")
    end
  end
  u:send("我的订单"):expect("你下过 1 单，最近一单：1")
end)

test("three wrong phone numbers end the dialog", function(t)
  local u = t:user()
  u:send("下单")
  u:send("小明")
  u:send("1"):expect("请输入 11 位手机号")
  u:send("2"):expect("请输入 11 位手机号")
  u:send("3"):expect("输错太多次了，发送「下单」重新开始")
  u:send("13800138000"):expect_none() -- the dialog is over
end)

test("再想想 cancels the order", function(t)
  local u = t:user()
  u:send("下单")
  u:send("小明")
  u:send("13800138000")
  u:location(23.1, 113.3, "广州")
  u:send("2"):expect("好的，下次再来")
  t:eq(t:session(u).orders, nil)
end)

test("ten minutes of silence and the dialog is forgotten", function(t)
  local u = t:user()
  u:send("下单"):expect("请问怎么称呼？")
  t.clock:advance("9m")
  u:send("小明"):expect("手机号？")
  t.clock:advance("11m")
  u:send("13800138000"):expect_none()
  u:send("下单"):expect("请问怎么称呼？")
end)

test("two users' dialogs do not mix", function(t)
  local a, b = t:user(), t:user()
  a:send("下单")
  b:send("下单")
  a:send("小明"):expect("手机号？")
  b:send("小红"):expect("手机号？")
end)
