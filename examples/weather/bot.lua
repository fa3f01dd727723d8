-- 天气: a keyword bot that calls a JSON web API. By default it asks
-- wttr.in, which needs no key; point weather_url at another service with
-- the same answers, or change `fetch` for yours.
--
--   [settings]
--   weather_url = "https://wttr.in"   # the default
--
-- Answers are kept ten minutes in robot.store, shared by all users, so a
-- popular city costs one request.
--
-- Try it:
--   text "天气 北京"   → "北京：晴，25°C（体感 27°C），湿度 40%，风速 11 km/h"
--   text "天气"        → "想查哪里的天气？例如：天气 北京"
--   text "天气 火星"   → "没有找到「火星」的天气。"

local CACHE_SECONDS = 600

-- fetch asks the weather service about city: the current conditions as
-- text, or nil and what to tell the user.
local function fetch(city)
  local base = robot.settings.weather_url or "https://wttr.in"
  local res, err = robot.http.get(base .. "/" .. robot.url.encode(city), {
    query = {format = "j1", lang = "zh"},
    timeout = "3s",
  })
  if not res then
    robot.log.warn("weather: the service did not answer", {errmsg = err.errmsg})
    return nil, "天气服务暂时不可用，请稍后再试。"
  end
  local now = res.status == 200 and res.json and res.json.current_condition and res.json.current_condition[1]
  if not now then
    return nil, "没有找到「" .. city .. "」的天气。"
  end
  local desc = (now.lang_zh and now.lang_zh[1] and now.lang_zh[1].value)
    or (now.weatherDesc and now.weatherDesc[1] and now.weatherDesc[1].value) or "未知"
  return string.format("%s：%s，%s°C（体感 %s°C），湿度 %s%%，风速 %s km/h",
    city, desc, now.temp_C or "?", now.FeelsLikeC or "?", now.humidity or "?", now.windspeedKmph or "?")
end

robot.filter(robot.re("^天气\\s*(.*)$"), function(message, session, match)
  local city = match[1]:gsub("%s+$", "")
  if city == "" then
    return "想查哪里的天气？例如：天气 北京"
  end
  local key = "weather:" .. city
  local cached = robot.store.get(key)
  if cached then
    return cached
  end
  local text, problem = fetch(city)
  if not text then
    return problem
  end
  robot.store.set(key, text, CACHE_SECONDS)
  return text
end)
