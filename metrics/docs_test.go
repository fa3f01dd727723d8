package metrics_test

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/luarobot/luarobot/internal/mddoc"
	"github.com/luarobot/luarobot/metrics/metricstest"
)

// README's table of metrics is the scrape: every luarobot_* family with
// its labels, and the reasons a request is refused, no more and no less.
// Dashboards and alerts are written from that table.
func TestREADMEListsTheMetrics(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{} // metric → label names
	var reasons []string
	for _, table := range mddoc.Tables(string(data)) {
		if len(table.Header) < 3 || table.Header[0] != "metric" {
			continue
		}
		for _, row := range table.Rows {
			name := strings.Trim(row[0], "`")
			var labels []string
			for _, l := range mddoc.CodeSpans(row[1]) {
				if l, _, _ := strings.Cut(l, "="); l != "" {
					labels = append(labels, l)
				}
			}
			documented[name] = labels
			if name == "luarobot_requests_refused_total" {
				reasons = mddoc.CodeSpans(row[2])
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("README.md has no table whose first column is metric")
	}

	s := metricstest.Scrape(t, exercised().Handler(), "")
	for name, family := range s {
		if !strings.HasPrefix(name, "luarobot_") {
			continue
		}
		want, ok := documented[name]
		if !ok {
			t.Errorf("README.md's metrics table lacks %s", name)
			continue
		}
		got := map[string]bool{}
		for _, m := range family.GetMetric() {
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = true
			}
		}
		for l := range got {
			if !slices.Contains(want, l) {
				t.Errorf("%s has the label %s, which README.md does not name (it names %v)", name, l, want)
			}
		}
		for _, l := range want {
			if !got[l] {
				t.Errorf("README.md names the label %s of %s, which the scrape does not have", l, name)
			}
		}
	}
	for name := range documented {
		if _, ok := s[name]; !ok {
			t.Errorf("README.md lists %s, which is not registered", name)
		}
	}

	var registered []string
	for _, series := range s["luarobot_requests_refused_total"].GetMetric() {
		for _, lp := range series.GetLabel() {
			registered = append(registered, lp.GetValue())
		}
	}
	sort.Strings(registered)
	sort.Strings(reasons)
	if !slices.Equal(registered, reasons) {
		t.Errorf("refusal reasons: README.md lists %v, the metric has %v", reasons, registered)
	}
}
