package luaapi

import (
	"strings"
	"testing"
)

// testStats stands in for the host's counters.
type testStats struct {
	Deliveries int64  `luar:"deliveries"`
	Mode       string `luar:"mode"`
	Hidden     string `luar:"-"`
}

func TestRobotStats(t *testing.T) {
	calls := 0
	rt, _ := startRuntime(t, map[string]string{"bot.lua": `
		robot.filter("stats", function()
			local s = robot.stats()
			return "deliveries=" .. s.deliveries .. " mode=" .. s.mode .. " hidden=" .. tostring(s.Hidden) .. tostring(s.hidden)
		end)
		robot.filter("write", function()
			robot.stats().deliveries = 0
		end)`}, Options{Stats: func() any {
		calls++
		return testStats{Deliveries: int64(40 + calls), Mode: "plain", Hidden: "secret"}
	}})
	r, _ := dispatch(t, rt, textMsg("stats"), nil)
	if got := textOf(r); got != "deliveries=41 mode=plain hidden=nilnil" {
		t.Errorf("robot.stats() read %q", got)
	}
	if _, _, err := rt.Dispatch(t.Context(), textMsg("write"), nil); err == nil {
		t.Error("assigning a field of robot.stats() succeeded; the counters are read-only")
	}
}

func TestRobotStatsUnconfigured(t *testing.T) {
	rt, _ := startRuntime(t, map[string]string{"bot.lua": `
		robot.text(function() return tostring(robot.stats()) end)`}, Options{})
	r, _ := dispatch(t, rt, textMsg("x"), nil)
	if got := textOf(r); !strings.Contains(got, "nil") {
		t.Errorf("robot.stats() without Options.Stats = %q, want nil", got)
	}
}
