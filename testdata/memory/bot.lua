-- The bot of e2e_memory_test.go: two handlers that grow memory without
-- end, and one that answers.

local keep = {}

robot.filter("double", function(message)
  local s = "x"
  while true do
    s = s .. s
  end
end)

robot.filter("hoard", function(message)
  local parts = {}
  for i = 1, 16 do
    parts[i] = string.rep("x", 1048576)
  end
  while true do
    keep[#keep + 1] = table.concat(parts) -- 16 MiB each, all kept
  end
end)

robot.text(function(message)
  return "echo: " .. message.content .. " kept=" .. #keep
end)
