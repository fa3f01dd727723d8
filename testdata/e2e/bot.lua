-- The bot the process-level tests (e2e_test.go) serve.

-- count: a session counter, to see sessions survive a crash.
robot.filter("count", function(message, session)
  session.n = (session.n or 0) + 1
  return "count=" .. session.n
end)

-- grow: adds 50 KB to the session, to fill a disk; tells how many times.
robot.filter("grow", function(message, session)
  session.blob = (session.blob or "") .. string.rep("x", 50000)
  session.grown = (session.grown or 0) + 1
  return "grown=" .. session.grown
end)

-- slow <word>: busy for 400 ms (Lua has no sleep), then counts how many
-- times this word's handler ran, bot-wide: with several processes on one
-- Redis it must stay 1 however many deliveries arrive.
robot.filter(robot.re("slow (\\w+)"), function(message, session, match)
  local t = os.clock()
  while os.clock() - t < 0.4 do end
  local runs = robot.store.incr("runs:" .. match[1])
  return "slow " .. match[1] .. " runs=" .. runs
end)

-- stats: the host's reply counters, read through robot.stats().
robot.filter("stats", function()
  local s = robot.stats()
  return "deliveries=" .. s.deliveries .. " retries=" .. s.retries
end)

robot.text(function(message)
  return "echo: " .. message.content
end)

robot.key_click("music", function(message)
  return "you clicked music"
end)

robot.subscribe(function(message)
  return "welcome " .. message.source
end)
