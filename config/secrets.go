package config

import (
	"fmt"
	"net/url"
	"slices"
)

// SecretValues returns every secret value of the configuration, for code
// that must keep them out of what it shows (the console and its log): the
// values of the secret keys (token, app_secret, encoding_aes_key,
// encoding_aes_key_previous, redis_url, admin_token, api_proxy,
// http_proxy), the passwords of the URLs among them, and every value of
// robot.settings (strings, and numbers as they are written). Empty values
// are left out.
func (c *Config) SecretValues() []string {
	var out []string
	for _, k := range keys {
		if !k.secret {
			continue
		}
		if p, ok := k.ptr(c).(*string); ok && *p != "" {
			out = append(out, *p)
			if u, err := url.Parse(*p); err == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok && pw != "" {
					out = append(out, pw)
				}
			}
		}
	}
	out = appendSettingValues(out, c.Settings, 0)
	slices.Sort(out)
	return slices.Compact(out)
}

// appendSettingValues adds the scalar values of a settings table, nested
// tables and lists included.
func appendSettingValues(out []string, v any, depth int) []string {
	if depth > 32 {
		return out
	}
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			out = appendSettingValues(out, e, depth+1)
		}
	case []any:
		for _, e := range v {
			out = appendSettingValues(out, e, depth+1)
		}
	case []map[string]any: // a TOML array of tables
		for _, e := range v {
			out = appendSettingValues(out, e, depth+1)
		}
	case string:
		if v != "" {
			out = append(out, v)
		}
	case int64, float64, int:
		out = append(out, fmt.Sprint(v))
	}
	return out
}
