-- The bot of the process-level robot.http test (e2e_http_test.go): "slow"
-- waits on the upstream in robot.settings.upstream; anything else is
-- answered at once.

robot.filter("slow", function()
  local res, err = robot.http.get(robot.settings.upstream .. "/slow", {timeout = 300})
  return res and res.body or err.errmsg
end)

robot.text(function(message)
  return "fast " .. message.content
end)
