-- The bot against a fake chat-completions API (t.http): what it sends the
-- model, what it answers the user. The fake answers "回答：<question>（已知 N
-- 条消息）", N the number of messages it got.

test.config{
  reply_timeout = "1s", -- a model slower than this answers through the customer-service API
  settings = {api_key = "sk-test-secret", base_url = "https://llm.example.com/v1", model = "test-model"},
}

local function fake_model(t, opts)
  opts = opts or {}
  t.http:on("https://llm.example.com/v1/chat/completions", function(req)
    local messages = req.json.messages
    local last = messages[#messages].content
    if last == "坏" then
      return {status = 503, json = {error = {message = "model overloaded", type = "server_error"}}}
    end
    return {
      json = {choices = {{index = 0, message = {role = "assistant", content = "回答：" .. last .. "（已知 " .. #messages .. " 条消息）"}}}},
      delay = opts.delay,
    }
  end)
end

test("a question goes to the model with the key, the model and a system prompt", function(t)
  fake_model(t)
  t:user():send("你好"):expect("回答：你好（已知 2 条消息）")
  local req = t.http:calls()[1]
  t:eq(req.method, "POST")
  t:eq(req.headers.authorization, "Bearer sk-test-secret")
  t:eq(req.json.model, "test-model")
  t:eq(req.json.messages[1].role, "system")
  t:eq(req.json.messages[2], {role = "user", content = "你好"})
end)

test("the history goes with the next question, per user, ten messages at most", function(t)
  fake_model(t)
  local alice, bob = t:user(), t:user()
  alice:send("你好")
  alice:send("我叫什么？"):expect("回答：我叫什么？（已知 4 条消息）")
  local sent = t.http:calls()[2].json.messages
  t:eq(sent[3], {role = "assistant", content = "回答：你好（已知 2 条消息）"})
  bob:send("你好"):expect("回答：你好（已知 2 条消息）")
  for i = 1, 6 do
    alice:send("问题" .. i)
  end
  local calls = t.http:calls()
  t:eq(#calls[#calls].json.messages, 12) -- the system prompt, ten of history, the question
end)

test("重新开始 clears the history", function(t)
  fake_model(t)
  local u = t:user()
  u:send("你好")
  u:send("重新开始"):expect("好的，我们重新开始吧。")
  u:send("你好"):expect("回答：你好（已知 2 条消息）")
end)

test("a failing model: an apology, and the reason in the log", function(t)
  fake_model(t)
  t:user():send("坏"):expect("抱歉，AI 暂时没有回应，请稍后再试。")
end)

test("an unreachable model", function(t)
  t:user():send("你好"):expect("抱歉，AI 暂时没有回应，请稍后再试。")
end)

test("a slow model answers through the customer-service API, and the answer joins the history", function(t)
  fake_model(t, {delay = "1.5s"})
  local u = t:user()
  local r = u:send("慢")
  r:expect_none() -- WeChat was answered success at reply_timeout
  t:eq(#r.sent, 1)
  r.sent[1]:expect("回答：慢（已知 2 条消息）")
  fake_model(t)
  u:send("然后呢？"):expect("回答：然后呢？（已知 4 条消息）")
end)

test("pictures get a polite refusal", function(t)
  t:user():image():expect("我现在只看得懂文字哦。")
end)
