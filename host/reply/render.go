package reply

import (
	"fmt"
	"strconv"

	"github.com/luarobot/luarobot/host/internal/xmltext"
)

// Render appends the passive-reply XML for r to dst and returns the
// extended slice. toUser is the user's OpenID (the message's Source),
// fromUser the account (the message's Target).
//
// The layout follows WeChat's passive-reply documentation (被动回复用户消息)
// and WeRoBot's templates. Strings are written as CDATA; a "]]>" inside is
// split across two sections and characters XML cannot carry are dropped, so
// whatever a handler returns, the result is well-formed and reads back as
// the same text.
//
// Render never fails: a *Success, a nil reply (or a nil pointer of a reply
// type) and a Reply of a type this package does not define all render as
// the bare body "success", which WeChat accepts without showing anything.
// Call Validate first to catch replies WeChat would reject.
func Render(dst []byte, r Reply, toUser, fromUser string, createTime int64) []byte {
	switch r := r.(type) {
	case *Text:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "text")
			dst = element(dst, "Content", r.Content)
			return footer(dst)
		}
	case *Image:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "image")
			dst = append(dst, "<Image>\n"...)
			dst = element(dst, "MediaId", r.MediaID)
			dst = append(dst, "</Image>\n"...)
			return footer(dst)
		}
	case *Voice:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "voice")
			dst = append(dst, "<Voice>\n"...)
			dst = element(dst, "MediaId", r.MediaID)
			dst = append(dst, "</Voice>\n"...)
			return footer(dst)
		}
	case *Video:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "video")
			dst = append(dst, "<Video>\n"...)
			dst = element(dst, "MediaId", r.MediaID)
			dst = element(dst, "Title", r.Title)
			dst = element(dst, "Description", r.Description)
			dst = append(dst, "</Video>\n"...)
			return footer(dst)
		}
	case *Music:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "music")
			dst = append(dst, "<Music>\n"...)
			dst = element(dst, "Title", r.Title)
			dst = element(dst, "Description", r.Description)
			dst = element(dst, "MusicUrl", r.URL)
			hq := r.HQURL
			if hq == "" {
				hq = r.URL // as WeRoBot: no high-quality link means the same link
			}
			dst = element(dst, "HQMusicUrl", hq)
			if r.ThumbMediaID != "" {
				dst = element(dst, "ThumbMediaId", r.ThumbMediaID)
			}
			dst = append(dst, "</Music>\n"...)
			return footer(dst)
		}
	case *Articles:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "news")
			dst = append(dst, "<ArticleCount>"...)
			dst = strconv.AppendInt(dst, int64(len(r.Articles)), 10)
			dst = append(dst, "</ArticleCount>\n<Articles>\n"...)
			for _, a := range r.Articles {
				dst = append(dst, "<item>\n"...)
				dst = element(dst, "Title", a.Title)
				dst = element(dst, "Description", a.Description)
				dst = element(dst, "PicUrl", a.Img)
				dst = element(dst, "Url", a.URL)
				dst = append(dst, "</item>\n"...)
			}
			dst = append(dst, "</Articles>\n"...)
			return footer(dst)
		}
	case *TransferCustomerService:
		if r != nil {
			dst = header(dst, toUser, fromUser, createTime, "transfer_customer_service")
			if r.Account != "" {
				dst = append(dst, "<TransInfo>\n"...)
				dst = element(dst, "KfAccount", r.Account)
				dst = append(dst, "</TransInfo>\n"...)
			}
			return footer(dst)
		}
	}
	return append(dst, "success"...)
}

func header(dst []byte, toUser, fromUser string, createTime int64, msgType string) []byte {
	dst = append(dst, "<xml>\n"...)
	dst = element(dst, "ToUserName", toUser)
	dst = element(dst, "FromUserName", fromUser)
	dst = append(dst, "<CreateTime>"...)
	dst = strconv.AppendInt(dst, createTime, 10)
	dst = append(dst, "</CreateTime>\n<MsgType><![CDATA["...)
	dst = append(dst, msgType...)
	return append(dst, "]]></MsgType>\n"...)
}

func footer(dst []byte) []byte {
	return append(dst, "</xml>"...)
}

// element appends <name>CDATA</name> and a newline.
func element(dst []byte, name, text string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	dst = append(dst, '>')
	dst = xmltext.AppendCDATA(dst, text)
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, ">\n"...)
}

// MaxArticles is the most articles WeChat shows in one news reply. (When
// the user sent a message rather than an event, WeChat shows only the
// first.)
const MaxArticles = 8

// Validate reports what WeChat would reject in r, naming the field: a nil
// reply, an empty media_id, a news reply with no article or more than
// MaxArticles. The Lua runtime calls it on what a handler returns.
func Validate(r Reply) error {
	switch r := r.(type) {
	case nil:
		return fmt.Errorf("reply: nil reply")
	case *Text:
		if r == nil {
			return fmt.Errorf("reply: nil text reply")
		}
	case *Image:
		if r == nil {
			return fmt.Errorf("reply: nil image reply")
		}
		if r.MediaID == "" {
			return fmt.Errorf("reply: image reply: media_id is empty")
		}
	case *Voice:
		if r == nil {
			return fmt.Errorf("reply: nil voice reply")
		}
		if r.MediaID == "" {
			return fmt.Errorf("reply: voice reply: media_id is empty")
		}
	case *Video:
		if r == nil {
			return fmt.Errorf("reply: nil video reply")
		}
		if r.MediaID == "" {
			return fmt.Errorf("reply: video reply: media_id is empty")
		}
	case *Music:
		if r == nil {
			return fmt.Errorf("reply: nil music reply")
		}
	case *Articles:
		if r == nil {
			return fmt.Errorf("reply: nil articles reply")
		}
		switch n := len(r.Articles); {
		case n == 0:
			return fmt.Errorf("reply: articles reply: articles is empty; give 1 to %d", MaxArticles)
		case n > MaxArticles:
			return fmt.Errorf("reply: articles reply: %d articles; WeChat shows at most %d", n, MaxArticles)
		}
	case *TransferCustomerService:
		if r == nil {
			return fmt.Errorf("reply: nil transfer_customer_service reply")
		}
	case *Success:
	default:
		return fmt.Errorf("reply: %T is not a reply type of this package", r)
	}
	return nil
}
