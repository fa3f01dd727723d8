// Package config is LuaRoBot's configuration: the keys of the design's
// table, their defaults, and how a TOML file, LUAROBOT_* environment
// variables and command-line flags override each other (in that order).
//
// Every key is declared once, in the keys table below; loading, the flag
// set, validation and the redacted view that Lua sees all derive from it.
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/luarobot/luarobot/internal/suggest"
)

// Config holds every setting of a LuaRoBot host.
type Config struct {
	Token          string
	AppID          string
	AppSecret      string
	EncodingAESKey string

	Host string
	Port int
	Path string

	Scripts        string
	PoolSize       int
	MaxStates      int
	LuaMemoryLimit int64
	LoadTimeout    time.Duration

	SessionStorage string
	DB             string
	RedisURL       string
	SessionTTL     time.Duration

	APIBase        string
	UseStableToken bool
	APITimeout     time.Duration
	APIProxy       string

	ReplyTimeout       time.Duration
	HandlerTimeout     time.Duration
	TimestampTolerance time.Duration
	MaxBody            int64
	MaxReplyParts      int
	AcceptPlaintext    bool
	StoreErrorReply    string

	MediaDir string

	HTTPAllow   []string
	HTTPTimeout time.Duration
	HTTPMaxBody int64
	HTTPProxy   string

	AdminAddr  string
	AdminToken string
	PublicURL  string
	LogUserIDs bool

	CallbackIPs            []string
	TrustedProxies         []string
	EncodingAESKeyPrevious string

	LogLevel  string
	LogFormat string

	// Settings are the scripts' own settings (robot.settings): the
	// [settings] table of the file and LUAROBOT_SETTINGS_<NAME> variables.
	// They are secrets: never logged, shown or put in robot.config.
	Settings map[string]any

	// Warnings are problems that do not stop start-up (an unknown
	// LUAROBOT_* variable), for the caller to log.
	Warnings []string
}

// Default returns the configuration a host runs with when nothing is set.
func Default() Config {
	return Config{
		Host:               "127.0.0.1",
		Port:               8888,
		Path:               "/",
		Scripts:            "scripts",
		SessionStorage:     "bolt",
		DB:                 "luarobot.db",
		APIBase:            "https://api.weixin.qq.com",
		APITimeout:         10 * time.Second,
		ReplyTimeout:       4 * time.Second,
		HandlerTimeout:     30 * time.Second,
		TimestampTolerance: 300 * time.Second,
		MaxBody:            1 << 20,
		MaxStates:          256,
		LuaMemoryLimit:     512 << 20,
		LoadTimeout:        5 * time.Second,
		MaxReplyParts:      5,
		AcceptPlaintext:    true,
		MediaDir:           "media",
		HTTPAllow:          []string{"*"},
		HTTPTimeout:        10 * time.Second,
		HTTPMaxBody:        4 << 20,
		AdminAddr:          "127.0.0.1:8889",
		LogLevel:           "info",
		LogFormat:          "text",
	}
}

type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindDuration
	kindSize
	kindList // a list of strings: a TOML array (or one string), comma-separated in the environment and flags
)

// key declares one configuration key.
type key struct {
	name   string
	kind   kind
	usage  string
	secret bool // left out of Public (robot.config) and redacted in logs
	ptr    func(c *Config) any
}

