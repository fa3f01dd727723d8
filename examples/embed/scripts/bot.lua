-- The bot behind /wechat of the embedding server (examples/embed/main.go).
-- Send: "ping" → "pong from the embedded bot"; anything else → echo.
robot.filter("ping", function() return "pong from the embedded bot" end)
robot.text(function(message) return "echo: " .. message.content end)
