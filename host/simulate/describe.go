package simulate

import (
	"encoding/xml"
	"fmt"
	"strings"
)

// answer is every field a passive reply can carry.
type answer struct {
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
	ArticleCount int
	Articles     []struct {
		Title       string
		Description string
		PicURL      string `xml:"PicUrl"`
		URL         string `xml:"Url"`
	} `xml:"Articles>item"`
	TransInfo struct{ KfAccount string }
}

// Describe renders an answer the way a person reads it: "success", or the
// reply type and its fields, one per line.
func Describe(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || s == "success" {
		return "success (no reply shown to the user)"
	}
	var a answer
	if err := xml.Unmarshal(body, &a); err != nil {
		return fmt.Sprintf("unreadable answer (%v):\n%s", err, body)
	}
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "\n  %s: %s", label, value)
		}
	}
	fmt.Fprintf(&b, "%s reply to %s", a.MsgType, a.ToUserName)
	switch a.MsgType {
	case "text":
		b.WriteString("\n")
		for _, l := range strings.Split(a.Content, "\n") {
			b.WriteString("  " + l + "\n")
		}
		return strings.TrimRight(b.String(), "\n")
	case "image":
		line("media_id", a.Image.MediaID)
	case "voice":
		line("media_id", a.Voice.MediaID)
	case "video":
		line("media_id", a.Video.MediaID)
		line("title", a.Video.Title)
		line("description", a.Video.Description)
	case "music":
		line("title", a.Music.Title)
		line("description", a.Music.Description)
		line("url", a.Music.MusicURL)
		line("hq_url", a.Music.HQMusicURL)
		line("thumb_media_id", a.Music.ThumbMediaID)
	case "news":
		for i, art := range a.Articles {
			fmt.Fprintf(&b, "\n  [%d] %s", i+1, art.Title)
			line("    description", art.Description)
			line("    img", art.PicURL)
			line("    url", art.URL)
		}
	case "transfer_customer_service":
		if a.TransInfo.KfAccount != "" {
			line("account", a.TransInfo.KfAccount)
		} else {
			b.WriteString("\n  (any available agent)")
		}
	default:
		fmt.Fprintf(&b, "\n%s", body)
	}
	return b.String()
}
