package config

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Loader{File: filepath.Join(t.TempDir(), "absent.toml")}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Load with nothing set = %+v, want the defaults", c)
	}
	if c.Addr() != "127.0.0.1:8888" || c.Path != "/" || c.Scripts != "scripts" || c.SessionStorage != "bolt" ||
		c.DB != "luarobot.db" || c.ReplyTimeout != 4*time.Second || c.HandlerTimeout != 30*time.Second ||
		c.TimestampTolerance != 300*time.Second || c.MaxBody != 1<<20 || c.MediaDir != "media" ||
		c.APIBase != "https://api.weixin.qq.com" || c.LogLevel != "info" || c.LogFormat != "text" {
		t.Errorf("defaults differ from the design's table: %+v", c)
	}
}

func TestFileEveryKey(t *testing.T) {
	c, err := Loader{File: "testdata/full.toml", FileExplicit: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Token: "tok", AppID: "wx1234567890", AppSecret: "secret",
		EncodingAESKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
		Host:           "0.0.0.0", Port: 9000, Path: "/wechat", Scripts: "bots",
		SessionStorage: "redis", DB: "luarobot.db", RedisURL: "redis://127.0.0.1:6379/2", SessionTTL: 720 * time.Hour,
		APIBase: "http://127.0.0.1:9999", UseStableToken: true, APITimeout: 10 * time.Second,
		ReplyTimeout: 3 * time.Second, HandlerTimeout: time.Minute, TimestampTolerance: 0,
		MaxBody: 512 << 10, MediaDir: "/srv/media", LogLevel: "debug", LogFormat: "json",
		MaxStates: 100, LuaMemoryLimit: 256 << 20, LoadTimeout: 2 * time.Second, MaxReplyParts: 3,
		AcceptPlaintext: false, StoreErrorReply: "系统繁忙，请稍后再试",
		HTTPAllow: []string{"api.example.com", "*.example.org", "10.0.0.0/8"}, HTTPTimeout: 3 * time.Second,
		HTTPMaxBody: 1 << 20, HTTPProxy: "http://proxy.internal:3128",
		AdminAddr: "127.0.0.1:9001", AdminToken: "admintoken123456", PublicURL: "https://bot.example.com/wechat", LogUserIDs: true,
		CallbackIPs: []string{"wechat", "203.0.113.0/24"}, TrustedProxies: []string{"127.0.0.1"},
		EncodingAESKeyPrevious: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
		Settings:               map[string]any{"api_key": "sk-test", "base_url": "https://llm.example.com/v1", "retries": int64(2)},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "luarobot.toml")
	if err := os.WriteFile(file, []byte("port = 1000\nhost = \"0.0.0.0\"\nlog_level = \"warn\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Loader{
		File:  file,
		Env:   []string{"LUAROBOT_PORT=2000", "LUAROBOT_LOG_LEVEL=error", "LUAROBOT_TEST_REDIS_URL=ignored", "PATH=/bin"},
		Flags: map[string]string{"port": "3000"},
	}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.Host != "0.0.0.0" || c.LogLevel != "error" {
		t.Errorf("precedence file < env < flags broken: port %d host %q log_level %q", c.Port, c.Host, c.LogLevel)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		flags map[string]string
		want  string
	}{
		{"short aes key", "", nil, map[string]string{"app_id": "wx1", "encoding_aes_key": strings.Repeat("a", 42)}, "encoding_aes_key: must be 43 characters, got 42"},
		{"aes key without app id", "", []string{"LUAROBOT_ENCODING_AES_KEY=" + strings.Repeat("a", 43)}, nil, "app_id: required with encoding_aes_key"},
		{"bad base64 aes key", "", nil, map[string]string{"app_id": "wx1", "encoding_aes_key": strings.Repeat("!", 43)}, "encoding_aes_key: not valid base64"},
		{"port too big", "port = 70000", nil, nil, "port: 70000 is out of range 1-65535"},
		{"port not a number env", "", []string{"LUAROBOT_PORT=eighty"}, nil, `environment LUAROBOT_PORT: port: "eighty" is not an integer`},
		{"port wrong toml type", `port = "80x"`, nil, nil, `port: "80x" is not an integer`},
		{"unknown key", `prot = 80`, nil, nil, `unknown key "prot"`},
		{"misspelt key", `appid = "x"`, nil, nil, `did you mean "app_id"?`},
		{"toml syntax", "port = = 1", nil, nil, "luarobot.toml:1:"},
		{"storage", `session_storage = "mongo"`, nil, nil, `session_storage: unknown value "mongo"`},
		{"redis without url", `session_storage = "redis"`, nil, nil, "redis_url: required"},
		{"reply timeout", `reply_timeout = "6s"`, nil, nil, "reply_timeout: 6s must be more than 0 and less than 5s"},
		{"handler shorter", `handler_timeout = "1s"`, nil, nil, "handler_timeout: 1s is shorter than reply_timeout"},
		// TOML numbers of seconds that would convert to a negative Duration.
		{"duration nan", `handler_timeout = nan`, nil, nil, "handler_timeout: NaN seconds is out of range"},
		{"duration huge float", `handler_timeout = 1e300`, nil, nil, "handler_timeout: 1e+300 seconds is out of range"},
		{"duration huge integer", `handler_timeout = 10000000000000`, nil, nil, "handler_timeout: 1e+13 seconds is out of range"},
		{"duration nan text", `handler_timeout = "NaN"`, nil, nil, `"NaN" is out of range`},
		{"duration", "", nil, map[string]string{"handler_timeout": "soon"}, `flag --handler_timeout: handler_timeout: "soon" is not a duration`},
		{"size", `max_body = "lots"`, nil, nil, `max_body: "lots" is not a size`},
		{"bool", "", []string{"LUAROBOT_USE_STABLE_TOKEN=maybe"}, nil, `use_stable_token: "maybe" is not true or false`},
		{"path", `path = "wechat"`, nil, nil, `path: "wechat" must start with /`},
		{"path wildcard", `path = "/{x"`, nil, nil, `path: "/{x" has '{' at byte 1`},
		{"path space", `path = "/a b"`, nil, nil, `path: "/a b" has ' ' at byte 2`},
		{"api base", `api_base = "ftp://x"`, nil, nil, `api_base: "ftp://x" is not an http(s) URL`},
		{"log level", `log_level = "loud"`, nil, nil, `log_level: unknown value "loud"`},
		{"unknown flag", "", nil, map[string]string{"nope": "1"}, "flag --nope: unknown configuration key"},
		{"misspelt flag", "", nil, map[string]string{"reply_timout": "1s"}, `flag --reply_timout: unknown configuration key (did you mean "reply_timeout"?)`},
		{"typo in file", `sesion_storage = "memory"`, nil, nil, `did you mean "session_storage"?`},
		{"token too short", `token = "ab"`, nil, nil, "token: must be 3 to 32 letters and digits"},
		{"token with punctuation", `token = "my-token"`, nil, nil, `token: must be letters and digits only, as WeChat's console requires (got '-' at byte 2)`},
		{"token with a Chinese character", `token = "密码abc"`, nil, nil, `token: must be letters and digits only, as WeChat's console requires (got '密' at byte 0)`},
		{"token too long", "", []string{"LUAROBOT_TOKEN=" + strings.Repeat("a", 33)}, nil, "token: must be 3 to 32"},
		{"admin token", `admin_token = "a b c"`, nil, nil, "admin_token: must be letters and digits only"},
		{"short admin token", `admin_token = "abc123"`, nil, nil, "admin_token: 6 characters: use 16 to 128 letters and digits"},
		{"previous key alone", "", nil, map[string]string{"encoding_aes_key_previous": strings.Repeat("a", 43)}, "encoding_aes_key_previous: set encoding_aes_key"},
		{"safe mode without key", `accept_plaintext = false`, nil, nil, "accept_plaintext: false needs encoding_aes_key"},
		{"http_allow pattern", `http_allow = ["api.*.com"]`, nil, nil, `http_allow: "api.*.com" is not a host pattern`},
		{"http_allow cidr", "", []string{"LUAROBOT_HTTP_ALLOW=example.com,10.0.0.0/33"}, nil, `http_allow: "10.0.0.0/33" is not a valid IP address or CIDR`},
		{"list of numbers", `http_allow = [1, 2]`, nil, nil, "http_allow: element 1: want a string"},
		{"callback wechat needs secret", `callback_ips = "wechat"`, nil, nil, `callback_ips: "wechat" needs app_id and app_secret`},
		{"callback cidr", `callback_ips = ["10.0.0.0/8", "nowhere"]`, nil, nil, `callback_ips: "nowhere" is neither`},
		{"trusted proxies", "", nil, map[string]string{"trusted_proxies": "localhost"}, `trusted_proxies: "localhost" is not an IP address or CIDR`},
		{"admin addr", `admin_addr = "8889"`, nil, nil, `admin_addr: "8889" is not host:port (or "off")`},
		{"public url", `public_url = "bot.example.com"`, nil, nil, `public_url: "bot.example.com" is not an http(s) URL`},
		{"settings not a table", `settings = "x"`, nil, nil, "settings: want a table"},
		{"pool over max states", "pool_size = 20\nmax_states = 10", nil, nil, "pool_size: 20 is more than max_states (10)"},
		{"memory limit", `lua_memory_limit = "1MiB"`, nil, nil, "lua_memory_limit: 1048576 bytes is below"},
		{"reply parts", "max_reply_parts = 0", nil, nil, "max_reply_parts: 0 is out of range 1-100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Loader{Env: tt.env, Flags: tt.flags}
			if tt.file != "" {
				l.File = filepath.Join(t.TempDir(), "luarobot.toml")
				if err := os.WriteFile(l.File, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := l.Load()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExplicitFileMustExist(t *testing.T) {
	_, err := Loader{File: "testdata/nope.toml", FileExplicit: true}.Load()
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Errorf("missing --config file: err = %v", err)
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	sizes := map[string]int64{"1MiB": 1 << 20, "512KiB": 512 << 10, "2MB": 2e6, "100": 100, "1m": 1 << 20, " 3 kb ": 3000}
	for in, want := range sizes {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	durations := map[string]time.Duration{"4s": 4 * time.Second, "300": 300 * time.Second, "0": 0, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute}
	for in, want := range durations {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-1s", "-3", "x"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded", bad)
		}
	}
}

func TestPublicLeavesSecretsOut(t *testing.T) {
	c, err := Loader{File: "testdata/full.toml", FileExplicit: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	pub := c.Public()
	for _, secret := range []string{"token", "app_secret", "encoding_aes_key", "redis_url", "api_proxy"} {
		if _, ok := pub[secret]; ok {
			t.Errorf("Public() exposes %s", secret)
		}
	}
	if pub["app_id"] != "wx1234567890" || pub["port"] != int64(9000) || pub["reply_timeout"] != 3.0 {
		t.Errorf("Public() = %v", pub)
	}
}

func TestRegisterFlags(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	set := RegisterFlags(fs)
	if err := fs.Parse([]string{"--port", "9999", "--use_stable_token=true"}); err != nil {
		t.Fatal(err)
	}
	got := set()
	if len(got) != 2 || got["port"] != "9999" || got["use_stable_token"] != "true" {
		t.Errorf("flags set = %v", got)
	}
}

func TestListsSettingsAndWarnings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "luarobot.toml")
	if err := os.WriteFile(file, []byte("http_allow = \"api.example.com\"\n[settings]\nApi_Key = \"from-file\"\nmodel = \"m1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Loader{
		File: file,
		Env: []string{
			"LUAROBOT_SETTINGS_API_KEY=from-env", "LUAROBOT_CALLBACK_IPS= 10.0.0.0/8 , 192.168.1.1",
			"LUAROBOT_REPLY_TIMOUT=1s", "LUAROBOT_TEST_REDIS_URL=x",
		},
		Flags: map[string]string{"trusted_proxies": ""},
	}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.HTTPAllow, []string{"api.example.com"}) {
		t.Errorf("http_allow from one TOML string = %q", c.HTTPAllow)
	}
	if !reflect.DeepEqual(c.CallbackIPs, []string{"10.0.0.0/8", "192.168.1.1"}) {
		t.Errorf("callback_ips from the environment = %q", c.CallbackIPs)
	}
	if len(c.TrustedProxies) != 0 {
		t.Errorf("an empty flag should give an empty list, got %q", c.TrustedProxies)
	}
	want := map[string]any{"api_key": "from-env", "model": "m1"}
	if !reflect.DeepEqual(c.Settings, want) {
		t.Errorf("settings = %v, want %v (names lower-cased, the environment over the file)", c.Settings, want)
	}
	if _, ok := c.Public()["settings"]; ok {
		t.Error("robot.config shows the settings")
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "LUAROBOT_REPLY_TIMOUT: not a configuration key, ignored (did you mean LUAROBOT_REPLY_TIMEOUT?)") {
		t.Errorf("warnings = %q", c.Warnings)
	}
}

func TestSuggest(t *testing.T) {
	for in, want := range map[string]string{
		"prot": "port", "apppid": "app_id", "AppSecret": "app_secret", "http-allow": "http_allow",
		"session_store": "session_storage", "zzz": "", "handler_timout": "handler_timeout",
	} {
		got := Suggest(in)
		if want == "" && got != "" || want != "" && got != fmt.Sprintf(" (did you mean %q?)", want) {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
