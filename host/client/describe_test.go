package client_test

import (
	"testing"

	"github.com/luarobot/luarobot/host/client"
)

// Every parameter has a documented type, and the words of its errors.
func TestParamTypes(t *testing.T) {
	known := map[client.ParamType]bool{client.TypeString: true, client.TypeInteger: true, client.TypeTable: true,
		client.TypeList: true, client.TypeJSON: true, client.TypeBoolean: true, client.TypeFlag: true,
		client.TypePath: true, client.TypeAny: true}
	seen := map[client.ParamType]bool{}
	for _, m := range client.Methods() {
		for _, p := range m.Params {
			if !known[p.Type()] || p.Accepts() == "" {
				t.Errorf("%s(%s): type %q, accepts %q", m.Name, p.Name, p.Type(), p.Accepts())
			}
			seen[p.Type()] = true
		}
	}
	for k := range known {
		if !seen[k] {
			t.Errorf("no parameter of type %s: is it still used?", k)
		}
	}
	m, _ := client.LookupMethod("get_user_info")
	if m.Params[0].Type() != client.TypeString || m.Params[0].Accepts() != "a string" {
		t.Errorf("get_user_info(user_id): %s, %s", m.Params[0].Type(), m.Params[0].Accepts())
	}
}
