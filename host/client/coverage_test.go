package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/client"
)

// send_mass_msg's send_ignore_reprint takes a boolean, or 0/1 as
// WeRoBot's callers pass it.
func TestSendIgnoreReprintFlag(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		arg  any
		want float64
	}{{true, 1}, {int64(1), 1}, {1.0, 1}, {false, 0}, {int64(0), 0}, {nil, 0}} {
		if _, err := e.c.Invoke(ctx, "send_mass_msg", "text", "hi", nil, c.arg); err != nil {
			t.Fatalf("%v: %v", c.arg, err)
		}
		call, _ := e.wx.LastCall("/cgi-bin/message/mass/sendall")
		if got := call.Body["send_ignore_reprint"]; got != c.want {
			t.Errorf("send_ignore_reprint %#v sent %#v, want %v", c.arg, got, c.want)
		}
	}
	for _, bad := range []any{int64(2), "1", 0.5} {
		_, err := e.c.Invoke(ctx, "send_mass_msg", "text", "hi", nil, bad)
		var argErr *client.ArgError
		if !errors.As(err, &argErr) || !strings.Contains(err.Error(), "a boolean (or 0/1)") {
			t.Errorf("send_ignore_reprint %#v: %v", bad, err)
		}
	}
}

// The aliases call the same endpoint as WeRoBot's names.
func TestWeChatNameAliases(t *testing.T) {
	for alias, name := range map[string]string{"get_callback_ip": "get_ip_list", "get_current_selfmenu_info": "get_custom_menu_config"} {
		a, _ := client.LookupMethod(alias)
		m, _ := client.LookupMethod(name)
		if a.HTTPMethod != m.HTTPMethod || a.Path != m.Path || len(a.Params) != len(m.Params) {
			t.Errorf("%s is %s %s, %s is %s %s", alias, a.HTTPMethod, a.Path, name, m.HTTPMethod, m.Path)
		}
	}
}
