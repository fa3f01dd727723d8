package bottest

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/luaapi"
)

// ---- test.config ----

var testConfigDef = Function{Name: "test.config", Params: []Param{{"settings", "table", false}},
	Doc: "configures the bots of this file's tests: session_ttl, reply_timeout, handler_timeout, max_reply_parts, store_error_reply, http_timeout, http_max_body, use_stable_token, and settings = {...} (robot.settings)"}

// configKeys are the configuration keys a test file may set. The others
// belong to the harness (the account, the store, the fake API) or to
// the operator (listeners, logs).
var configKeys = map[string]bool{
	"session_ttl": true, "reply_timeout": true, "handler_timeout": true, "load_timeout": true,
	"max_reply_parts": true, "store_error_reply": true, "http_timeout": true, "http_max_body": true,
	"use_stable_token": true, "pool_size": true, "max_states": true,
}

// applyConfig reads test.config's table into cfg.
func applyConfig(cfg *config.Config, t *lua.LTable) error {
	flags := map[string]string{}
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name := lua.LVAsString(k)
		switch {
		case name == "settings":
			st, ok := v.(*lua.LTable)
			if !ok {
				err = fmt.Errorf("settings is a table, got %s", show(v))
				return
			}
			g, gerr := luaapi.ToGo(st)
			m, ok := g.(map[string]any)
			if gerr != nil || !ok {
				err = fmt.Errorf("settings: a table of named values (%v)", gerr)
				return
			}
			cfg.Settings = m
		case configKeys[name]:
			switch v := v.(type) {
			case lua.LString, lua.LBool:
				flags[name] = v.String()
			case lua.LNumber:
				flags[name] = numberText(v)
			default:
				err = fmt.Errorf("%s: a string, number or boolean, got %s", name, show(v))
			}
		default:
			err = fmt.Errorf("%q cannot be set by a test (it may set settings and %s)", name, strings.Join(sortedConfigKeys(), ", "))
		}
	})
	if err != nil {
		return err
	}
	loaded, err := config.Loader{Flags: flags}.Load()
	if err != nil {
		return fmt.Errorf("%s", strings.Replace(err.Error(), "flag --", "", 1))
	}
	for name := range flags {
		switch name {
		case "session_ttl":
			cfg.SessionTTL = loaded.SessionTTL
		case "reply_timeout":
			cfg.ReplyTimeout = loaded.ReplyTimeout
		case "handler_timeout":
			cfg.HandlerTimeout = loaded.HandlerTimeout
		case "load_timeout":
			cfg.LoadTimeout = loaded.LoadTimeout
		case "max_reply_parts":
			cfg.MaxReplyParts = loaded.MaxReplyParts
		case "store_error_reply":
			cfg.StoreErrorReply = loaded.StoreErrorReply
		case "http_timeout":
			cfg.HTTPTimeout = loaded.HTTPTimeout
		case "http_max_body":
			cfg.HTTPMaxBody = loaded.HTTPMaxBody
		case "use_stable_token":
			cfg.UseStableToken = loaded.UseStableToken
		case "pool_size":
			cfg.PoolSize = loaded.PoolSize
		case "max_states":
			cfg.MaxStates = loaded.MaxStates
		}
	}
	return nil
}

func sortedConfigKeys() []string {
	keys := make([]string, 0, len(configKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
