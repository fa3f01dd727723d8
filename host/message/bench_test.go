package message_test

import (
	"encoding/xml"
	"os"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

func benchParse(b *testing.B, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := message.Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseText(b *testing.B)  { benchParse(b, "testdata/messages/text.xml") }
func BenchmarkParseClick(b *testing.B) { benchParse(b, "testdata/messages/click_event.xml") }
func BenchmarkParsePicEvent(b *testing.B) {
	benchParse(b, "testdata/messages/pic_sysphoto_event_three.xml")
}
func BenchmarkParseMassSendJobFinish(b *testing.B) {
	benchParse(b, "testdata/messages/masssendjobfinish_event.xml")
}
func BenchmarkParseLongChinese(b *testing.B) {
	benchParse(b, "testdata/messages/text_long_chinese.xml")
}

// BenchmarkUnmarshalText is the reflection-based baseline Parse replaces.
func BenchmarkUnmarshalText(b *testing.B) {
	raw, err := os.ReadFile("testdata/messages/text.xml")
	if err != nil {
		b.Fatal(err)
	}
	var v struct {
		ToUserName, FromUserName, MsgType, Content, MsgId string
		CreateTime                                        int64
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := xml.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalText(b *testing.B) {
	raw, err := os.ReadFile("testdata/messages/text.xml")
	if err != nil {
		b.Fatal(err)
	}
	m, err := message.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := message.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
