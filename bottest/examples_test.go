package bottest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/bottest"
)

// Every example folder, and the default scripts, have tests of what their
// comments promise, written in Lua; they all pass. (.ci/run runs them
// through the luarobot binary too.)
func TestExamples(t *testing.T) {
	dirs := []string{"../scripts"}
	entries, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join("..", "examples", e.Name())
		if e.Name() == "embed" {
			dir = filepath.Join(dir, "scripts") // a Go program; its bot is there
		}
		dirs = append(dirs, dir)
	}
	for _, dir := range dirs {
		t.Run(strings.TrimPrefix(dir, "../"), func(t *testing.T) {
			res, out := run(t, bottest.Options{Dir: dir, Verbose: true})
			if res.Failed != 0 || res.Passed == 0 {
				t.Fatalf("%s: %+v\n%s", dir, res, out)
			}
			if strings.Contains(out, "ERROR delivery") {
				t.Errorf("a handler failed:\n%s", out)
			}
		})
	}
}

// The LLM example logs why the model failed, never its key.
func TestExampleLLMChatLogs(t *testing.T) {
	_, out := run(t, bottest.Options{Dir: "../examples/llm_chat", Run: "failing", Verbose: true})
	if !strings.Contains(out, `detail="model overloaded" status=503`) || strings.Contains(out, "sk-test-secret") {
		t.Errorf("log:\n%s", out)
	}
}
