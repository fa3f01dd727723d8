package fakewechat

import "github.com/luarobot/luarobot/host/reply"

// View reads a customer-service message back in the shape of a passive
// reply (reply.View): what `luarobot test` shows as a reply's sent list.
// A reply sent through client.SendReply comes back as reply.ViewOf shows
// it passively; the kinds only the API sends (mpnews, miniprogrampage,
// msgmenu, wxcard) keep their msgtype as Type, with the fields View has.
// Account is the customer-service account the message was sent as, if
// any.
func (m Message) View() reply.View {
	str := func(obj map[string]any, key string) string {
		s, _ := obj[key].(string)
		return s
	}
	part, _ := m.Body[m.MsgType].(map[string]any)
	v := reply.View{Type: m.MsgType}
	switch m.MsgType {
	case "text":
		v.Content = str(part, "content")
	case "image", "voice", "mpnews":
		v.MediaID = str(part, "media_id")
	case "video":
		v.MediaID, v.Title, v.Description = str(part, "media_id"), str(part, "title"), str(part, "description")
	case "music":
		v.Title, v.Description = str(part, "title"), str(part, "description")
		v.URL, v.HQURL, v.ThumbMediaID = str(part, "musicurl"), str(part, "hqmusicurl"), str(part, "thumb_media_id")
	case "news":
		list, _ := part["articles"].([]any)
		v.Articles = make([]reply.ArticleView, 0, len(list))
		for _, a := range list {
			a, _ := a.(map[string]any)
			v.Articles = append(v.Articles, reply.ArticleView{Title: str(a, "title"), Description: str(a, "description"),
				Img: str(a, "picurl"), URL: str(a, "url")})
		}
	case "miniprogrampage":
		v.Title, v.ThumbMediaID = str(part, "title"), str(part, "thumb_media_id")
	}
	if cs, ok := m.Body["customservice"].(map[string]any); ok {
		v.Account = str(cs, "kf_account")
	}
	return v
}
