package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/internal/mddoc"
)

const repoRoot = "../"

// Every TOML snippet the documents show loads as a luarobot.toml: a reader
// who copies one gets a host that starts, not "unknown key" or a
// validation error.
func TestDocumentedTOMLLoads(t *testing.T) {
	docs, err := mddoc.Documents(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, doc := range docs {
		for _, b := range mddoc.Blocks(doc.Name, doc.Text) {
			if b.Lang != "toml" {
				continue
			}
			seen++
			file := filepath.Join(t.TempDir(), "luarobot.toml")
			if err := os.WriteFile(file, []byte(b.Text), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Loader{File: file, FileExplicit: true}.Load()
			if err != nil {
				t.Errorf("%s: the snippet does not load: %v\n%s", b.Where(), err, b.Text)
				continue
			}
			for _, w := range c.Warnings {
				t.Errorf("%s: the snippet loads with a warning: %s", b.Where(), w)
			}
		}
	}
	if seen < 7 {
		t.Errorf("found %d TOML snippets in %v, want at least the 7 of README.md and docs/lua.md", seen, docs)
	}
}

// README's key tables name every configuration key, and only keys that
// exist: `luarobot serve -h` and README agree on what can be set.
func TestREADMENamesEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, table := range mddoc.Tables(string(data)) {
		if len(table.Header) == 0 || table.Header[0] != "key" {
			continue
		}
		for _, row := range table.Rows {
			for _, name := range mddoc.CodeSpans(row[0]) {
				if name == "[settings]" {
					continue // a table of its own, not a key
				}
				documented[name] = true
			}
		}
	}
	if len(documented) < 40 {
		t.Fatalf("README.md's key tables name only %d keys: %v", len(documented), documented)
	}
	var missing, unknown []string
	for _, k := range keys {
		if !documented[k.name] {
			missing = append(missing, k.name)
		}
	}
	for name := range documented {
		if !IsKey(name) {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("README.md has no table row for the keys %v", missing)
	}
	if len(unknown) > 0 {
		t.Errorf("README.md's key tables name %v, which are not configuration keys", unknown)
	}
}

// docs/lua.md's robot.config table lists exactly what scripts get, with
// the Lua type each has, and both documents name exactly the secret keys
// left out of it.
func TestDocumentedRobotConfig(t *testing.T) {
	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(repoRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	defaults := Default()
	public := defaults.Public()
	luaType := func(v any) string {
		switch v.(type) {
		case string:
			return "string"
		case int64, float64:
			return "number"
		case bool:
			return "boolean"
		case []string:
			return "table"
		}
		return fmt.Sprintf("%T", v)
	}
	lua := read("docs/lua.md")
	listed := map[string]bool{}
	for _, table := range mddoc.Tables(lua) {
		if len(table.Header) != 2 || table.Header[0] != "key" || table.Header[1] != "Lua type" {
			continue
		}
		for _, row := range table.Rows {
			typ, _, _ := strings.Cut(row[1], " ")
			for _, name := range mddoc.CodeSpans(row[0]) {
				listed[name] = true
				v, ok := public[name]
				if !ok {
					t.Errorf("docs/lua.md's robot.config table lists %s, which robot.config does not have", name)
				} else if luaType(v) != typ {
					t.Errorf("docs/lua.md's robot.config table says %s is a %s; it is a %s", name, typ, luaType(v))
				}
			}
		}
	}
	for name := range public {
		if !listed[name] {
			t.Errorf("docs/lua.md's robot.config table lacks %s", name)
		}
	}

	var secrets []string
	for _, k := range keys {
		if k.secret {
			secrets = append(secrets, k.name)
		}
	}
	sort.Strings(secrets)
	for _, c := range []struct{ doc, paragraph string }{
		{"README.md", "Scripts see every key but"},
		{"docs/lua.md", "The host's configuration, read-only"},
	} {
		text := read(c.doc)
		i := strings.Index(text, c.paragraph)
		if i < 0 {
			t.Errorf("%s: no paragraph with %q", c.doc, c.paragraph)
			continue
		}
		paragraph, _, _ := strings.Cut(text[i:], "\n\n")
		var named []string
		for _, span := range mddoc.CodeSpans(strings.ReplaceAll(paragraph, "\n", " ")) {
			if IsKey(span) {
				named = append(named, span)
			}
		}
		sort.Strings(named)
		if !slices.Equal(named, secrets) {
			t.Errorf("%s names %v as the secrets left out of robot.config; they are %v", c.doc, named, secrets)
		}
	}
}
