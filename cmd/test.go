package cmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/luarobot/luarobot/bottest"
)

// testCommand runs the *_test.lua files of a scripts folder against bots
// built as serve builds them, with a fake WeChat API, fake HTTP and a fake
// clock (package bottest). It exits 1 when a test fails or a script does
// not load.
func testCommand(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return testRun(ctx, args, os.Stdout)
}

func testRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: luarobot test [dir] [--run REGEXP] [-v]   (default dir: scripts; flags may follow the folder)")
		fs.PrintDefaults()
	}
	run := fs.String("run", "", "run only the tests whose names match this regular expression")
	verbose := fs.Bool("v", false, "show every message and reply, and the bot's log, under each test")
	dirs, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) > 1 {
		return usageError{fmt.Sprintf("one folder expected, got %d: %v", len(dirs), dirs)}
	}
	dir := "scripts"
	if len(dirs) == 1 {
		dir = dirs[0]
	}
	res, err := bottest.Run(ctx, bottest.Options{Dir: dir, Run: *run, Verbose: *verbose, Out: stdout})
	if err != nil {
		return err
	}
	if res.Failed > 0 {
		return exitError(1)
	}
	return nil
}

// parseInterspersed parses flags that may stand before or after the
// positional arguments ("luarobot test scripts -v"), which the flag
// package alone stops at, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
