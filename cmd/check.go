package cmd

import (
	"flag"
	"fmt"
	"os"

	"github.com/luarobot/luarobot/luaapi"
)

// checkCommand loads a scripts folder as the host would and lists what
// each file registers; a script that fails prints file:line: message and
// the command exits 1, so it fits a pre-deploy step or an editor hook.
func checkCommand(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: luarobot check [dir]   (default dir: scripts)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("one folder expected, got %d arguments", fs.NArg())
	}
	dir := "scripts"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	rep, err := luaapi.Check(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return exitError(1)
	}
	fmt.Print(rep)
	return nil
}
