// Package cmd holds the luarobot commands: serve, check, simulate, token, types,
// and the author's and operator's tools. main calls Execute; each command
// lives in a file of its own and parses its own flags.
package cmd

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

// Execute runs the command named by args (serve when none is) and returns
// the process exit code.
func Execute(args []string) int {
	return run(args)
}

// run executes one command and returns the process exit code.
func run(args []string) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serveCommand(args)
	case "check":
		err = checkCommand(args)
	case "simulate":
		err = simulateCommand(args)
	case "token":
		err = tokenCommand(args)
	case "types":
		err = typesCommand(args)
	case "help":
		usage()
		return 0
	default:
		fmt.Fprintf(os.Stderr, "luarobot: unknown command %q\n\n", cmd)
		usage()
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var exit exitError
	if errors.As(err, &exit) {
		return int(exit)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "luarobot %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// exitError ends the process with a code after the command printed why.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func usage() {
	fmt.Fprint(os.Stderr, `LuaRoBot: a WeChat Official Account bot host scripted in Lua.

Usage:
  luarobot [serve] [--config FILE] [--KEY VALUE ...]   serve the bot (default)
  luarobot check [DIR]                                  load the scripts of DIR, list their handlers
  luarobot simulate [flags] "text"                      send a message to a running host as WeChat does
  luarobot token                                        print a new random token
  luarobot types [FILE]                                 write the editor definitions of the Lua API (luarobot.d.lua)

Run "luarobot serve -h" for the configuration keys, "luarobot simulate -h" for the simulator.
`)
}
