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
// that exists is kept, and the output says so.
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
	for _, name := range files {
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
	fmt.Fprintf(stdout, "\nNext: luarobot test %s, luarobot types (editor definitions), luarobot serve.\n",
		filepath.Join(dir, "scripts"))
	return nil
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
