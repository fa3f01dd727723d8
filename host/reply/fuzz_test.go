package reply_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/luarobot/luarobot/host/reply"
)

// readBack reads rendered XML with encoding/xml and returns the text of
// every leaf element by its path ("xml/Content"); repeated paths (news
// items) get an index ("xml/Articles/item/Title#1").
func readBack(b []byte) (map[string]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	leaves := map[string]string{}
	var path []string
	var text strings.Builder
	hasChild := []bool{}
	roots := 0
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
			if len(path) == 0 {
				roots++
			} else {
				hasChild[len(hasChild)-1] = true
			}
			path = append(path, t.Name.Local)
			hasChild = append(hasChild, false)
			text.Reset()
		case xml.EndElement:
			if !hasChild[len(hasChild)-1] {
				key := strings.Join(path, "/")
				for i := 1; ; i++ {
					if _, dup := leaves[key]; !dup {
						break
					}
					key = fmt.Sprintf("%s#%d", strings.Join(path, "/"), i)
				}
				leaves[key] = text.String()
			}
			path = path[:len(path)-1]
			hasChild = hasChild[:len(hasChild)-1]
		case xml.CharData:
			if len(path) == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, fmt.Errorf("text outside the root")
				}
				continue
			}
			text.Write(t)
		case xml.Directive:
			return nil, fmt.Errorf("directive in output")
		}
	}
	if roots != 1 {
		return nil, fmt.Errorf("%d root elements", roots)
	}
	return leaves, nil
}

// legal is s without what XML cannot carry, computed independently of the
// package: invalid UTF-8 bytes and characters outside XML's Char production.
func legal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError && n == 1 {
			continue
		}
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func FuzzRender(f *testing.F) {
	f.Add(uint8(0), "o_user", "gh_account", "hello", "", "", "")
	f.Add(uint8(0), "o]]>u", "<&>", "a]]>b\r\n\x00\xff😀", "", "", "")
	f.Add(uint8(3), "u", "a", "media", "标题", "]]]]>", "\r")
	f.Add(uint8(4), "u", "a", "title", "desc", "http://x/?a=1&b=2", "")
	f.Add(uint8(5), "u", "a", "t", "d", "img", "url")
	f.Add(uint8(6), "u", "a", "kf@account", "", "", "")
	f.Add(uint8(6), "u", "a", "", "", "", "")
	f.Add(uint8(7), "u", "a", "", "", "", "")
	f.Fuzz(func(t *testing.T, kind uint8, to, from, a, b, c, d string) {
		var r reply.Reply
		want := map[string]string{
			"xml/ToUserName":   legal(to),
			"xml/FromUserName": legal(from),
			"xml/CreateTime":   "1348831860",
		}
		switch kind % 8 {
		case 0:
			r = &reply.Text{Content: a}
			want["xml/MsgType"] = "text"
			want["xml/Content"] = legal(a)
		case 1:
			r = &reply.Image{MediaID: a}
			want["xml/MsgType"] = "image"
			want["xml/Image/MediaId"] = legal(a)
		case 2:
			r = &reply.Voice{MediaID: a}
			want["xml/MsgType"] = "voice"
			want["xml/Voice/MediaId"] = legal(a)
		case 3:
			r = &reply.Video{MediaID: a, Title: b, Description: c}
			want["xml/MsgType"] = "video"
			want["xml/Video/MediaId"] = legal(a)
			want["xml/Video/Title"] = legal(b)
			want["xml/Video/Description"] = legal(c)
		case 4:
			r = &reply.Music{Title: a, Description: b, URL: c, HQURL: d, ThumbMediaID: d}
			want["xml/MsgType"] = "music"
			want["xml/Music/Title"] = legal(a)
			want["xml/Music/Description"] = legal(b)
			want["xml/Music/MusicUrl"] = legal(c)
			hq := d
			if hq == "" {
				hq = c
			} else {
				want["xml/Music/ThumbMediaId"] = legal(d)
			}
			want["xml/Music/HQMusicUrl"] = legal(hq)
		case 5:
			r = &reply.Articles{Articles: []reply.Article{{a, b, c, d}, {d, c, b, a}}}
			want["xml/MsgType"] = "news"
			want["xml/ArticleCount"] = "2"
			for i, art := range [][4]string{{a, b, c, d}, {d, c, b, a}} {
				suffix := ""
				if i > 0 {
					suffix = fmt.Sprintf("#%d", i)
				}
				want["xml/Articles/item/Title"+suffix] = legal(art[0])
				want["xml/Articles/item/Description"+suffix] = legal(art[1])
				want["xml/Articles/item/PicUrl"+suffix] = legal(art[2])
				want["xml/Articles/item/Url"+suffix] = legal(art[3])
			}
		case 6:
			r = &reply.TransferCustomerService{Account: a}
			want["xml/MsgType"] = "transfer_customer_service"
			if a != "" {
				want["xml/TransInfo/KfAccount"] = legal(a)
			}
		case 7:
			r = &reply.Success{}
		}

		prefix := []byte("prefix")
		out := reply.Render(prefix, r, to, from, 1348831860)
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("Render did not append to dst")
		}
		out = out[len("prefix"):]
		if kind%8 == 7 {
			if string(out) != "success" {
				t.Fatalf("success renders %q", out)
			}
			return
		}
		got, err := readBack(out)
		if err != nil {
			t.Fatalf("Render output is not well-formed: %v\n%s", err, out)
		}
		checkParseInverts(t, r, to, from, out)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q\n%s", k, got[k], v, out)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected element %s in\n%s", k, out)
			}
		}
	})
}

