-- robot.filter with regular expressions (robot.re, RE2 syntax). A rule
-- matches at the start of the text, as Python's re.match does; the handler's
-- third argument is the match: match[0] the whole match, match[1]... the
-- groups, match.NAME the named groups (?P<NAME>...).
--
-- Try it (the filters of WeRoBot's documentation, then two more):
--   text "a"            → "正文为 a "
--   text "xbbx"         → "正文中含有 bb "
--   text "abc" / "d"    → "正文中含有 c 或正文为 d"
--   text "onee"         → "正文为 onee"
--   text "f"            → "正文为 f"
--   text "天气 北京"     → "北京今天晴"
--   text "加 3 4"        → "3 + 4 = 7"

robot.filter("a", function()
  return "正文为 a "
end)

robot.filter(robot.re(".*?bb.*?"), function()
  return "正文中含有 bb "
end)

robot.filter(robot.re(".*?c.*?"), "d", function()
  return "正文中含有 c 或正文为 d"
end)

robot.filter(robot.re("(.*)?e(.*)?"), "f", function(message, session, match)
  if match then
    return "正文为 " .. match[1] .. "e" .. match[2]
  end
  return "正文为 f"
end)

robot.filter(robot.re([[天气\s+(?P<city>\S+)]]), function(message, session, match)
  return match.city .. "今天晴"
end)

robot.filter(robot.re([[加\s+(-?\d+)\s+(-?\d+)$]]), function(message, session, match)
  local a, b = tonumber(match[1]), tonumber(match[2])
  return string.format("%d + %d = %d", a, b, a + b)
end)
