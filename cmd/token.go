package cmd

import (
	"flag"
	"fmt"

	"github.com/luarobot/luarobot/luaapi"
)

// tokenCommand is `luarobot token`: a new random token to paste into the
// WeChat admin console and the configuration.
func tokenCommand(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	length := fs.Int("length", 32, "token length (3-32, WeChat's limits)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *length < 3 || *length > 32 {
		return usageError{fmt.Sprintf("--length %d is outside WeChat's 3-32", *length)}
	}
	fmt.Println(luaapi.GenerateToken(*length))
	return nil
}
