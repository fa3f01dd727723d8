package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Loader{File: filepath.Join(t.TempDir(), "absent.toml")}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
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
	}
	if c != want {
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
		{"reply timeout", `reply_timeout = "6s"`, nil, nil, "reply_timeout: 6s must be between 0 and 5s"},
		{"handler shorter", `handler_timeout = "1s"`, nil, nil, "handler_timeout: 1s is shorter than reply_timeout"},
		{"duration", "", nil, map[string]string{"handler_timeout": "soon"}, `flag --handler_timeout: handler_timeout: "soon" is not a duration`},
		{"size", `max_body = "lots"`, nil, nil, `max_body: "lots" is not a size`},
		{"bool", "", []string{"LUAROBOT_USE_STABLE_TOKEN=maybe"}, nil, `use_stable_token: "maybe" is not true or false`},
		{"path", `path = "wechat"`, nil, nil, `path: "wechat" must start with /`},
		{"path wildcard", `path = "/{x"`, nil, nil, `path: "/{x" has '{' at byte 1`},
		{"path space", `path = "/a b"`, nil, nil, `path: "/a b" has ' ' at byte 2`},
		{"api base", `api_base = "ftp://x"`, nil, nil, `api_base: "ftp://x" is not an http(s) URL`},
		{"log level", `log_level = "loud"`, nil, nil, `log_level: unknown value "loud"`},
		{"unknown flag", "", nil, map[string]string{"nope": "1"}, "flag --nope: unknown configuration key"},
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
