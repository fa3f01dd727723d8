package message_test

import (
	"reflect"
	"testing"

	"github.com/luarobot/luarobot/host/message"
)

// TestGrammarAgainstEncodingXML checks corners of XML syntax one by one:
// the scanner must accept exactly what encoding/xml accepts (unless it
// refuses on purpose) and read the same text.
func TestGrammarAgainstEncodingXML(t *testing.T) {
	for _, doc := range []string{
		`<xml/>`, ` <xml/> `, "<xml>\r\n</xml>", `<xml></xml >`, `<xml></ xml>`, `<xml></xml x>`,
		`<xml/><!-- after -->`, `<xml/>x`, `<xml/></xml>`, `<xml/><xml/>`, `</xml>`, ``, ` `,
		`<xml a="1"/>`, `<xml a='1'/>`, `<xml a=1/>`, `<xml a/>`, `<xml a="<"/>`, `<xml a="&foo;"/>`,
		`<xml a="]]>"/>`, `<xml a="1"b="2"/>`, "<xml\n/>", `<xml a = "x&amp;&#65;" />`, `<xml a="x`,
		`<?xml version="1.0"?><xml/>`, `<?xml version="1.1"?><xml/>`, `<?xml version='1.0' encoding='UTF-8' ?><xml/>`,
		`<?xml encoding="utf-16"?><xml/>`, `<?xml version=1.0?><xml/>`, `<?xml versionx="2"?><xml/>`,
		`<?pi?><xml/>`, `<?pi<xml/>`, `<? pi?><xml/>`, `<?1pi?><xml/>`, `<?a:b:c?><xml/>`, `<xml><?pi x?></xml>`,
		`<xml><!----></xml>`, `<xml><!-- - --></xml>`, `<xml><!-- -- --></xml>`, `<xml><!---></xml>`, `<xml><!--></xml>`,
		`<xml><!- x --></xml>`, `<xml><!DOCTYPE x></xml>`, `<!DOCTYPE xml><xml/>`,
		`<xml><![CDATA[]]></xml>`, `<xml><![cdata[x]]></xml>`, `<xml><![CDATA[x]]]></xml>`, `<xml><![CDATA[x]></xml>`,
		`<xml><![CDATA[a]]>b<![CDATA[c]]></xml>`, "<xml><![CDATA[a\r\nb\rc]]></xml>",
		`<xml>&#x10FFFF;</xml>`, `<xml>&#x110000;</xml>`, `<xml>&#xFFFE;</xml>`, `<xml>&#9;&#xA;&#13;</xml>`,
		`<xml>&#x;</xml>`, `<xml>&#;</xml>`, `<xml>&#X41;</xml>`, `<xml>&#0x41;</xml>`, `<xml>&#00065;</xml>`,
		`<xml>&amp</xml>`, `<xml>&#65</xml>`, `<xml>&;</xml>`, `<xml>& </xml>`, `<xml>&lt;&gt;&amp;&apos;&quot;</xml>`,
		`<xml>]]></xml>`, `<xml>]]&gt;</xml>`, `<xml/>]]>`, `<xml>a>b</xml>`, `<xml>]]</xml>`,
		`<a:b xmlns:a="x"></a:b>`, `<a:b></b>`, `<a:b></a:c>`, `<:a></:a>`, `<a:></a:>`, `<a:b:c/>`,
		`<xml><a>1</a><b>2<c/>3</b></xml>`, `<xml><a>x<!--c-->y<?p?>z</a></xml>`, `<xml>&#32;<a/></xml>`,
		`&#32;<xml/>`, `<![CDATA[ ]]><xml/>`, `<![CDATA[x]]><xml/>`, `<xml><1a/></xml>`, `<xml><-a/></xml>`,
		`<xml><a.b-c_d/></xml>`, `<xml attr="a&#10;b"/>`, `<xml>text`, `<xml><a>`, `<xml><`, `<xml></`,
		`<xml><!`, `<xml><!-`, `<xml><![CDA`, `<xml a="1"`, `<xml a`, `<xml a=`, `<xml/`, `<xml>&`, `<xml>&#`,
	} {
		recs, serr, refused := message.ScanAll(doc)
		orecs, oerr := oracle(doc)
		switch {
		case serr == nil && oerr != nil:
			t.Errorf("%q: scanner accepts, encoding/xml says %v", doc, oerr)
		case serr != nil && oerr == nil && !refused:
			t.Errorf("%q: scanner says %v, encoding/xml accepts", doc, serr)
		case serr == nil && !reflect.DeepEqual(recs, orecs):
			t.Errorf("%q: scanner reads %#v\nencoding/xml reads %#v", doc, recs, orecs)
		}
	}
}
