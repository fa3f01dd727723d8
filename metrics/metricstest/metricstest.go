// Package metricstest reads LuaRoBot's metrics the way Prometheus does, for
// tests: scrape the text format and look a series up by its labels.
//
//	s := metricstest.Scrape(t, adminHandler, "admin-token")
//	if got := s.Value("luarobot_deliveries_total", "type", "text", "outcome", "replied"); got != 1 { ... }
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Parse reads Prometheus' text format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the metrics: %w", err)
	}
	return fams, nil
}

// Scrape asks h for GET /metrics with the bearer token (none when empty),
// fails the test unless it answers 200, and parses the answer.
func Scrape(t testing.TB, h http.Handler, token string) Families {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	fams, err := Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// Gather reads g directly, as a scrape would see it.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	list, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering the metrics: %v", err)
	}
	fams := make(Families, len(list))
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

// Value is the value of the series of name whose labels are exactly the
// given name, value pairs (a counter's or gauge's value, a histogram's
// sample count); 0 when there is no such series.
func (f Families) Value(name string, labelPairs ...string) float64 {
	m := f.find(name, labelPairs)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// Has reports whether the series exists.
func (f Families) Has(name string, labelPairs ...string) bool {
	return f.find(name, labelPairs) != nil
}

// Series lists the label sets of name's series, each as "k=v,k=v" sorted,
// for failure messages and cardinality checks.
func (f Families) Series(name string) []string {
	fam := f[name]
	if fam == nil {
		return nil
	}
	var out []string
	for _, m := range fam.GetMetric() {
		var parts []string
		for _, l := range m.GetLabel() {
			parts = append(parts, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(parts)
		out = append(out, strings.Join(parts, ","))
	}
	sort.Strings(out)
	return out
}

func (f Families) find(name string, labelPairs []string) *dto.Metric {
	if len(labelPairs)%2 != 0 {
		panic("metricstest: labels come in name, value pairs")
	}
	want := make(map[string]string, len(labelPairs)/2)
	for i := 0; i < len(labelPairs); i += 2 {
		want[labelPairs[i]] = labelPairs[i+1]
	}
	fam := f[name]
	if fam == nil {
		return nil
	}
next:
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m
	}
	return nil
}