var keys = []key{
	{"token", kindString, "the token set in the WeChat admin console (generated and kept in the store when empty)", true, func(c *Config) any { return &c.Token }},
	{"app_id", kindString, "the Official Account's AppID", false, func(c *Config) any { return &c.AppID }},
	{"app_secret", kindString, "the AppSecret, for the Client API", true, func(c *Config) any { return &c.AppSecret }},
	{"encoding_aes_key", kindString, "the 43-character EncodingAESKey, for 兼容模式/安全模式", true, func(c *Config) any { return &c.EncodingAESKey }},
	{"host", kindString, "address to listen on", false, func(c *Config) any { return &c.Host }},
	{"port", kindInt, "port to listen on", false, func(c *Config) any { return &c.Port }},
	{"path", kindString, "URL path WeChat calls", false, func(c *Config) any { return &c.Path }},
	{"scripts", kindString, "the folder of bot scripts", false, func(c *Config) any { return &c.Scripts }},
	{"pool_size", kindInt, "Lua states running Lua at once (0 = 2 x CPUs, at least 4)", false, func(c *Config) any { return &c.PoolSize }},
	{"max_states", kindInt, "Lua states alive at once, those waiting on the network included", false, func(c *Config) any { return &c.MaxStates }},
	{"lua_memory_limit", kindSize, "memory all Lua work may hold before the offending calls are stopped", false, func(c *Config) any { return &c.LuaMemoryLimit }},
	{"load_timeout", kindDuration, "bound on the scripts' top level during a (re)load", false, func(c *Config) any { return &c.LoadTimeout }},
	{"session_storage", kindString, "bolt, redis, memory or off", false, func(c *Config) any { return &c.SessionStorage }},
	{"db", kindString, "the bbolt file", false, func(c *Config) any { return &c.DB }},
	{"redis_url", kindString, "redis://host:port/db when session_storage = redis", true, func(c *Config) any { return &c.RedisURL }},
	{"session_ttl", kindDuration, "expire sessions idle this long (0 = never)", false, func(c *Config) any { return &c.SessionTTL }},
	{"api_base", kindString, "the WeChat API root", false, func(c *Config) any { return &c.APIBase }},
	{"use_stable_token", kindBool, "fetch access tokens from /cgi-bin/stable_token", false, func(c *Config) any { return &c.UseStableToken }},
	{"api_timeout", kindDuration, "timeout of one WeChat API request", false, func(c *Config) any { return &c.APITimeout }},
	{"api_proxy", kindString, "HTTP proxy for WeChat API requests (fixed egress IP)", true, func(c *Config) any { return &c.APIProxy }},
	{"reply_timeout", kindDuration, "answer success and reply through the API after this", false, func(c *Config) any { return &c.ReplyTimeout }},
	{"handler_timeout", kindDuration, "cancel a Lua handler after this", false, func(c *Config) any { return &c.HandlerTimeout }},
	{"timestamp_tolerance", kindDuration, "refuse requests whose timestamp is further from now (0 disables)", false, func(c *Config) any { return &c.TimestampTolerance }},
	{"max_body", kindSize, "request body limit", false, func(c *Config) any { return &c.MaxBody }},
	{"max_reply_parts", kindInt, "parts of one long text, the passive answer included", false, func(c *Config) any { return &c.MaxReplyParts }},
	{"accept_plaintext", kindBool, "with encoding_aes_key: false refuses unencrypted messages (安全模式 only)", false, func(c *Config) any { return &c.AcceptPlaintext }},
	{"store_error_reply", kindString, "what a delivery gets when its session cannot be loaded or saved (empty: success)", false, func(c *Config) any { return &c.StoreErrorReply }},
	{"media_dir", kindString, "the only folder uploads read from and downloads write to", false, func(c *Config) any { return &c.MediaDir }},
	{"http_allow", kindList, "hosts robot.http may reach: names, *.wildcards, IPs, CIDRs", false, func(c *Config) any { return &c.HTTPAllow }},
	{"http_timeout", kindDuration, "default timeout of one robot.http request", false, func(c *Config) any { return &c.HTTPTimeout }},
	{"http_max_body", kindSize, "largest robot.http response body", false, func(c *Config) any { return &c.HTTPMaxBody }},
	{"http_proxy", kindString, "HTTP proxy for robot.http (default: the standard proxy variables)", true, func(c *Config) any { return &c.HTTPProxy }},
	{"admin_addr", kindString, "the admin listener (health, metrics, console); off disables", false, func(c *Config) any { return &c.AdminAddr }},
	{"admin_token", kindString, "bearer token of the admin listener (generated and kept in the store when empty)", true, func(c *Config) any { return &c.AdminToken }},
	{"public_url", kindString, "the URL WeChat calls, for luarobot doctor's handshake check", false, func(c *Config) any { return &c.PublicURL }},
	{"log_user_ids", kindBool, "log openids instead of their short hashes", false, func(c *Config) any { return &c.LogUserIDs }},
	{"callback_ips", kindList, `who may call the bot: "wechat", CIDRs, or both (empty: anyone)`, false, func(c *Config) any { return &c.CallbackIPs }},
	{"trusted_proxies", kindList, "CIDRs of proxies whose X-Forwarded-For / X-Real-IP are believed", false, func(c *Config) any { return &c.TrustedProxies }},
	{"encoding_aes_key_previous", kindString, "the EncodingAESKey before a rotation, still accepted", true, func(c *Config) any { return &c.EncodingAESKeyPrevious }},
	{"log_level", kindString, "debug, info, warn or error", false, func(c *Config) any { return &c.LogLevel }},
	{"log_format", kindString, "text or json", false, func(c *Config) any { return &c.LogFormat }},
}

