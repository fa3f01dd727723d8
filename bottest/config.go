package bottest

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
)

// ---- test.config ----

// testConfigBinding describes test.config for editors (the function itself
// is made per file: testFile.testGlobal).
var testConfigBinding = luadef.Binding[any]{Name: "config", Sig: "(settings: luarobot.TestConfig)",
	Doc: "Configures the bots of this file's tests, at the file's top level: session_ttl, reply_timeout, handler_timeout, load_timeout, max_reply_parts, store_error_reply, http_timeout, http_max_body, use_stable_token, pool_size, max_states, and settings = {...} (robot.settings). luarobot.toml is never read."}

// configFields are what test.config may set: the configuration keys that
// shape a bot's behaviour (the others belong to the harness — the account,
// the store, the fake API — or to the operator: listeners, logs), and
// settings.
var configFields = []luadef.Field{
	{Name: "session_ttl", Type: "string|number", Optional: true, Doc: "on the test's clock"},
	{Name: "reply_timeout", Type: "string|number", Optional: true, Doc: "real time: shorten it to test late replies"},
	{Name: "handler_timeout", Type: "string|number", Optional: true},
	{Name: "load_timeout", Type: "string|number", Optional: true},
	{Name: "max_reply_parts", Type: "integer", Optional: true},
	{Name: "store_error_reply", Type: "string", Optional: true},
	{Name: "http_timeout", Type: "string|number", Optional: true},
	{Name: "http_max_body", Type: "string|integer", Optional: true},
	{Name: "use_stable_token", Type: "boolean", Optional: true},
	{Name: "pool_size", Type: "integer", Optional: true},
	{Name: "max_states", Type: "integer", Optional: true},
	{Name: "settings", Type: "table<string, any>", Optional: true, Doc: "robot.settings"},
}

// configKeys are the configuration keys of configFields.
var configKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range configFields {
		if f.Name != "settings" {
			m[f.Name] = true
		}
	}
	return m
}()

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
