-- Without api_key in [settings] the bot says so (this file sets no
-- test.config, so its bots have no settings).

test("no api_key", function(t)
  t:user():send("你好"):expect("这个机器人还没有配置 AI 接口（api_key）。")
  t:eq(#t.http:calls(), 0)
end)