// legalView is the view of r as its XML carries it: each text without
// what XML cannot carry, and a music reply's missing high-quality link
// as its link (Render's rule).
func legalView(r reply.Reply) reply.View {
	v := reply.ViewOf(r)
	if v.Type == "music" && v.HQURL == "" {
		v.HQURL = v.URL
	}
	for _, p := range []*string{&v.Content, &v.MediaID, &v.Title, &v.Description, &v.URL, &v.HQURL, &v.ThumbMediaID, &v.Account} {
		*p = legal(*p)
	}
	for i := range v.Articles {
		a := &v.Articles[i]
		a.Title, a.Description, a.Img, a.URL = legal(a.Title), legal(a.Description), legal(a.Img), legal(a.URL)
	}
	return v
}

// checkParseInverts: Parse reads back what Render wrote, users included.
func checkParseInverts(t *testing.T, r reply.Reply, to, from string, out []byte) {
	t.Helper()
	p, err := reply.Parse(out)
	if err != nil {
		t.Fatalf("Parse of Render output: %v\n%s", err, out)
	}
	if p.ToUser != legal(to) || p.FromUser != legal(from) {
		t.Fatalf("Parse gives users %q, %q; Render was given %q, %q\n%s", p.ToUser, p.FromUser, to, from, out)
	}
	if got, want := reply.ViewOf(p.Reply), legalView(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse(Render(r)) = %#v\nwant %#v\n%s", got, want, out)
	}
}

// FuzzParse: Parse reads what a tool finds in an answer to WeChat, which
// may be anything. It fails with an error naming the package, or gives a
// reply that Render writes and Parse reads back unchanged (after the one
// normalisation Render makes: a music reply's missing high-quality link
// is its link).
func FuzzParse(f *testing.F) {
	for _, r := range []reply.Reply{
		&reply.Text{Content: "a]]>b\r\n😀"}, &reply.Image{MediaID: "m"}, &reply.Voice{MediaID: "v"},
		&reply.Video{MediaID: "m", Title: "t", Description: "d"},
		&reply.Music{Title: "t", URL: "u"}, &reply.Music{Title: "t", URL: "u", HQURL: "h", ThumbMediaID: "th"},
		&reply.Articles{Articles: []reply.Article{{"t", "d", "i", "u"}, {}}}, &reply.Articles{},
		&reply.TransferCustomerService{Account: "kf@x"}, &reply.TransferCustomerService{}, &reply.Success{},
	} {
		f.Add(reply.Render(nil, r, "o_user", "gh_account", 1348831860))
	}
	for _, s := range []string{
		"", " success\n", "<xml><MsgType>text</MsgType><Content>a</Content><Content>b</Content></xml>",
		"<xml><MsgType>news</MsgType><Articles><item><Title><b>x</b></Title></item></Articles></xml>trailing",
		"<other><MsgType>voice</MsgType><Voice><MediaId>&#x1F600;</MediaId></Voice></other>",
		"<xml><MsgType>text</MsgType><CreateTime>x</CreateTime></xml>",
		"<xml><MsgType> text</MsgType></xml>", "<xml><!DOCTYPE x><MsgType>text</MsgType></xml>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := reply.Parse(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "reply: ") {
				t.Fatalf("error %q does not say where it comes from", err)
			}
			return
		}
		if p.Reply == nil {
			t.Fatalf("Parse(%q) gives no reply and no error", body)
		}
		// A body it takes is "success", or one <xml> element and nothing
		// else, as encoding/xml reads it.
		if _, ok := p.Reply.(*reply.Success); !ok {
			if _, err := readBack(body); err != nil && !strings.Contains(err.Error(), "directive") {
				t.Fatalf("Parse takes %q, which is not one XML element (%v)", body, err)
			}
			d := xml.NewDecoder(bytes.NewReader(body))
			for {
				tok, err := d.Token()
				if err != nil {
					t.Fatalf("Parse takes %q: %v", body, err)
				}
				if se, ok := tok.(xml.StartElement); ok {
					if se.Name.Local != "xml" {
						t.Fatalf("Parse takes %q, whose root is <%s>", body, se.Name.Local)
					}
					break
				}
			}
		}
		for _, s := range []string{p.ToUser, p.FromUser} {
			if legal(s) != s {
				t.Fatalf("Parse(%q) gives a user %q that XML cannot carry", body, s)
			}
		}
		out := reply.Render(nil, p.Reply, p.ToUser, p.FromUser, 1348831860)
		checkParseInverts(t, p.Reply, p.ToUser, p.FromUser, out)
	})
}
