package wxcrypto_test

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/wxcrypto"
)

func TestParseEnvelope(t *testing.T) {
	const safe = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[hyzA+/e4=]]></Encrypt></xml>`
	ok := func(to, enc string) wxcrypto.Envelope { return wxcrypto.Envelope{ToUserName: to, Encrypt: enc} }
	tests := []struct {
		name string
		body string
		want wxcrypto.Envelope
	}{
		{"安全模式", safe, ok("gh_10f6c3c3ac5a", "hyzA+/e4=")},
		{"no ToUserName", `<xml><Encrypt><![CDATA[abc=]]></Encrypt></xml>`, ok("", "abc=")},
		{"Encrypt first", `<xml><Encrypt>abc=</Encrypt><ToUserName>gh</ToUserName></xml>`, ok("gh", "abc=")},
		{"plain text values", `<xml><ToUserName>gh_1</ToUserName><Encrypt>abc=</Encrypt></xml>`, ok("gh_1", "abc=")},
		{"XML declaration", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + safe, ok("gh_10f6c3c3ac5a", "hyzA+/e4=")},
		{"XML declaration, single quotes", "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>" + safe, ok("gh_10f6c3c3ac5a", "hyzA+/e4=")},
		{"XML declaration, version only", "<?xml version = \"1.0\"?>" + safe, ok("gh_10f6c3c3ac5a", "hyzA+/e4=")},
		{"byte order mark", "\uFEFF" + safe, ok("gh_10f6c3c3ac5a", "hyzA+/e4=")},
		{"pretty-printed, CRLF", "<xml>\r\n  <ToUserName>\r\n    <![CDATA[gh]]>\r\n  </ToUserName>\r\n  <Encrypt>\r\n    <![CDATA[abc=]]>\r\n  </Encrypt>\r\n</xml>\r\n", ok("gh", "abc=")},
		{"references", `<xml><Encrypt>a&#43;b&#x2F;c&#x3d;&amp;&lt;&gt;&apos;&quot;</Encrypt></xml>`, ok("", `a+b/c=&<>'"`)},
		{"mixed text and CDATA", `<xml><Encrypt>ab<![CDATA[cd]]>e&#102;<!-- x --><![CDATA[]]>g</Encrypt></xml>`, ok("", "abcdefg")},
		{"CDATA keeps markup", `<xml><Encrypt><![CDATA[<a>&amp;]]></Encrypt></xml>`, ok("", "<a>&amp;")},
		{"inner carriage return", "<xml><Encrypt>a\r\nb\rc&#13;d</Encrypt></xml>", ok("", "a\nb\nc\rd")},
		{"comments", `<!-- before --><xml><!----><Encrypt>a</Encrypt><!-- - --></xml><!-- after -->` + "\n", ok("", "a")},
		{"attributes", `<xml a="1" b='&amp;&#60;' c = "x"><Encrypt k="v">a</Encrypt></xml>`, ok("", "a")},
		{"兼容模式", `<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>` +
			`<CreateTime>1409735668</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[pic_weixin]]></Event>` +
			`<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum><![CDATA[1b5f7c23b5bf75682a53e7b6d163e185]]></PicMd5Sum></item></PicList></SendPicsInfo>` +
			`<Encrypt><![CDATA[abc=]]></Encrypt></xml>`, ok("gh_1", "abc=")},
		{"nested Encrypt is not the envelope's", `<xml><Foo><Encrypt>x</Encrypt><ToUserName>y</ToUserName></Foo><Encrypt>z</Encrypt></xml>`, ok("", "z")},
		{"empty elements", `<xml><Foo/><Bar a="b" /><Encrypt>z</Encrypt><ToUserName/></xml>`, ok("", "z")},
		{"text in the root is ignored", `<xml>hello<Encrypt>z</Encrypt>&amp;</xml>`, ok("", "z")},
		{"names with digits, dots, dashes", `<xml><a.b-c_1>x</a.b-c_1><Encrypt>z</Encrypt></xml>`, ok("", "z")},
		{"multi-byte text", `<xml><Content>你好</Content><Encrypt>z</Encrypt></xml>`, ok("", "z")},
		{"end tag with space", `<xml><Encrypt>z</Encrypt  ></xml >`, ok("", "z")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wxcrypto.ParseEnvelope([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseEnvelope: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseEnvelope = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	deep := "<xml>" + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + "<Encrypt>x</Encrypt></xml>"
	tests := []struct {
		name    string
		body    string
		want    error
		errText string
	}{
		{"empty", "", wxcrypto.ErrBadXML, "no root element"},
		{"white space", " \n", wxcrypto.ErrBadXML, "no root element"},
		{"not XML", "encrypt=abc", wxcrypto.ErrBadXML, "text before the root element"},
		{"JSON", `{"Encrypt":"abc"}`, wxcrypto.ErrBadXML, "text before the root"},
		{"unterminated start tag", "<xml", wxcrypto.ErrBadXML, "unterminated start tag <xml"},
		{"unclosed root", "<xml><Encrypt>abc</Encrypt>", wxcrypto.ErrBadXML, "end of input inside <xml>"},
		{"unclosed field", "<xml><Encrypt>abc", wxcrypto.ErrBadXML, "end of input inside <Encrypt>"},
		{"mismatched end tag", "<xml><Encrypt>abc</xml>", wxcrypto.ErrBadXML, "<Encrypt> closed by </xml>"},
		{"stray end tag", "</xml>", wxcrypto.ErrBadXML, "expected a name"},
		{"DOCTYPE", `<!DOCTYPE xml [<!ENTITY x "y">]><xml><Encrypt>&x;</Encrypt></xml>`, wxcrypto.ErrDTD, "<!DOCTYPE at byte 0"},
		{"DOCTYPE after the declaration", `<?xml version="1.0"?><!DOCTYPE xml SYSTEM "file:///etc/passwd"><xml/>`, wxcrypto.ErrDTD, "DOCTYPE"},
		{"ENTITY inside", `<xml><!ENTITY x "y"><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrDTD, "<!ENTITY"},
		{"ATTLIST", `<!ATTLIST xml a CDATA "b"><xml/>`, wxcrypto.ErrDTD, "<!ATTLIST"},
		{"other <!", `<xml><!FOO><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "unexpected <!"},
		{"CDATA outside the root", `<![CDATA[x]]><xml/>`, wxcrypto.ErrBadXML, "unexpected <!"},
		{"undeclared entity", `<xml><Encrypt>&x;</Encrypt></xml>`, wxcrypto.ErrBadXML, "unknown entity &x;"},
		{"bare ampersand", `<xml><Encrypt>a & b</Encrypt></xml>`, wxcrypto.ErrBadXML, "character reference"},
		{"reference to NUL", `<xml><Encrypt>&#0;</Encrypt></xml>`, wxcrypto.ErrBadXML, "not an XML character"},
		{"reference to a surrogate", `<xml><Encrypt>&#xD800;</Encrypt></xml>`, wxcrypto.ErrBadXML, "not an XML character"},
		{"reference out of range", `<xml><Encrypt>&#x110000;</Encrypt></xml>`, wxcrypto.ErrBadXML, "out of range"},
		{"empty reference", `<xml><Encrypt>&#;</Encrypt></xml>`, wxcrypto.ErrBadXML, "unknown entity"},
		{"upper-case X reference", `<xml><Encrypt>&#X41;</Encrypt></xml>`, wxcrypto.ErrBadXML, "bad character reference"},
		{"no Encrypt", `<xml><ToUserName>gh</ToUserName></xml>`, wxcrypto.ErrNoEncrypt, "no <Encrypt> element"},
		{"empty root", `<xml/>`, wxcrypto.ErrNoEncrypt, ""},
		{"empty Encrypt", `<xml><Encrypt/></xml>`, wxcrypto.ErrNoEncrypt, "<Encrypt> is empty"},
		{"blank Encrypt", "<xml><Encrypt> \n\t</Encrypt></xml>", wxcrypto.ErrNoEncrypt, "empty"},
		{"empty CDATA", `<xml><Encrypt><![CDATA[]]></Encrypt></xml>`, wxcrypto.ErrNoEncrypt, "empty"},
		{"two Encrypt", `<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>`, wxcrypto.ErrBadXML, "more than one <Encrypt>"},
		{"two ToUserName", `<xml><ToUserName>a</ToUserName><ToUserName/><Encrypt>b</Encrypt></xml>`, wxcrypto.ErrBadXML, "more than one <ToUserName>"},
		{"element inside Encrypt", `<xml><Encrypt>a<b/></Encrypt></xml>`, wxcrypto.ErrBadXML, "unexpected element inside <Encrypt>"},
		{"root not xml", `<Envelope><Encrypt>a</Encrypt></Envelope>`, wxcrypto.ErrBadXML, "root element is <Envelope>, want <xml>"},
		{"two roots", `<xml><Encrypt>a</Encrypt></xml><xml/>`, wxcrypto.ErrBadXML, "content after the root element"},
		{"text after the root", `<xml><Encrypt>a</Encrypt></xml>x`, wxcrypto.ErrBadXML, "content after the root"},
		{"processing instruction", `<?php echo 1; ?><xml/>`, wxcrypto.ErrBadXML, "processing instructions are not allowed"},
		{"processing instruction inside", `<xml><?pi x?><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "processing instructions"},
		{"declaration not first", " <?xml version=\"1.0\"?><xml/>", wxcrypto.ErrBadXML, "processing instructions"},
		{"XML 1.1", `<?xml version="1.1"?><xml/>`, wxcrypto.ErrBadXML, `XML version "1.1" is not supported`},
		{"GBK", `<?xml version="1.0" encoding="GBK"?><xml/>`, wxcrypto.ErrBadXML, `encoding "GBK" is not supported`},
		{"declaration without version", `<?xml encoding="UTF-8"?><xml/>`, wxcrypto.ErrBadXML, "without version"},
		{"unterminated declaration", `<?xml version="1.0"`, wxcrypto.ErrBadXML, "malformed XML declaration"},
		{"-- in a comment", `<xml><!-- a -- b --><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, `"--" inside a comment`},
		{"comment ending --->", `<xml><!-- a ---><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, `"--" inside a comment`},
		{"unterminated comment", `<xml><!-- a`, wxcrypto.ErrBadXML, "unterminated comment"},
		{"unterminated CDATA", `<xml><Encrypt><![CDATA[abc</Encrypt></xml>`, wxcrypto.ErrBadXML, "unterminated CDATA"},
		{"]]> in text", `<xml><Encrypt>a]]>b</Encrypt></xml>`, wxcrypto.ErrBadXML, "]]> in text"},
		{"namespace prefix", `<xml><wx:Encrypt>a</wx:Encrypt></xml>`, wxcrypto.ErrBadXML, `unexpected ':' in <wx`},
		{"space after <", `< xml/>`, wxcrypto.ErrBadXML, "expected a name"},
		{"unquoted attribute", `<xml a=1><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "attribute value is not quoted"},
		{"attribute without value", `<xml a><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "attribute without ="},
		{"< in an attribute", `<xml a="<"><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "unescaped < in an attribute value"},
		{"bad reference in an attribute", `<xml a="&b;"><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, "unknown entity &b;"},
		{"attributes without space", `<xml a="1"b="2"><Encrypt>a</Encrypt></xml>`, wxcrypto.ErrBadXML, `unexpected 'b' in <xml`},
		{"unterminated attribute", `<xml a="1`, wxcrypto.ErrBadXML, "unterminated attribute value"},
		{"slash without >", `<xml/ >`, wxcrypto.ErrBadXML, "expected />"},
		{"too deep", deep, wxcrypto.ErrBadXML, "nested deeper than 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := wxcrypto.ParseEnvelope([]byte(tt.body))
			if err == nil {
				t.Fatalf("ParseEnvelope succeeded: %+v", got)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v does not wrap %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not say %q", err, tt.errText)
			}
			if got != (wxcrypto.Envelope{}) {
				t.Errorf("returned %+v with the error", got)
			}
		})
	}
}

func TestAppendEnvelope(t *testing.T) {
	got := string(wxcrypto.AppendEnvelope([]byte("prefix:"), "abc+/=", "5d197aaffba7e9b25a30732f161a50dee96bd5fa", "1409735669", "1320562132"))
	want := "prefix:<xml><Encrypt><![CDATA[abc+/=]]></Encrypt>" +
		"<MsgSignature><![CDATA[5d197aaffba7e9b25a30732f161a50dee96bd5fa]]></MsgSignature>" +
		"<TimeStamp>1409735669</TimeStamp><Nonce><![CDATA[1320562132]]></Nonce></xml>"
	if got != want {
		t.Errorf("AppendEnvelope:\n got %s\nwant %s", got, want)
	}

	// Hostile values stay inside their elements and read back unchanged.
	type reply struct {
		Encrypt, MsgSignature, TimeStamp, Nonce string
	}
	in := reply{"a]]>b]]]>c]]>", "sig", "1<2&3>\r\n4]]>", "]]><Injected>x</Injected><![CDATA["}
	out := wxcrypto.AppendEnvelope(nil, in.Encrypt, in.MsgSignature, in.TimeStamp, in.Nonce)
	var back reply
	if err := xml.Unmarshal(out, &back); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if back != in {
		t.Errorf("read back %+v, want %+v\n%s", back, in, out)
	}
	env, err := wxcrypto.ParseEnvelope(out)
	if err != nil || env.Encrypt != in.Encrypt {
		t.Errorf("ParseEnvelope(AppendEnvelope) = %+v, %v", env, err)
	}
}

// TestParseEnvelopeDropsIllegalCharacters: in 兼容模式 the body carries the
// user's plaintext beside <Encrypt>, and WeChat passes control characters
// and stray bytes of user text through; they must not fail the request.
func TestParseEnvelopeDropsIllegalCharacters(t *testing.T) {
	for name, body := range map[string]string{
		"invalid UTF-8":   "<xml><Content>\xff</Content><Encrypt>abc=</Encrypt></xml>",
		"NUL byte":        "<xml><Encrypt>abc\x00=</Encrypt></xml>",
		"bell in content": "<xml><ToUserName>gh</ToUserName><Content><![CDATA[bell\a]]></Content><Encrypt>abc=</Encrypt></xml>",
		"vertical tab":    "<xml>\v<Encrypt>abc=</Encrypt></xml>",
		"U+FFFE":          "<xml><Content>\uFFFE</Content><Encrypt>abc=</Encrypt></xml>",
	} {
		env, err := wxcrypto.ParseEnvelope([]byte(body))
		if err != nil || env.Encrypt != "abc=" {
			t.Errorf("%s: ParseEnvelope = %+v, %v; want Encrypt abc=", name, env, err)
		}
	}
}
