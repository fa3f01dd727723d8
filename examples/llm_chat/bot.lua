-- AI 聊天: a bot that answers with a large language model through any
-- OpenAI-compatible chat-completions API (OpenAI, DeepSeek, Qwen/DashScope,
-- Moonshot, a local Ollama, ...), and remembers the last few messages of
-- each user in `session`.
--
-- Its settings go in luarobot.toml, never in the script:
--
--   [settings]
--   api_key  = "sk-..."                          # or LUAROBOT_SETTINGS_API_KEY
--   base_url = "https://api.deepseek.com/v1"     # default https://api.openai.com/v1
--   model    = "deepseek-chat"                   # default gpt-4o-mini
--   # system_prompt = "你是……"                   # optional
--
-- A model often takes longer than WeChat waits (5 s). Then the host answers
-- WeChat at reply_timeout (4 s) and sends the model's answer when it comes,
-- through the customer-service API: set app_id and app_secret. The whole
-- call is bounded by handler_timeout (30 s by default), and this script
-- gives the model 25 s of it.
--
-- Try it:
--   text "你好"        → the model's answer
--   text "我叫什么？"   → an answer that knows the earlier messages
--   text "重新开始"     → "好的，我们重新开始吧。" (the history is cleared)
--   an image          → "我现在只看得懂文字哦。"

local MAX_HISTORY = 10    -- messages kept per user: five questions and their answers
local SYSTEM_PROMPT = "你是一个微信公众号里的助手，回答简洁、友好，使用中文。"

robot.filter("重新开始", "/reset", function(message, session)
  session.history = nil
  return "好的，我们重新开始吧。"
end)

robot.text(function(message, session)
  local settings = robot.settings
  if not settings.api_key then
    robot.log.warn("llm_chat: api_key is not set in [settings]")
    return "这个机器人还没有配置 AI 接口（api_key）。"
  end

  local history = session.history or {}
  table.insert(history, {role = "user", content = message.content})

  local messages = {{role = "system", content = settings.system_prompt or SYSTEM_PROMPT}}
  for _, m in ipairs(history) do
    table.insert(messages, m)
  end

  local base_url = settings.base_url or "https://api.openai.com/v1"
  local res, err = robot.http.post(base_url .. "/chat/completions", {
    headers = {Authorization = "Bearer " .. settings.api_key},
    json = {model = settings.model or "gpt-4o-mini", messages = messages},
    timeout = 25,
  })
  if not res then
    -- err.errmsg names the URL without its query; the key is in a header
    -- and never shows.
    robot.log.error("llm_chat: the model did not answer", {errmsg = err.errmsg})
    return "抱歉，AI 暂时没有回应，请稍后再试。"
  end
  local choice = res.json and res.json.choices and res.json.choices[1]
  local answer = choice and choice.message and choice.message.content
  if res.status ~= 200 or type(answer) ~= "string" or answer == "" then
    local detail = res.json and res.json.error and res.json.error.message or res.body:sub(1, 200)
    robot.log.error("llm_chat: unexpected answer", {status = res.status, detail = detail})
    return "抱歉，AI 暂时没有回应，请稍后再试。"
  end

  table.insert(history, {role = "assistant", content = answer})
  while #history > MAX_HISTORY do
    table.remove(history, 1)
  end
  session.history = history
  return answer
end)

robot.handler(function(message)
  if message.type == "image" or message.type == "voice" or message.type == "video" then
    return "我现在只看得懂文字哦。"
  end
end)
