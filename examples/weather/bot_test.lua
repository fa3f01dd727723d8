-- The bot against a fake wttr.in (t.http).

local WTTR = {current_condition = {{
  FeelsLikeC = "27", humidity = "40", temp_C = "25", windspeedKmph = "11",
  weatherDesc = {{value = "Sunny"}}, lang_zh = {{value = "晴"}},
}}}

local function fake_wttr(t)
  t.http:on("https://wttr.in/*", function(req)
    local city = req.url:match("^https://wttr.in/([^?]*)")
    if city == "%E5%8C%97%E4%BA%AC" then -- 北京
      return {json = WTTR}
    end
    if city == "New+York" then
      local english = {current_condition = {{FeelsLikeC = "27", humidity = "40", temp_C = "25", windspeedKmph = "11", weatherDesc = {{value = "Sunny"}}}}}
      return {json = english}
    end
    return {status = 404, body = "Unknown location; please try ~" .. city}
  end)
end

test("a city's weather, in Chinese when the service has it", function(t)
  fake_wttr(t)
  local u = t:user()
  u:send("天气 北京"):expect("北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h")
  u:send("天气北京"):expect("北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h")
  u:send("天气 New York"):expect("New York：Sunny，25°C（体感 27°C），湿度 40%，风速 11 km/h")
  t:eq(t.http:calls()[1].query, {format = "j1", lang = "zh"})
end)

test("answers are kept ten minutes, shared by all users", function(t)
  fake_wttr(t)
  t:user():send("天气 北京")
  t:user():send("天气 北京")
  t:eq(#t.http:calls(), 1)
  t.clock:advance("10m")
  t:user():send("天气 北京")
  t:eq(#t.http:calls(), 2)
end)

test("no city, an unknown city, the service down", function(t)
  local u = t:user()
  u:send("天气"):expect("想查哪里的天气？例如：天气 北京")
  u:send("天气 上海"):expect("天气服务暂时不可用，请稍后再试。") -- no fake: the service is unreachable
  fake_wttr(t)
  u:send("天气 火星"):expect("没有找到「火星」的天气。")
end)