// IsKey reports whether name is a configuration key.
func IsKey(name string) bool {
	_, ok := lookupKey(name)
	return ok
}

func lookupKey(name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// EnvPrefix prefixes the environment variable of each key: LUAROBOT_PORT.
const EnvPrefix = "LUAROBOT_"

// DefaultFile is read when --config is not given and the file exists.
const DefaultFile = "luarobot.toml"

// Loader gathers the three sources of configuration.
type Loader struct {
	// File is the TOML file; FileExplicit says the user named it (then it
	// must exist).
	File         string
	FileExplicit bool
	// Env is the environment, as os.Environ returns it.
	Env []string
	// Flags holds the values of --<key> flags the user set.
	Flags map[string]string
}

// Load builds the configuration: defaults, then the file, then the
// environment, then flags; then validates it. Errors name the key and the
// source that set it.
func (l Loader) Load() (Config, error) {
	c := Default()
	if err := l.applyFile(&c); err != nil {
		return c, err
	}
	for _, kv := range l.Env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		keyName := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		if setting, ok := strings.CutPrefix(keyName, "settings_"); ok && setting != "" {
			if c.Settings == nil {
				c.Settings = make(map[string]any)
			}
			c.Settings[setting] = value
			continue
		}
		k, known := lookupKey(keyName)
		if !known {
			// Environments carry variables for other tools: a warning,
			// never an error.
			c.Warnings = append(c.Warnings, fmt.Sprintf("environment %s: not a configuration key, ignored%s", name, suggestEnv(keyName)))
			continue
		}
		if err := setString(&c, k, value); err != nil {
			return c, fmt.Errorf("environment %s: %w", name, err)
		}
	}
	flagNames := make([]string, 0, len(l.Flags))
	for name := range l.Flags {
		flagNames = append(flagNames, name)
	}
	sort.Strings(flagNames)
	for _, name := range flagNames {
		k, known := lookupKey(name)
		if !known {
			return c, fmt.Errorf("flag --%s: unknown configuration key%s", name, Suggest(name))
		}
		if err := setString(&c, k, l.Flags[name]); err != nil {
			return c, fmt.Errorf("flag --%s: %w", name, err)
		}
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func (l Loader) applyFile(c *Config) error {
	if l.File == "" {
		return nil
	}
	data, err := os.ReadFile(l.File)
	if errors.Is(err, os.ErrNotExist) && !l.FileExplicit {
		return nil
	}
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%s:%d: %s", l.File, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("%s: %w", l.File, err)
	}
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "settings" {
			t, ok := raw[name].(map[string]any)
			if !ok {
				return fmt.Errorf("%s: settings: want a table ([settings]), got %T", l.File, raw[name])
			}
			if c.Settings == nil {
				c.Settings = make(map[string]any, len(t))
			}
			for k, v := range t {
				c.Settings[strings.ToLower(k)] = v
			}
			continue
		}
		k, known := lookupKey(name)
		if !known {
			return fmt.Errorf("%s: unknown key %q%s", l.File, name, Suggest(name))
		}
		if err := setTOML(c, k, raw[name]); err != nil {
			return fmt.Errorf("%s: %w", l.File, err)
		}
	}
	return nil
}

