test("a picture comes back as the same picture", function(t)
  t:user():image("MEDIA"):expect{type = "image", media_id = "MEDIA"}
end)

test("图片 without a default picture gives a hint", function(t)
  t:user():send("图片"):expect("还没有设置默认图片")
end)

test("图片 sends the default picture kept in robot.store", function(t)
  t.store.set("image:default", "DEFAULT_MEDIA")
  t:user():send("图片"):expect{type = "image", media_id = "DEFAULT_MEDIA"}
end)
