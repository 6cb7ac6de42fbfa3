package capture

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	stats := Stats{Events: 10, DropsBuffer: 3, DropsSize: 1, DropsProc: 2, Filtered: 7}
	var fail error
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(func() (Stats, error) { return stats, fail }, reg); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP lanner_capture_drops_total Records the kernel could not deliver, by reason: buffer (ring full, Falco's n_drops_buffer) or size (record too large).
# TYPE lanner_capture_drops_total counter
lanner_capture_drops_total{reason="buffer"} 3
lanner_capture_drops_total{reason="size"} 1
# HELP lanner_capture_events_total Records the kernel delivered to the ring buffer.
# TYPE lanner_capture_events_total counter
lanner_capture_events_total 10
# HELP lanner_capture_filtered_total Opens the kernel dropped because no loaded rule can match them (the open filter): not losses.
# TYPE lanner_capture_filtered_total counter
lanner_capture_filtered_total 7
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lanner_capture_drops_total", "lanner_capture_events_total", "lanner_capture_filtered_total"); err != nil {
		t.Error(err)
	}
	fail = errors.New("map gone")
	if got := testutil.ToFloat64(collectorFor(t, reg, "lanner_capture_counters_up")); got != 0 {
		t.Errorf("up = %v after a failed read", got)
	}
	if _, err := NewMetrics(func() (Stats, error) { return stats, nil }, reg); err == nil {
		t.Errorf("registering twice succeeded")
	}
}

// collectorFor gathers one metric family from reg as a collector testutil can read.
func collectorFor(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}
