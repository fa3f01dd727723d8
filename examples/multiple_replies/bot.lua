-- 多次回复: more than one message for one message, through the
-- customer-service API (客服接口). WeChat takes one passive reply per
-- message; the others go through robot.send (or robot.client's
-- send_*_message, which take a kf_account), which needs app_id and
-- app_secret in the configuration.
--
-- Try it:
--   text "多次回复"   → a customer-service message "这是客服发的消息",
--                       then the reply "这是第二次回复哦"
--   text "稍后"       → the reply "马上就好", then, after it, two
--                       customer-service messages: a text and an image

robot.filter("多次回复", function(message)
  -- Sent before the reply, so the user reads it first.
  local ok, err = robot.send(message.source, "这是客服发的消息")
  if not ok then
    robot.log.warn("客服消息发送失败", {errmsg = err.errmsg})
  end
  return "这是第二次回复哦"
end)

robot.filter("稍后", function(message)
  -- robot.async runs after the reply has gone: slow work does not hold it.
  robot.async(function()
    robot.send(message.source, "这是稍后的第一条")
    robot.send(message.source, robot.reply.image("MEDIA_ID_OF_A_PICTURE"))
  end)
  return "马上就好"
end)

-- The same through robot.client, with a customer-service account:
--
--   local accounts = robot.client.get_custom_service_account_list()
--   robot.client.send_text_message(message.source, "这是客服发的消息", accounts.kf_list[1].kf_account)