// Suggest returns ` (did you mean "key"?)` for the known key closest to a
// misspelt name, or "" when none is close: the message of every unknown
// key, whatever its source.
func Suggest(name string) string {
	if k := closestKey(name); k != "" {
		return fmt.Sprintf(" (did you mean %q?)", k)
	}
	return ""
}

func suggestEnv(name string) string {
	if k := closestKey(name); k != "" {
		return fmt.Sprintf(" (did you mean %s%s?)", EnvPrefix, strings.ToUpper(k))
	}
	return ""
}

// closestKey is the key nearest to name by edit distance, allowing about
// one typo in four letters; "" when none is that close.
func closestKey(name string) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	return Closest(name, names)
}

// Closest returns the candidate nearest to name, or "" when none is close
// (see suggest.Closest): the "did you mean" of commands' flags and names.
func Closest(name string, candidates []string) string {
	return suggest.Closest(name, candidates)
}

// setTOML stores a value decoded from TOML, accepting the natural TOML
// type of each kind and, for durations and sizes, numbers as seconds and
// bytes.
func setTOML(c *Config, k key, v any) error {
	switch v := v.(type) {
	case string:
		return setString(c, k, v)
	case int64:
		switch k.kind {
		case kindInt:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return fmt.Errorf("%s: %d is out of range", k.name, v)
			}
			*k.ptr(c).(*int) = int(v)
			return nil
		case kindDuration:
			return setSeconds(c, k, float64(v))
		case kindSize:
			return setSize(c, k, v)
		}
	case float64:
		if k.kind == kindDuration {
			return setSeconds(c, k, v)
		}
	case []any:
		if k.kind == kindList {
			list := make([]string, 0, len(v))
			for i, e := range v {
				str, ok := e.(string)
				if !ok {
					return fmt.Errorf("%s: element %d: want a string, got %T %v", k.name, i+1, e, e)
				}
				list = append(list, str)
			}
			*k.ptr(c).(*[]string) = list
			return nil
		}
	case bool:
		if k.kind == kindBool {
			*k.ptr(c).(*bool) = v
			return nil
		}
	}
	return fmt.Errorf("%s: want %s, got %T %v", k.name, kindName(k.kind), v, v)
}

func kindName(k kind) string {
	switch k {
	case kindInt:
		return "an integer"
	case kindBool:
		return "true or false"
	case kindDuration:
		return `a duration such as "4s" or a number of seconds`
	case kindSize:
		return `a size such as "1MiB" or a number of bytes`
	case kindList:
		return "a list of strings"
	}
	return "a string"
}

// setString stores a value given as text (environment, flags, TOML strings).
func setString(c *Config, k key, s string) error {
	switch k.kind {
	case kindString:
		*k.ptr(c).(*string) = s
	case kindList:
		*k.ptr(c).(*[]string) = splitList(s)
	case kindInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", k.name, s)
		}
		*k.ptr(c).(*int) = n
	case kindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%s: %q is not true or false", k.name, s)
		}
		*k.ptr(c).(*bool) = b
	case kindDuration:
		d, err := ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		*k.ptr(c).(*time.Duration) = d
	case kindSize:
		n, err := ParseSize(s)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		return setSize(c, k, n)
	}
	return nil
}

