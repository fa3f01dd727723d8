// Package cmd holds the luarobot commands: serve, check, simulate, token, types,
// and the author's and operator's tools. main calls Execute; each command
// lives in a file of its own, parses its own flags, and is listed once in
// the commands table below, from which `luarobot -h` is made.
package cmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/luarobot/luarobot/config"
)

// command is one luarobot subcommand.
type command struct {
	name    string
	args    string // the synopsis after the name
	summary string
	run     func(args []string) error
}

// commands lists every subcommand, in the order `luarobot -h` shows them.
// (A function, not a variable: help is among the commands and lists them.)
func commands() []command {
	return []command{
		{"serve", "[--config FILE] [--KEY VALUE ...]", "serve the bot (the default command)", serveCommand},
		{"check", "[DIR]", "load the scripts of DIR, list their handlers and warnings", checkCommand},
		{"init", "[DIR]", "create a project: a bot, its tests, editor settings and luarobot.toml with a new token", initCommand},
		{"test", "[DIR] [--run REGEXP] [-v]", "run the *_test.lua files of DIR, each test on a fresh bot with fake WeChat, HTTP and clock", testCommand},
		{"simulate", `[flags] ["text"]`, "send a message to a running host as WeChat does (-i: a conversation)", simulateCommand},
		{"doctor", "[--config FILE] [--KEY VALUE ...]", "check the configuration, store, scripts, WeChat API and public URL", doctorCommand},
		{"token", "[--length N]", "print a new random token", tokenCommand},
		{"types", "[FILE]", "write the editor definitions of the Lua API (default " + defaultTypesFile + ")", typesCommand},
		{"help", "[COMMAND]", "show this help, or a command's flags", helpCommand},
	}
}

// Execute runs the command named by args (serve when none is) and returns
// the process exit code.
func Execute(args []string) int {
	return run(args, os.Stdout, os.Stderr)
}

// run executes one command and returns the process exit code. Help that was
// asked for goes to stdout (so that "luarobot help | less" works); errors go
// to stderr.
func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			usage(stdout)
			return 0
		case a != "" && a[0] != '-':
			name, args = a, args[1:]
		}
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		fmt.Fprintf(stderr, "luarobot: unknown command %q%s; run \"luarobot -h\" for the list\n", name, suggestCommand(name))
		return 2
	}
	err := cmd.run(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) {
		return int(exit)
	}
	var usageErr usageError
	if errors.As(err, &usageErr) {
		fmt.Fprintf(stderr, "luarobot %s: %v\n", name, err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "luarobot %s: %v\n", name, err)
		return 1
	}
	return 0
}

func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func suggestCommand(name string) string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	if c := config.Closest(name, names); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// exitError ends the process with a code after the command printed why.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a command line that does not parse: one line saying what
// is wrong, exit status 2, and no wall of flags.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// parseFlags parses a command's flags. -h prints the command's usage; any
// other problem is one short usageError ("unknown flag --prot (did you mean
// --port?)") instead of the flag package's message followed by every flag.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		if out == os.Stderr { // not redirected by the command: help asked for goes to stdout
			fs.SetOutput(os.Stdout)
			defer fs.SetOutput(out)
		}
		fs.Usage()
		return err
	}
	help := fmt.Sprintf("; run \"luarobot %s -h\" for the flags", fs.Name())
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		return usageError{fmt.Sprintf("unknown flag --%s%s%s", name, suggestFlag(fs, name), help)}
	}
	return usageError{strings.Replace(err.Error(), "flag -", "flag --", 1) + help}
}

// suggestFlag finds a defined flag close to a misspelt name.
func suggestFlag(fs *flag.FlagSet, name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if c := config.Closest(name, names); c != "" {
		return fmt.Sprintf(" (did you mean --%s?)", c)
	}
	return ""
}

// helpCommand is `luarobot help [COMMAND]`.
func helpCommand(args []string) error {
	if len(args) == 0 {
		usage(os.Stdout)
		return nil
	}
	cmd, ok := lookupCommand(args[0])
	if !ok || cmd.name == "help" {
		return usageError{fmt.Sprintf("no command %q%s", args[0], suggestCommand(args[0]))}
	}
	return cmd.run([]string{"-h"})
}

func usage(w io.Writer) {
	fmt.Fprint(w, "LuaRoBot: a WeChat Official Account bot host scripted in Lua.\n\nUsage:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  luarobot %s %s\t%s\n", c.name, c.args, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, `
"luarobot" alone is "luarobot serve". Run "luarobot COMMAND -h" for a command's
flags; "luarobot serve -h" lists every configuration key.
`)
}
