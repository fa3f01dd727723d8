package mddoc

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestBlocks(t *testing.T) {
	doc := "intro\n\n```lua\nprint(1)\n```\n\n- item:\n\n  ```toml\n  a = 1\n  ```\n\n````md\n```lua\nnot a block\n```\n````\n"
	got := Blocks("d.md", doc)
	want := []Block{
		{File: "d.md", Line: 3, Lang: "lua", Text: "print(1)"},
		{File: "d.md", Line: 9, Lang: "toml", Text: "a = 1"},
		{File: "d.md", Line: 13, Lang: "md", Text: "```lua\nnot a block\n```"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Blocks:\n got %+v\nwant %+v", got, want)
	}
}

func TestSlugAndAnchors(t *testing.T) {
	for heading, want := range map[string]string{
		"Scripts calling web APIs: robot.http and [settings]": "scripts-calling-web-apis-robothttp-and-settings",
		"load_timeout: reloads are never stuck":               "load_timeout-reloads-are-never-stuck",
		"`luarobot doctor`":                                   "luarobot-doctor",
		"Memory: lua_memory_limit":                            "memory-lua_memory_limit",
		"Conversations: robot.dialog":                         "conversations-robotdialog",
		"会话 Sessions":                                         "会话-sessions",
	} {
		if got := Slug(strings.ReplaceAll(heading, "`", "")); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
	anchors := Anchors("# A\n\n```sh\n# not a heading\n```\n\n## A\n### B `c`\n")
	want := map[string]bool{"a": true, "a-1": true, "b-c": true}
	if !reflect.DeepEqual(anchors, want) {
		t.Errorf("Anchors = %v, want %v", anchors, want)
	}
}

func TestLinksSkipCode(t *testing.T) {
	doc := "see [a](docs/a.md#x) and `[b](not/a/link)`\n\n```md\n[c](nor/this)\n```\n![img](p.png)\n"
	got := Links(doc)
	want := []Link{{Line: 1, Target: "docs/a.md#x"}, {Line: 6, Target: "p.png"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Links = %+v, want %+v", got, want)
	}
	if Relative("https://example.com") || Relative("mailto:a@b") || !Relative("docs/lua.md") || !Relative("#x") {
		t.Error("Relative misjudges a scheme")
	}
}

// Every relative link and #anchor of the project's documents reaches a
// file or heading that exists: a reader following them never lands on
// GitHub's 404 or the top of a long page.
func TestRepositoryLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, err := Documents(root)
	if err != nil {
		t.Fatal(err)
	}
	anchorsOf := map[string]map[string]bool{}
	anchors := func(file string) map[string]bool {
		if a, ok := anchorsOf[file]; ok {
			return a
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		anchorsOf[file] = Anchors(string(data))
		return anchorsOf[file]
	}
	for _, doc := range docs {
		name := doc.Name
		t.Logf("%s: %d links", name, len(Links(doc.Text)))
		for _, l := range Links(doc.Text) {
			if !Relative(l.Target) {
				continue
			}
			path, anchor, _ := strings.Cut(l.Target, "#")
			target := doc.Path
			if path != "" {
				target = filepath.Join(filepath.Dir(doc.Path), filepath.FromSlash(path))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s:%d: link %s: %v", name, l.Line, l.Target, err)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s:%d: link %s: an anchor into a file that is not Markdown", name, l.Line, l.Target)
				continue
			}
			if !anchors(target)[anchor] {
				t.Errorf("%s:%d: link %s: no heading has the anchor #%s", name, l.Line, l.Target, anchor)
			}
		}
	}
}
