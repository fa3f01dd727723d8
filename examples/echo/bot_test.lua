test("text comes back as it was sent", function(t)
  t:user():send("你好"):expect("你好")
end)

test("an image answers its URL", function(t)
  t:user():message("image", {img = "http://mmbiz.qpic.cn/pic.jpg", media_id = "M"}):expect("http://mmbiz.qpic.cn/pic.jpg")
end)

test("a location answers its place", function(t)
  t:user():location(23.134521, 113.358803, "广州"):expect("你在 广州 (23.134521, 113.358803)")
end)

test("a link is bookmarked", function(t)
  t:user():link("标题", "https://example.com/"):expect("收藏了：标题")
end)

test("other messages get no answer", function(t)
  t:user():voice():expect_none()
end)
