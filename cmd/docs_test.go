package cmd

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/internal/mddoc"
)

// README's table of commands has a row for every command of `luarobot -h`
// and none other, and each row shows the flags of the command's synopsis.
func TestREADMEListsTheCommands(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // command → its row's first cell
	for _, table := range mddoc.Tables(string(data)) {
		if len(table.Header) < 2 || table.Header[0] != "command" {
			continue
		}
		for _, row := range table.Rows {
			for _, span := range mddoc.CodeSpans(row[0]) {
				words := strings.Fields(span)
				if len(words) > 1 && words[0] == "luarobot" {
					rows[words[1]] += strings.Join(row, " | ")
				}
			}
		}
	}
	if len(rows) == 0 {
		t.Fatal("README.md has no table whose first column is command")
	}
	known := map[string]bool{}
	for _, c := range commands() {
		known[c.name] = true
		row, ok := rows[c.name]
		if !ok {
			t.Errorf("README.md's commands table has no row for luarobot %s", c.name)
			continue
		}
		for _, flag := range flagPattern.FindAllString(c.args, -1) {
			if flag != "--KEY" && !strings.Contains(row, flag) {
				t.Errorf("README.md's row of luarobot %s does not show %s (the synopsis is %q)", c.name, flag, c.args)
			}
		}
	}
	for name := range rows {
		if !known[name] {
			t.Errorf("README.md's commands table has a row for luarobot %s, which is not a command", name)
		}
	}
}

var (
	flagPattern = regexp.MustCompile(`--?[a-zA-Z][a-zA-Z_-]*`)
	// An invocation the documents show: `luarobot simulate --type click`,
	// `go run . test scripts -v`, up to the end of the code span, a shell
	// comment or a table cell.
	invocation = regexp.MustCompile("(?:luarobot|go run \\.) (serve|check|init|test|simulate|doctor|token|types|help)((?: +[^ `#|)\\]]+)*)")
)

// Every flag the documents show with a command is one the command knows:
// a reader copying `luarobot test scripts -v` never meets "unknown flag".
func TestDocumentedFlagsExist(t *testing.T) {
	docs, err := mddoc.Documents("..")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, doc := range docs {
		name := doc.Name
		for i, line := range strings.Split(doc.Text, "\n") {
			for _, m := range invocation.FindAllStringSubmatch(line, -1) {
				for _, word := range strings.Fields(m[2]) {
					flag, _, _ := strings.Cut(strings.Trim(word, "[]'\""), "=")
					if !flagPattern.MatchString(flag) || flagPattern.FindString(flag) != flag ||
						flag == "-h" || flag == "--help" || flag == "--KEY" {
						continue
					}
					seen++
					// The flag, then one no command has: parsing stops at the
					// first unknown flag, so the error names the documented
					// flag when the command lacks it, and the command never
					// runs. "=true" suits boolean and string flags; an
					// integer one answers "invalid value", which is fine.
					out, code := runOut(m[1], flag+"=true", "--no-such-flag-here")
					unknown := "unknown flag --" + strings.TrimLeft(flag, "-")
					if code != 2 || strings.Contains(out, unknown+";") || strings.Contains(out, unknown+" (") {
						t.Errorf("%s:%d: luarobot %s %s: %s", name, i+1, m[1], flag, strings.TrimSpace(out))
					}
				}
			}
		}
	}
	if seen < 20 {
		t.Errorf("found %d documented flags, want the 20 or more the documents show", seen)
	}
}