// splitList reads a comma-separated list; blanks around items are dropped,
// and an empty string is the empty list.
func splitList(s string) []string {
	list := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

func setSize(c *Config, k key, n int64) error {
	if n <= 0 {
		return fmt.Errorf("%s: must be positive, got %d", k.name, n)
	}
	*k.ptr(c).(*int64) = n
	return nil
}

// ParseDuration reads "4s", "1m30s", or a bare number of seconds ("300").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		d, ok := seconds(secs)
		if !ok {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (want e.g. \"4s\", \"500ms\" or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// seconds converts a number of seconds to a Duration; false when it is
// negative, NaN or beyond a Duration. Checked on the float that converts:
// NaN, and a product that rounds up to 2^63 ns, would convert to a
// negative Duration.
func seconds(secs float64) (time.Duration, bool) {
	ns := secs * float64(time.Second)
	if !(secs >= 0) || ns >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(ns), true
}

// setSeconds stores a TOML number as a duration in seconds.
func setSeconds(c *Config, k key, secs float64) error {
	d, ok := seconds(secs)
	if !ok {
		return fmt.Errorf("%s: %v seconds is out of range", k.name, secs)
	}
	*k.ptr(c).(*time.Duration) = d
	return nil
}

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// ParseSize reads "1MiB", "512KiB", "2MB", "1m" or a bare number of bytes.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			factor = u.factor
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || !(f >= 0) || f*float64(factor) > math.MaxInt64/2 { // !(f >= 0): NaN too
		return 0, fmt.Errorf("%q is not a size (want e.g. \"1MiB\", \"512KiB\" or a number of bytes)", s)
	}
	return int64(f * float64(factor)), nil
}

// Validate checks every value and names the key of the first bad one.
func (c *Config) Validate() error {
	if c.Token != "" {
		if err := CheckToken(c.Token); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	if c.EncodingAESKey != "" {
		if err := checkAESKey(c.EncodingAESKey); err != nil {
			return fmt.Errorf("encoding_aes_key: %w", err)
		}
		if c.AppID == "" {
			return errors.New("app_id: required with encoding_aes_key (the encrypted messages carry it)")
		}
	}
	if c.EncodingAESKeyPrevious != "" {
		if c.EncodingAESKey == "" {
			return errors.New("encoding_aes_key_previous: set encoding_aes_key (the new key) too")
		}
		if err := checkAESKey(c.EncodingAESKeyPrevious); err != nil {
			return fmt.Errorf("encoding_aes_key_previous: %w", err)
		}
	}
	if !c.AcceptPlaintext && c.EncodingAESKey == "" {
		return errors.New("accept_plaintext: false needs encoding_aes_key (安全模式); without it every message would be refused")
	}
	if c.AppSecret != "" && c.AppID == "" {
		return errors.New("app_id: required with app_secret")
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("port: %d is out of range 1-65535", c.Port)
	}
	if c.Host != "" && net.ParseIP(c.Host) == nil && strings.ContainsAny(c.Host, " /:") {
		return fmt.Errorf("host: %q is not a host name or IP address", c.Host)
	}
	if err := checkPath(c.Path); err != nil {
		return fmt.Errorf("path: %q %v", c.Path, err)
	}
	if c.Scripts == "" {
		return errors.New("scripts: must name a folder")
	}
	if c.PoolSize < 0 || c.PoolSize > 4096 {
		return fmt.Errorf("pool_size: %d is out of range 0-4096", c.PoolSize)
	}
	if c.MaxStates < 1 || c.MaxStates > 65536 {
		return fmt.Errorf("max_states: %d is out of range 1-65536", c.MaxStates)
	}
	if c.PoolSize > c.MaxStates {
		return fmt.Errorf("pool_size: %d is more than max_states (%d), which counts every Lua state", c.PoolSize, c.MaxStates)
	}
	if c.LuaMemoryLimit < 16<<20 {
		return fmt.Errorf("lua_memory_limit: %d bytes is below the 16MiB the scripts themselves need", c.LuaMemoryLimit)
	}
	if c.LoadTimeout <= 0 {
		return errors.New("load_timeout: must be positive")
	}
	if c.MaxReplyParts < 1 || c.MaxReplyParts > 100 {
		return fmt.Errorf("max_reply_parts: %d is out of range 1-100", c.MaxReplyParts)
	}
	switch c.SessionStorage {
	case "bolt":
		if c.DB == "" {
			return errors.New(`db: must name a file when session_storage = "bolt"`)
		}
	case "redis":
		if c.RedisURL == "" {
			return errors.New(`redis_url: required when session_storage = "redis"`)
		}
		if u, err := url.Parse(c.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") {
			return fmt.Errorf("redis_url: %q is not a redis:// URL", redact(c.RedisURL))
		}
	case "memory", "off":
	default:
		return fmt.Errorf("session_storage: unknown value %q (want bolt, redis, memory or off)", c.SessionStorage)
	}
	if u, err := url.Parse(c.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("api_base: %q is not an http(s) URL", c.APIBase)
	}
	if c.APIProxy != "" {
		if u, err := url.Parse(c.APIProxy); err != nil || u.Host == "" {
			return fmt.Errorf("api_proxy: %q is not a proxy URL", redact(c.APIProxy))
		}
	}
	if c.APITimeout <= 0 {
		return errors.New("api_timeout: must be positive")
	}
	if c.ReplyTimeout <= 0 || c.ReplyTimeout >= 5*time.Second {
		return fmt.Errorf("reply_timeout: %s must be more than 0 and less than 5s (WeChat drops answers after 5s)", c.ReplyTimeout)
	}
	if c.HandlerTimeout < c.ReplyTimeout {
		return fmt.Errorf("handler_timeout: %s is shorter than reply_timeout %s", c.HandlerTimeout, c.ReplyTimeout)
	}
	if c.MediaDir == "" {
		return errors.New("media_dir: must name a folder")
	}
	for _, p := range c.HTTPAllow {
		if err := checkHostPattern(p); err != nil {
			return fmt.Errorf("http_allow: %q %v", p, err)
		}
	}
	if c.HTTPTimeout <= 0 {
		return errors.New("http_timeout: must be positive")
	}
	if c.HTTPProxy != "" {
		if u, err := url.Parse(c.HTTPProxy); err != nil || u.Host == "" {
			return fmt.Errorf("http_proxy: %q is not a proxy URL", redact(c.HTTPProxy))
		}
	}
	if c.AdminAddr != "off" {
		if _, port, err := net.SplitHostPort(c.AdminAddr); err != nil || port == "" {
			return fmt.Errorf(`admin_addr: %q is not host:port (or "off")`, c.AdminAddr)
		}
	}
	if c.AdminToken != "" {
		if err := checkAdminToken(c.AdminToken); err != nil {
			return fmt.Errorf("admin_token: %w", err)
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("public_url: %q is not an http(s) URL", c.PublicURL)
		}
	}
	for _, p := range c.CallbackIPs {
		if p == "wechat" {
			if c.AppID == "" || c.AppSecret == "" {
				return errors.New(`callback_ips: "wechat" needs app_id and app_secret (the list comes from WeChat's API)`)
			}
			continue
		}
		if _, err := ParseCIDR(p); err != nil {
			return fmt.Errorf(`callback_ips: %q is neither "wechat" nor an IP address or CIDR`, p)
		}
	}
	for _, p := range c.TrustedProxies {
		if _, err := ParseCIDR(p); err != nil {
			return fmt.Errorf("trusted_proxies: %q is not an IP address or CIDR", p)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level: unknown value %q (want debug, info, warn or error)", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("log_format: unknown value %q (want text or json)", c.LogFormat)
	}
	return nil
}

// minAdminToken is the shortest admin_token accepted: it guards the
// console and the metrics from the network, where WeChat's 3-character
// minimum for the callback token would fall to a guess.
const minAdminToken = 16

func checkAdminToken(t string) error {
	for i := 0; i < len(t); i++ {
		if b := t[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
			return fmt.Errorf("must be letters and digits only (got %q at byte %d)", b, i)
		}
	}
	if len(t) < minAdminToken || len(t) > 128 {
		return fmt.Errorf("%d characters: use %d to 128 letters and digits (luarobot token prints one)", len(t), minAdminToken)
	}
	return nil
}

// CheckToken applies WeChat's rule for the token of the admin console: 3
// to 32 letters and digits.
func CheckToken(t string) error {
	// Characters first: after them the length in bytes is in characters.
	for i, r := range t {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return fmt.Errorf("must be letters and digits only, as WeChat's console requires (got %q at byte %d)", r, i)
		}
	}
	if len(t) < 3 || len(t) > 32 {
		return fmt.Errorf("must be 3 to 32 letters and digits, as WeChat's console requires (got %d characters)", len(t))
	}
	return nil
}

func checkAESKey(k string) error {
	if len(k) != 43 {
		return fmt.Errorf("must be 43 characters, got %d", len(k))
	}
	if _, err := base64.StdEncoding.DecodeString(k + "="); err != nil {
		return fmt.Errorf("not valid base64: %v", err)
	}
	return nil
}

// ParseCIDR reads a CIDR ("10.0.0.0/8") or a single address ("10.1.2.3",
// as a /32 or /128).
func ParseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkHostPattern accepts what http_allow holds: "*", a host name, a
// "*.example.com" wildcard, an IP address or a CIDR.
func checkHostPattern(p string) error {
	switch {
	case p == "*":
		return nil
	case strings.ContainsAny(p, "/:") || net.ParseIP(p) != nil:
		if _, err := ParseCIDR(p); err != nil {
			return errors.New("is not a valid IP address or CIDR")
		}
		return nil
	}
	name := strings.TrimPrefix(p, "*.")
	if name == "" || strings.ContainsAny(name, "* \t@") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return errors.New(`is not a host pattern (want "api.example.com", "*.example.com", an IP or a CIDR)`)
	}
	return nil
}

// checkPath accepts what http.ServeMux can mount the bot at: a plain path,
// no wildcards, spaces or query.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New("must start with /")
	}
	if i := strings.IndexFunc(p, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune("{}?#%\\", r)
	}); i >= 0 {
		return fmt.Errorf("has %q at byte %d: use a plain URL path such as /wechat", p[i], i)
	}
	return nil
}

// redact hides the password of a URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Addr is the listen address.
func (c *Config) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// Public returns the settings scripts may read (robot.config): every key
// but the secrets, durations in seconds.
func (c *Config) Public() map[string]any {
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		if k.secret {
			continue
		}
		switch p := k.ptr(c).(type) {
		case *string:
			out[k.name] = *p
		case *int:
			out[k.name] = int64(*p)
		case *bool:
			out[k.name] = *p
		case *time.Duration:
			out[k.name] = p.Seconds()
		case *int64:
			out[k.name] = *p
		case *[]string:
			out[k.name] = slices.Clone(*p)
		}
	}
	return out
}

// RegisterFlags adds a --<key> flag for every key to fs; after fs.Parse,
// the returned function gives the flags the user actually set, for
// Loader.Flags.
func RegisterFlags(fs *flag.FlagSet) func() map[string]string {
	values := make(map[string]*string, len(keys))
	for _, k := range keys {
		values[k.name] = fs.String(k.name, "", k.usage)
	}
	return func() map[string]string {
		set := make(map[string]string)
		fs.Visit(func(f *flag.Flag) {
			if v, ok := values[f.Name]; ok {
				set[f.Name] = *v
			}
		})
		return set
	}
}
