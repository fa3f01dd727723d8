package console_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The page is in Chinese and English: every text key the page uses
// (data-i18n in index.html, t('...') in app.js, the media kinds of
// renderMedia) is in both dictionaries, and the two have the same keys —
// a key in one only would show English, or the key itself, to the other.
func TestTranslationsAreComplete(t *testing.T) {
	js, err := os.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	src := string(js)
	en, zh := strings.Index(src, "\n    en: {"), strings.Index(src, "\n    zh: {")
	end := strings.Index(src[zh:], "\n  };")
	if en < 0 || zh < en || end < 0 {
		t.Fatal("app.js: the I18N table (en: {...}, zh: {...}) is not where this test reads it")
	}
	keyRE := regexp.MustCompile(`'([A-Za-z][A-Za-z0-9.]*)':`)
	keys := func(block string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keyRE.FindAllStringSubmatch(block, -1) {
			m[k[1]] = true
		}
		return m
	}
	dict := map[string]map[string]bool{"en": keys(src[en:zh]), "zh": keys(src[zh : zh+end])}
	if len(dict["en"]) < 50 {
		t.Fatalf("only %d English keys read", len(dict["en"]))
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\bt\('([A-Za-z0-9.]+)'`).FindAllStringSubmatch(src, -1) {
		if !strings.HasSuffix(m[1], ".") { // t('try.' + kind + '.kind'): below
			used[m[1]] = true
		}
	}
	for _, m := range regexp.MustCompile(`data-i18n(?:-placeholder)?="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		used[m[1]] = true
	}
	for _, kind := range []string{"image", "voice", "video"} {
		used["try."+kind+".kind"] = true
	}
	for lang, d := range dict {
		var missing []string
		for k := range used {
			if !d[k] {
				missing = append(missing, k)
			}
		}
		other := map[string]string{"en": "zh", "zh": "en"}[lang]
		for k := range dict[other] {
			if !d[k] {
				missing = append(missing, k+" (in "+other+")")
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s lacks %q", lang, missing)
		}
	}
}
