-- Every registration form and every return form of the robot API, for
-- forms_test.go, which sends each message through the whole host.

-- Return forms, chosen by the text's content.
local returns = {
  ["string"] = function() return "a plain string" end,
  ["reply.text"] = function() return robot.reply.text("a text reply") end,
  ["reply.image"] = function() return robot.reply.image("img_media") end,
  ["reply.voice"] = function() return robot.reply.voice("voice_media") end,
  ["reply.video"] = function() return robot.reply.video{media_id = "video_media", title = "标题", description = "描述"} end,
  ["reply.music"] = function() return robot.reply.music{title = "歌", description = "d", url = "http://x/a.mp3", hq_url = "http://x/hq.mp3"} end,
  ["reply.articles"] = function()
    return robot.reply.articles{{title = "第一", description = "d1", img = "http://x/1.png", url = "http://x/1"}, {title = "第二"}}
  end,
  ["reply.transfer"] = function() return robot.reply.transfer_customer_service("kf2001@gh_test") end,
  ["reply.transfer_any"] = function() return robot.reply.transfer_customer_service() end,
  ["reply.success"] = function() return robot.reply.success() end,
  ["list articles"] = function() return {{"t1", "d1", "http://x/1.png", "http://x/1"}, {"t2", "d2", "http://x/2.png", "http://x/2"}} end,
  ["list music3"] = function() return {"微信你不懂爱", "龚琳娜最新力作", "http://weixin.com/budongai.mp3"} end,
  ["list music4"] = function() return {"title", "description", "music_url", "hq_music_url"} end,
}

-- A text handler that answers only the contents above; nil lets the
-- following handlers try.
robot.text(function(message)
  local f = returns[message.content]
  if f then return f() end
end)

-- filter with string rules, and with a regex whose groups reach the handler.
robot.filter("帮助", "help", function() return "filter: help" end)
robot.filter(robot.re("^roll (\\d+)d(\\d+)$"), function(message, session, match)
  return "filter: " .. match[0] .. " / " .. match[1] .. " dice of " .. match[2]
end)

-- add_filter and add_handler, the non-decorator forms.
robot.add_filter(function() return "add_filter: hi" end, {"hi", robot.re("^hey")})
robot.add_handler(function(message)
  if message.content == "add_handler" then return "add_handler: text" end
end, "text")

-- One handler per message type.
robot.image(function(m) return "image " .. m.img .. " " .. m.media_id end)
robot.voice(function(m) return "voice " .. m.media_id .. " " .. m.format end)
robot.video(function(m) return "video " .. m.media_id .. " " .. m.thumb_media_id end)
robot.shortvideo(function(m) return "shortvideo " .. m.media_id end)
robot.location(function(m) return "location " .. m.label .. " " .. m.location_x .. "," .. m.location_y .. " " .. m.scale end)
robot.link(function(m) return "link " .. m.title .. " " .. m.url end)
robot.unknown(function(m) return "unknown message" end)
robot.miniprogrampage(function(m) return "miniprogrampage " .. m.title .. " " .. m.app_id .. " " .. m.page_path end)
robot.device_text(function(m) return "device_text " .. m.device_id .. ": " .. m.content end)
robot.device_event(function(m) return "device_event " .. m.event .. " " .. m.device_id .. ": " .. m.content end)

-- WeRoBot's rule: "" is falsy. This filter gives way to robot.handler,
-- which gives way too for "empty": the answer is success.
robot.filter("empty", function() return "" end)

-- key_click before click: the specific key wins.
robot.key_click("music", function(m) return "key_click music" end)

-- Every event registration.
for _, name in ipairs{
  "subscribe", "unsubscribe", "click", "view", "scan", "scancode_push", "scancode_waitmsg",
  "pic_sysphoto", "pic_photo_or_album", "pic_weixin", "location_select", "location_event",
  "templatesendjobfinish_event", "user_scan_product", "user_scan_product_enter_session",
  "user_scan_product_async", "user_scan_product_verify_action", "card_pass_check",
  "card_not_pass_check", "user_get_card", "user_gifting_card", "user_del_card",
  "user_consume_card", "user_pay_from_pay_cell", "user_view_card", "user_enter_session_from_card",
  "update_member_card", "card_sku_remind", "card_pay_order", "submit_membercard_user_info",
  "masssendjobfinish", "subscribe_msg_popup", "subscribe_msg_change", "subscribe_msg_sent",
  "merchant_order", "kf_create_session", "kf_close_session", "kf_switch_session",
  "shakearoundusershake", "poi_check_notify", "wificonnected",
  "qualification_verify_success", "qualification_verify_fail", "naming_verify_success",
  "naming_verify_fail", "annual_renew", "verify_expired",
  "user_authorize_invoice", "update_invoice_status", "submit_invoice_title",
  "user_enter_tempsession", "view_miniprogram", "wxa_media_check",
  "unknown_event",
} do
  robot[name](function(m) return "event " .. name .. " -> " .. m.type end)
end

-- handler: everything, after all typed handlers gave nothing.
robot.handler(function(message)
  if message.content == "empty" then return "" end
  return "fallback for " .. message.type
end)

robot.error_page(function(url) return "<h1>not WeChat</h1><p>" .. url .. "</p>" end)
