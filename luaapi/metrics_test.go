package luaapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/host/delivery"
	"github.com/luarobot/luarobot/metrics"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// The runtime counts handler errors by the script that raised them and
// loads of the folder by result, and tells the host which handler
// answered.
func TestRuntimeMetrics(t *testing.T) {
	m := metrics.New()
	dir := writeScripts(t, map[string]string{
		"a.lua": `
local util = require "util"
robot.filter("boom", function() local t = nil; return t.x end)
robot.filter("deep", function() return util.explode() end)`,
		"b.lua": `robot.text(function(m)
  return "ok"
end)`,
		"lib/util.lua": `return { explode = function() error("exploded") end }`,
	})
	rt, _ := startRuntime(t, nil, Options{Dir: dir, Metrics: m})

	ctx, info := delivery.NewContext(context.Background())
	if _, _, err := rt.Dispatch(ctx, textMsg("hi"), nil); err != nil {
		t.Fatal(err)
	}
	if info.Handler() != "b.lua:1" {
		t.Errorf("handler = %q, want b.lua:1 (where the answering function is defined)", info.Handler())
	}
	for _, text := range []string{"boom", "boom", "deep"} {
		if _, _, err := rt.Dispatch(context.Background(), textMsg(text), nil); err == nil {
			t.Fatalf("%s: no error", text)
		}
	}
	s := metricstest.Gather(t, m.Gatherer())
	if s.Value("luarobot_handler_errors_total", "script", "a.lua") != 2 || s.Value("luarobot_handler_errors_total", "script", "lib/util.lua") != 1 {
		t.Errorf("handler errors: %v", s.Series("luarobot_handler_errors_total"))
	}

	if err := os.WriteFile(filepath.Join(dir, "c.lua"), []byte("robot.text(function( end)"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err == nil {
		t.Fatal("a broken script reloaded")
	}
	if err := os.Remove(filepath.Join(dir, "c.lua")); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	s = metricstest.Gather(t, m.Gatherer())
	if s.Value("luarobot_reloads_total", "result", "ok") != 2 || s.Value("luarobot_reloads_total", "result", "error") != 1 {
		t.Errorf("reloads: ok %v, error %v", s.Value("luarobot_reloads_total", "result", "ok"), s.Value("luarobot_reloads_total", "result", "error"))
	}
}

// The script label is a file of the scripts folder, whatever an error's
// text says: a handler that re-raises a user's text (error(m.content, 0))
// must not let users name series ("evil.lua:1: x") until the label's cap
// is used up and the bot's own scripts count as "other".
func TestHandlerErrorScriptIsAFileOfTheFolder(t *testing.T) {
	m := metrics.New()
	dir := writeScripts(t, map[string]string{
		"a.lua": `robot.text(function(m) error(m.content, 0) end)`,
	})
	rt, _ := startRuntime(t, nil, Options{Dir: dir, Metrics: m})
	for _, text := range []string{"evil1.lua:1: x", "evil2.lua:7: y", "no position"} {
		if _, _, err := rt.Dispatch(context.Background(), textMsg(text), nil); err == nil {
			t.Fatalf("%s: no error", text)
		}
	}
	s := metricstest.Gather(t, m.Gatherer())
	series := s.Series("luarobot_handler_errors_total")
	if s.Value("luarobot_handler_errors_total", "script", "a.lua") != 3 || len(series) != 1 {
		t.Errorf("handler errors: %v, want a.lua 3", series)
	}
}

// The runtime's own log lines about a user (a corrupt session) name the
// user as the host's delivery line does: by the short hash, unless
// LogUserIDs (log_user_ids) asks for the openid.
func TestCorruptSessionLogNamesUserByHash(t *testing.T) {
	for _, ids := range []bool{false, true} {
		rt, logs := startRuntime(t, map[string]string{"a.lua": `robot.text(function(m) return "hi" end)`}, Options{LogUserIDs: ids})
		msg := textMsg("x")
		if _, _, err := rt.Dispatch(context.Background(), msg, []byte(`{"count":`)); err != nil {
			t.Fatal(err)
		}
		l := logs.String()
		if !strings.Contains(l, "session is corrupt") {
			t.Fatalf("no log line:\n%s", l)
		}
		want, unwanted := "user="+delivery.UserHash(msg.Source), msg.Source
		if ids {
			want, unwanted = "user="+msg.Source, delivery.UserHash(msg.Source)
		}
		if !strings.Contains(l, want) || strings.Contains(l, unwanted) {
			t.Errorf("LogUserIDs=%v: want %q and not %q:\n%s", ids, want, unwanted, l)
		}
	}
}

// TestHandlerWhereAfterReload: the delivery's handler=file:line names the
// function of the scripts now loaded, not the one it was before a reload
// moved it, on states made before the reload as on new ones.
func TestHandlerWhereAfterReload(t *testing.T) {
	dir := writeScripts(t, map[string]string{"b.lua": "robot.text(function(m)\n  return 'ok'\nend)"})
	rt, _ := startRuntime(t, nil, Options{Dir: dir})
	answeredBy := func() string {
		ctx, info := delivery.NewContext(context.Background())
		if _, _, err := rt.Dispatch(ctx, textMsg("hi"), nil); err != nil {
			t.Fatal(err)
		}
		return info.Handler()
	}
	if got := answeredBy(); got != "b.lua:1" {
		t.Fatalf("handler = %q, want b.lua:1", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "b.lua"), []byte("-- moved\n\n\nrobot.text(function(m)\n  return 'ok'\nend)"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rt.Reload(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if got := answeredBy(); got != "b.lua:4" {
			t.Fatalf("after the reload handler = %q, want b.lua:4", got)
		}
	}
}
