package reply

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// View is a reply as a script author reads it: the reply table that
// `luarobot test` hands a test, and the JSON the console's Try panel gets.
// Fields a reply type does not have are empty (and left out of JSON).
type View struct {
	// Type is Kind(): text, image, voice, video, music, news,
	// transfer_customer_service, or success when nothing is shown.
	Type         string        `json:"type"`
	Content      string        `json:"content,omitempty"`
	MediaID      string        `json:"media_id,omitempty"`
	Title        string        `json:"title,omitempty"`
	Description  string        `json:"description,omitempty"`
	URL          string        `json:"url,omitempty"`
	HQURL        string        `json:"hq_url,omitempty"`
	ThumbMediaID string        `json:"thumb_media_id,omitempty"`
	Articles     []ArticleView `json:"articles,omitempty"`
	Account      string        `json:"account,omitempty"`
}

// Fields calls f with the name (as JSON and Lua spell it) and the value of
// each text field the view has — content, media_id, title, description,
// url, hq_url, thumb_media_id, account, in that order — skipping the empty
// ones: what a tool that shows a reply lists after its type.
func (v View) Fields(f func(name, value string)) {
	for _, fv := range [...]struct{ name, value string }{
		{"content", v.Content}, {"media_id", v.MediaID}, {"title", v.Title}, {"description", v.Description},
		{"url", v.URL}, {"hq_url", v.HQURL}, {"thumb_media_id", v.ThumbMediaID}, {"account", v.Account},
	} {
		if fv.value != "" {
			f(fv.name, fv.value)
		}
	}
}

// ArticleView is one article of a news reply, with robot.reply.articles'
// field names.
type ArticleView struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Img         string `json:"img"`
	URL         string `json:"url"`
}

// ViewOf returns the view of r; nil is success.
func ViewOf(r Reply) View {
	switch r := r.(type) {
	case *Text:
		return View{Type: "text", Content: r.Content}
	case *Image:
		return View{Type: "image", MediaID: r.MediaID}
	case *Voice:
		return View{Type: "voice", MediaID: r.MediaID}
	case *Video:
		return View{Type: "video", MediaID: r.MediaID, Title: r.Title, Description: r.Description}
	case *Music:
		return View{Type: "music", Title: r.Title, Description: r.Description, URL: r.URL, HQURL: r.HQURL, ThumbMediaID: r.ThumbMediaID}
	case *Articles:
		v := View{Type: "news", Articles: make([]ArticleView, len(r.Articles))}
		for i, a := range r.Articles {
			v.Articles[i] = ArticleView{Title: a.Title, Description: a.Description, Img: a.Img, URL: a.URL}
		}
		return v
	case *TransferCustomerService:
		return View{Type: "transfer_customer_service", Account: r.Account}
	}
	return View{Type: "success"}
}

// passive is every element a passive reply's XML can carry.
type passive struct {
	ToUserName   string
	FromUserName string
	CreateTime   int64
	MsgType      string
	Content      string
	Image        struct {
		MediaID string `xml:"MediaId"`
	}
	Voice struct {
		MediaID string `xml:"MediaId"`
	}
	Video struct {
		MediaID     string `xml:"MediaId"`
		Title       string
		Description string
	}
	Music struct {
		Title        string
		Description  string
		MusicURL     string `xml:"MusicUrl"`
		HQMusicURL   string `xml:"HQMusicUrl"`
		ThumbMediaID string `xml:"ThumbMediaId"`
	}
	Articles []struct {
		Title       string
		Description string
		PicURL      string `xml:"PicUrl"`
		URL         string `xml:"Url"`
	} `xml:"Articles>item"`
	TransInfo struct{ KfAccount string }
}

// Passive is a passive reply read back from the body of an answer to
// WeChat: the reply and the users it names.
type Passive struct {
	Reply    Reply
	ToUser   string // the user's openid
	FromUser string // the account
}

// Parse reads the body of an answer to WeChat (decrypted): the reply XML
// that Render writes, or "success" (or nothing), which is *Success. It is
// the inverse of Render, for simulators and test harnesses: a tool that
// reads what the host really sent.
func Parse(body []byte) (Passive, error) {
	s := bytes.TrimSpace(body)
	if len(s) == 0 || string(s) == "success" {
		return Passive{Reply: &Success{}}, nil
	}
	p, err := decodePassive(s)
	if err != nil {
		return Passive{}, fmt.Errorf("reply: not a reply XML: %w", err)
	}
	out := Passive{ToUser: p.ToUserName, FromUser: p.FromUserName}
	switch p.MsgType {
	case "text":
		out.Reply = &Text{Content: p.Content}
	case "image":
		out.Reply = &Image{MediaID: p.Image.MediaID}
	case "voice":
		out.Reply = &Voice{MediaID: p.Voice.MediaID}
	case "video":
		out.Reply = &Video{MediaID: p.Video.MediaID, Title: p.Video.Title, Description: p.Video.Description}
	case "music":
		out.Reply = &Music{Title: p.Music.Title, Description: p.Music.Description, URL: p.Music.MusicURL,
			HQURL: p.Music.HQMusicURL, ThumbMediaID: p.Music.ThumbMediaID}
	case "news":
		a := &Articles{Articles: make([]Article, len(p.Articles))}
		for i, it := range p.Articles {
			a.Articles[i] = Article{Title: it.Title, Description: it.Description, Img: it.PicURL, URL: it.URL}
		}
		out.Reply = a
	case "transfer_customer_service":
		out.Reply = &TransferCustomerService{Account: p.TransInfo.KfAccount}
	default:
		return Passive{}, fmt.Errorf("reply: unknown MsgType %q", p.MsgType)
	}
	return out, nil
}

// decodePassive reads the one <xml> element of a reply body. Unlike
// xml.Unmarshal it refuses another root element and anything after the
// first but white space and comments: a tool reading what the host sent
// must not take a body with a second reply, or garbage after it, for one
// good reply.
func decodePassive(s []byte) (*passive, error) {
	d := xml.NewDecoder(bytes.NewReader(s))
	var p *passive
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if p != nil {
				return nil, fmt.Errorf("a second root element <%s>", t.Name.Local)
			}
			if t.Name.Local != "xml" {
				return nil, fmt.Errorf("the root element is <%s>, not <xml>", t.Name.Local)
			}
			p = new(passive)
			if err := d.DecodeElement(p, &t); err != nil {
				return nil, err
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("a directive (<!...>)")
		}
	}
	if p == nil {
		return nil, errors.New("no root element")
	}
	return p, nil
}
