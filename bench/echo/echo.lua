-- The load test's bot: answer every text with its content.
robot.text(function(message)
  return message.content
end)
