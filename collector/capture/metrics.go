package capture

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the kernel's counters to Prometheus. It reads them at scrape time through
// stats (Probe.Stats: map lookups, safe from any goroutine), so the capture loop pays nothing.
type Metrics struct {
	stats    func() (Stats, error)
	events   *prometheus.Desc
	drops    *prometheus.Desc
	proc     *prometheus.Desc
	compat   *prometheus.Desc
	filtered *prometheus.Desc
	up       *prometheus.Desc
}

// NewMetrics registers the capture metrics in reg (nil: not registered, use Collect yourself).
func NewMetrics(stats func() (Stats, error), reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		stats:  stats,
		events: prometheus.NewDesc("lanner_capture_events_total", "Records the kernel delivered to the ring buffer.", nil, nil),
		drops: prometheus.NewDesc("lanner_capture_drops_total",
			"Records the kernel could not deliver, by reason: buffer (ring full, Falco's n_drops_buffer) or size (record too large).",
			[]string{"reason"}, nil),
		proc: prometheus.NewDesc("lanner_capture_drops_process_total",
			"Lost exec, fork and exit records (part of the buffer drops): the thread table may be wrong after one.", nil, nil),
		compat: prometheus.NewDesc("lanner_capture_skipped_compat_total",
			"32-bit (ia32) syscalls of reported numbers that were not reported.", nil, nil),
		filtered: prometheus.NewDesc("lanner_capture_filtered_total",
			"Opens the kernel dropped because no loaded rule can match them (the open filter): not losses.", nil, nil),
		up: prometheus.NewDesc("lanner_capture_counters_up", "1 when the kernel counters could be read at the last scrape.", nil, nil),
	}
	if reg != nil {
		if err := reg.Register(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.events, m.drops, m.proc, m.compat, m.filtered, m.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	s, err := m.stats()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(m.events, prometheus.CounterValue, float64(s.Events))
	ch <- prometheus.MustNewConstMetric(m.drops, prometheus.CounterValue, float64(s.DropsBuffer), "buffer")
	ch <- prometheus.MustNewConstMetric(m.drops, prometheus.CounterValue, float64(s.DropsSize), "size")
	ch <- prometheus.MustNewConstMetric(m.proc, prometheus.CounterValue, float64(s.DropsProc))
	ch <- prometheus.MustNewConstMetric(m.compat, prometheus.CounterValue, float64(s.SkippedCompat))
	ch <- prometheus.MustNewConstMetric(m.filtered, prometheus.CounterValue, float64(s.Filtered))
}
