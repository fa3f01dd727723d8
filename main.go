// Command luarobot is a WeChat Official Account bot host: it answers
// WeChat's callbacks and runs the bot's behaviour from Lua scripts that it
// reloads the moment they are saved.
//
// Usage:
//
//	luarobot [serve] [--config luarobot.toml] [--<key> value ...]
//	luarobot check [dir]
//	luarobot simulate [flags] "text" | --verify | -i
//	luarobot doctor
//	luarobot token
//	luarobot -h
//
// With no configuration at all, `luarobot` serves scripts/ on
// 127.0.0.1:8888 with a bbolt store and a generated token that it prints.
// Configuration keys are listed in the README.
package main

import (
	"os"

	"github.com/luarobot/luarobot/cmd"
)

func main() {
	os.Exit(cmd.Execute(os.Args[1:]))
}
