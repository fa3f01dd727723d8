package cmd

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/luarobot/luarobot/luaapi"
)

// initTemplate is the project luarobot init writes: a bot, its tests, the
// editor's settings (pointing lua-language-server at luarobot.d.lua, the
// file `luarobot types` writes) and a configuration with a new token.
//
//go:embed all:inittemplate
var initTemplate embed.FS

const initRoot = "inittemplate"

// initCommand is `luarobot init [dir]`: it creates a project that serves
// and passes `luarobot test` as it is. It never overwrites a file: one
// that exists is kept, and the output says so; nor does it add a script
// to a scripts folder that has scripts.
func initCommand(args []string) error {
	return initRun(args, os.Stdout)
}

func initRun(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: luarobot init [dir]   (default: the current folder)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Sprintf("one folder expected, got %d arguments", fs.NArg())}
	}
	dir := "."
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	files, err := templateFiles()
	if err != nil {
		return err
	}
	token := luaapi.GenerateToken(32)
	// A scripts folder with scripts of its own gets none of the
	// template's: they would join the bot it serves (hot-reloaded into a
	// running one), and their tests would fail against its handlers.
	scriptsDir := filepath.Join(dir, initScripts)
	ownScripts, err := hasScripts(scriptsDir)
	if err != nil {
		return err
	}
	var left []string
	for _, name := range files {
		if ownScripts && strings.HasPrefix(name, initScripts+"/") {
			if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); errors.Is(err, iofs.ErrNotExist) {
				left = append(left, path.Base(name))
				continue
			}
		}
		data, err := initTemplate.ReadFile(path.Join(initRoot, name))
		if err != nil {
			return err
		}
		data = []byte(strings.ReplaceAll(string(data), "{{TOKEN}}", token))
		shown := filepath.Join(dir, filepath.FromSlash(name))
		// The configuration holds the token: for its owner only.
		perm := os.FileMode(0o644)
		if path.Ext(name) == ".toml" {
			perm = 0o600
		}
		created, err := createFile(shown, data, perm)
		switch {
		case err != nil:
			return err
		case created:
			fmt.Fprintf(stdout, "created %s\n", shown)
		default:
			fmt.Fprintf(stdout, "kept %s (it exists)\n", shown)
		}
	}
	if len(left) > 0 {
		fmt.Fprintf(stdout, "kept %s as it is: it has scripts of its own (%s not added)\n", scriptsDir, strings.Join(left, ", "))
	}
	fmt.Fprintln(stdout, "\n"+nextSteps(dir))
	return nil
}

// nextSteps is what to run after init. types and serve read and write the
// working folder (luarobot.d.lua beside .luarc.json, luarobot.toml and
// scripts/), so they are run from the project: for another folder, cd
// comes first.
func nextSteps(dir string) string {
	const steps = "luarobot test, luarobot types (editor definitions), luarobot serve."
	if filepath.Clean(dir) == "." {
		return "Next: " + steps
	}
	return "Next: cd " + dir + ", then " + steps
}

// initScripts is the template's scripts folder.
const initScripts = "scripts"

// hasScripts reports whether dir holds a script of a bot (a missing dir
// holds none).
func hasScripts(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, iofs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !e.IsDir() && luaapi.IsScriptName(e.Name()) {
			return true, nil
		}
	}
	return false, nil
}

// templateFiles lists the template's files, relative to its root, by name.
func templateFiles() ([]string, error) {
	var names []string
	err := iofs.WalkDir(initTemplate, initRoot, func(p string, d iofs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, initRoot+"/"))
		}
		return err
	})
	return names, err
}

// createFile writes a new file, making its folder; it reports false, and
// writes nothing, when the file exists.
func createFile(name string, data []byte, perm os.FileMode) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return false, err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, iofs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}
