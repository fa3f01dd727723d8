package cmd

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/luarobot/luarobot/bottest"
	"github.com/luarobot/luarobot/host"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// defaultTypesFile is where `luarobot types` writes; the .luarc.json of
// `luarobot init` points lua-language-server at this name.
const defaultTypesFile = "luarobot.d.lua"

// typesIntro heads the definition file.
const typesIntro = `LuaRoBot's Lua API for lua-language-server (VS Code's Lua extension by
sumneko, Neovim's lua_ls, ...): completion, hover and type checks for robot.*,
the message of each type, robot.client and the test API of luarobot test.
Written by "luarobot types" from the bindings themselves. Do not edit: run
"luarobot types" again after upgrading luarobot. See docs/lua.md, "Editor support".`

// typesCommand is `luarobot types [file]`: it writes the definition file
// of the whole Lua API (default luarobot.d.lua; "-" for the standard
// output).
func typesCommand(args []string) error {
	fs := flag.NewFlagSet("types", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: luarobot types [file]   (default %s; - writes to the standard output)\n\n", defaultTypesFile)
		fmt.Fprintln(fs.Output(), "Writes the lua-language-server definitions of the Lua API, for editor completion and checks.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Sprintf("one file expected, got %d arguments", fs.NArg())}
	}
	file := defaultTypesFile
	if fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	var buf bytes.Buffer
	if err := writeTypes(&buf); err != nil {
		return err
	}
	if file == "-" {
		_, err := os.Stdout.Write(buf.Bytes())
		return err
	}
	if err := writeFileAtomic(file, buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	fmt.Fprintf(os.Stderr, "wrote %s\n", file)
	return nil
}

// writeTypes writes the definition file: the robot API of a runtime as
// serve makes it (robot.stats() returns the host's Stats), then the test
// API.
func writeTypes(buf *bytes.Buffer) error {
	sections, err := luaapi.Definitions(luaapi.Options{Stats: func() any { return host.Stats{} }})
	if err != nil {
		return err
	}
	test, err := bottest.Definitions()
	if err != nil {
		return err
	}
	return luadef.Write(buf, typesIntro, append(sections, test...))
}

// writeFileAtomic replaces file with data through a temporary file in the
// same folder, so an editor watching it never reads half a file.
func writeFileAtomic(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err // it names the temporary file; the caller names the file
	} else if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
