test("a new follower is thanked", function(t)
  t:user():subscribe():expect("感谢这位小可爱的关注~")
end)

test("following through a parameterised QR code names its scene", function(t)
  t:user():subscribe("qrscene_42"):expect("感谢关注！你扫描的是 42 号二维码")
end)

test("unfollowing gets no answer", function(t)
  t:user():unsubscribe():expect_none()
end)
