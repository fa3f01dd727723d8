package cmd

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/luarobot/luarobot/luaapi"
)

// checkCommand loads a scripts folder as the host would and lists what
// each file registers; every file that fails prints file:line: message and
// the command exits 1, so it fits a pre-deploy step or an editor hook.
// Warnings (a folder without scripts, a duplicate filter rule, a robot.re
// pattern whose backslashes Lua dropped) do not change the exit status.
func checkCommand(args []string) error {
	return checkRun(args, os.Stdout, os.Stderr)
}

func checkRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: luarobot check [dir]   (default dir: scripts)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError{fmt.Sprintf("one folder expected, got %d arguments", fs.NArg())}
	}
	dir := "scripts"
	if fs.NArg() == 1 {
		dir = fs.Arg(0)
	}
	rep, err := luaapi.Check(dir)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rep)
	for _, w := range rep.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	for _, e := range rep.Errors {
		fmt.Fprintln(stderr, e)
	}
	if !rep.OK() {
		fmt.Fprintln(stderr, rep.Summary())
		return exitError(1)
	}
	return nil
}
