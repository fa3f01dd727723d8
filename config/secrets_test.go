package config

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSecretValues(t *testing.T) {
	file := filepath.Join(t.TempDir(), "luarobot.toml")
	os.WriteFile(file, []byte(`
token = "tok3n"
app_id = "wx0123456789"
app_secret = "app-s3cret"
admin_token = "adm1nadm1nadm1nadm1n"
redis_url = "redis://user:redisPass@127.0.0.1:6379/0"
session_storage = "redis"
http_proxy = "http://proxyuser:proxyPass@proxy:3128"

[settings]
api_key = "sk-123456"
pin = 123456
nested = { inner = "deep-value" }
list = ["one-item"]
[[settings.hosts]]
url = "https://h.example.com"
`), 0o644)
	c, err := Loader{File: file, FileExplicit: true}.Load()
	if err != nil {
		t.Fatal(err)
	}
	got := c.SecretValues()
	for _, want := range []string{"tok3n", "app-s3cret", "adm1nadm1nadm1nadm1n", "redis://user:redisPass@127.0.0.1:6379/0", "redisPass",
		"http://proxyuser:proxyPass@proxy:3128", "proxyPass", "sk-123456", "123456", "deep-value", "one-item", "https://h.example.com"} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretValues lacks %q: %q", want, got)
		}
	}
	for _, public := range []string{"wx0123456789", "redis", ""} {
		if slices.Contains(got, public) {
			t.Errorf("SecretValues has %q, which is no secret", public)
		}
	}
}
