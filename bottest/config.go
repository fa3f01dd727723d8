package bottest

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/luarobot/luarobot/config"
	"github.com/luarobot/luarobot/luaapi"
	"github.com/luarobot/luarobot/luaapi/luadef"
	"github.com/luarobot/luarobot/store"
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

// fileConfig is what a test file's test.config calls set.
type fileConfig struct {
	keys     map[string]string // configuration key → value, as a flag would give it
	settings map[string]any
}

// set reads a test.config table into c.
func (c *fileConfig) set(t *lua.LTable) error {
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
			c.settings = m
		case configKeys[name]:
			if c.keys == nil {
				c.keys = map[string]string{}
			}
			switch v := v.(type) {
			case lua.LString, lua.LBool:
				c.keys[name] = v.String()
			case lua.LNumber:
				c.keys[name] = numberText(v)
			default:
				err = fmt.Errorf("%s: a string, number or boolean, got %s", name, show(v))
			}
		default:
			err = fmt.Errorf("%q cannot be set by a test (it may set settings and %s)", name, strings.Join(sortedConfigKeys(), ", "))
		}
	})
	return err
}

// botConfig is the configuration of the file's test bots: the defaults
// and the keys test.config set (read and checked as flags are), then what
// the harness owns — the fake account, the scripts folder, a memory store,
// no admin listener. Nothing of luarobot.toml or LUAROBOT_* is read.
func (c *fileConfig) botConfig(dir string) (config.Config, error) {
	cfg, err := config.Loader{Flags: c.keys}.Load()
	if err != nil {
		// "flag --reply_timeout: reply_timeout: ..." names the key twice.
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "flag --") {
			msg = rest
		}
		return cfg, errors.New(msg)
	}
	cfg.Settings = c.settings
	cfg.Token = testToken
	cfg.AppID, cfg.AppSecret = testAppID, testAppSecret
	cfg.Scripts = dir
	cfg.SessionStorage = store.KindMemory
	cfg.AdminAddr = "off"
	return cfg, nil
}

func sortedConfigKeys() []string {
	keys := make([]string, 0, len(configKeys))
	for k := range configKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
