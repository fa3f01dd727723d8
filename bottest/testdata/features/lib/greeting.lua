local M = {}
M.welcome = "感谢关注"
function M.shout(s)
  return s .. "！"
end
return M
