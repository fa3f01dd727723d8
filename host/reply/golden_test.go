package reply_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/reply"
)

var update = flag.Bool("update", false, "rewrite the expected output of the golden files")

// A golden file holds the reply as JSON, a line "----", then the XML
// Render must produce. New cases need no Go code.
const separator = "\n----\n"

type caseInput struct {
	Type         string `json:"type"`
	ToUser       string `json:"to_user"`
	FromUser     string `json:"from_user"`
	Time         int64  `json:"time"`
	Content      string `json:"content"`
	MediaID      string `json:"media_id"`
	Title        string `json:"title"`
	Description  string `json:"description"`
	URL          string `json:"url"`
	HQURL        string `json:"hq_url"`
	ThumbMediaID string `json:"thumb_media_id"`
	Account      string `json:"account"`
	Articles     []struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Img         string `json:"img"`
		URL         string `json:"url"`
	} `json:"articles"`
}

func (c *caseInput) reply(t *testing.T) reply.Reply {
	switch c.Type {
	case "text":
		return &reply.Text{Content: c.Content}
	case "image":
		return &reply.Image{MediaID: c.MediaID}
	case "voice":
		return &reply.Voice{MediaID: c.MediaID}
	case "video":
		return &reply.Video{MediaID: c.MediaID, Title: c.Title, Description: c.Description}
	case "music":
		return &reply.Music{Title: c.Title, Description: c.Description, URL: c.URL, HQURL: c.HQURL, ThumbMediaID: c.ThumbMediaID}
	case "news":
		r := &reply.Articles{}
		for _, a := range c.Articles {
			r.Articles = append(r.Articles, reply.Article{Title: a.Title, Description: a.Description, Img: a.Img, URL: a.URL})
		}
		return r
	case "transfer_customer_service":
		return &reply.TransferCustomerService{Account: c.Account}
	case "success":
		return &reply.Success{}
	case "nil":
		return nil
	}
	t.Fatalf("unknown reply type %q", c.Type)
	return nil
}

// TestRender renders every case in testdata/render and compares the XML
// with the expected output; all but the bare success bodies must be
// well-formed XML that reads back the case's strings.
func TestRender(t *testing.T) {
	files, err := filepath.Glob("testdata/render/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".golden")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(data), separator)
			if !ok {
				t.Fatalf("no %q line between input and output", strings.TrimSpace(separator))
			}
			var c caseInput
			dec := json.NewDecoder(strings.NewReader(input))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil {
				t.Fatal(err)
			}
			r := c.reply(t)
			if r != nil {
				kinds[r.Kind()] = true
			}
			got := reply.Render(nil, r, c.ToUser, c.FromUser, c.Time)
			if *update {
				out := input + separator + string(got) + "\n"
				if err := os.WriteFile(file, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if string(got)+"\n" != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
			if string(got) != "success" {
				if _, err := readBack(got); err != nil {
					t.Errorf("not well-formed: %v", err)
				}
			}
		})
	}
	for _, k := range []string{"text", "image", "voice", "video", "music", "news", "transfer_customer_service", "success"} {
		if !kinds[k] {
			t.Errorf("reply type %s has no golden case in testdata/render", k)
		}
	}
}

func TestRenderAppends(t *testing.T) {
	dst := []byte("prefix:")
	out := reply.Render(dst, &reply.Text{Content: "x"}, "u", "a", 1)
	if !bytes.HasPrefix(out, []byte("prefix:<xml>")) {
		t.Errorf("Render did not append to dst: %q", out)
	}
	var nilText *reply.Text
	if got := string(reply.Render(nil, nilText, "u", "a", 1)); got != "success" {
		t.Errorf("a nil *Text renders %q, want success", got)
	}
}

// TestRenderInvalidUTF8 covers bytes that JSON golden files cannot hold.
func TestRenderInvalidUTF8(t *testing.T) {
	out := reply.Render(nil, &reply.Text{Content: "a\xffb\xc3c\xed\xa0\x80d"}, "u\x80", "a", 1)
	leaves, err := readBack(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := leaves["xml/Content"]; got != "abcd" {
		t.Errorf("content = %q, want %q", got, "abcd")
	}
	if got := leaves["xml/ToUserName"]; got != "u" {
		t.Errorf("to = %q, want %q", got, "u")
	}
}

func TestValidate(t *testing.T) {
	nine := make([]reply.Article, 9)
	var nilMusic *reply.Music
	for _, c := range []struct {
		r    reply.Reply
		want string // "" for valid
	}{
		{&reply.Text{Content: "hi"}, ""},
		{&reply.Text{}, ""},
		{&reply.Image{MediaID: "m"}, ""},
		{&reply.Voice{MediaID: "m"}, ""},
		{&reply.Video{MediaID: "m"}, ""},
		{&reply.Music{URL: "u"}, ""},
		{&reply.Articles{Articles: nine[:1]}, ""},
		{&reply.Articles{Articles: nine[:8]}, ""},
		{&reply.TransferCustomerService{}, ""},
		{&reply.Success{}, ""},
		{nil, "reply: nil reply"},
		{nilMusic, "reply: nil music reply"},
		{&reply.Image{}, "reply: image reply: media_id is empty"},
		{&reply.Voice{}, "reply: voice reply: media_id is empty"},
		{&reply.Video{Title: "t"}, "reply: video reply: media_id is empty"},
		{&reply.Articles{}, "reply: articles reply: articles is empty; give 1 to 8"},
		{&reply.Articles{Articles: nine}, "reply: articles reply: 9 articles; WeChat shows at most 8"},
		{otherReply{}, "reply: reply_test.otherReply is not a reply type of this package"},
	} {
		err := reply.Validate(c.r)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("Validate(%#v) = %v, want nil", c.r, err)
		case c.want != "" && (err == nil || err.Error() != c.want):
			t.Errorf("Validate(%#v) = %v, want %q", c.r, err, c.want)
		}
	}
}

type otherReply struct{}

func (otherReply) Kind() string { return "other" }
