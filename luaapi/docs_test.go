package luaapi_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/internal/mddoc"
	"github.com/luarobot/luarobot/luaapi"
)

// Every Lua snippet of the documents compiles and names only robot.*
// members that exist, as `luarobot check` judges a script: a reader who
// copies one gets no syntax error and no "robot.x does not exist". Each
// snippet is checked as the body of a function that is never called, so
// that fragments which use a handler's message, a test's t or a module's
// locals compile without running.
func TestDocumentedLuaCompiles(t *testing.T) {
	root := filepath.Join("..")
	docs, err := mddoc.Documents(root)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	where := map[string]mddoc.Block{}
	for _, doc := range docs {
		for _, b := range mddoc.Blocks(doc.Name, doc.Text) {
			if b.Lang != "lua" {
				continue
			}
			file := fmt.Sprintf("snippet%03d.lua", len(where)+1)
			where[file] = b
			// On the snippet's first line, so that line numbers agree.
			body := "local function snippet(...) " + b.Text + "\nend\n"
			if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(where) < 50 {
		t.Fatalf("found %d Lua snippets, want the 60 or so of README.md and docs/*.md", len(where))
	}
	rep, err := luaapi.Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	at := func(file string, line int) string {
		b := where[file]
		return fmt.Sprintf("%s:%d", b.File, b.Line+line)
	}
	for _, e := range rep.Errors {
		t.Errorf("%s: %s\n%s", at(e.File, e.Line), e.Message, where[e.File].Text)
	}
	for _, w := range rep.Warnings {
		if strings.HasPrefix(w.File, "snippet") {
			t.Errorf("%s: %s", at(w.File, w.Line), w.Msg)
		}
	}
}
