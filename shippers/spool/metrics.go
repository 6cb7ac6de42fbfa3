package spool

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of one spool, labelled with its output.
type metrics struct {
	reg       prometheus.Registerer
	cs        []prometheus.Collector
	records   prometheus.Gauge
	bytes     prometheus.Gauge
	capacity  prometheus.Gauge
	dropped   *prometheus.CounterVec
	corrupt   prometheus.Counter
	recovered prometheus.Counter
}

func newMetrics(output string, reg prometheus.Registerer) (*metrics, error) {
	cl := prometheus.Labels{"output": output}
	m := &metrics{
		reg: reg,
		records: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lanner", Subsystem: "spool", Name: "records",
			Help: "Alerts held in the output's spool, waiting for delivery.", ConstLabels: cl}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lanner", Subsystem: "spool", Name: "bytes",
			Help: "Payload bytes held in the output's spool.", ConstLabels: cl}),
		capacity: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lanner", Subsystem: "spool", Name: "capacity_bytes",
			Help: "The spool's byte bound; past it the overflow policy applies.", ConstLabels: cl}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "spool", Name: "dropped_records_total",
			Help: "Alerts removed from the spool without delivery, by reason (overflow: drop_oldest policy).", ConstLabels: cl}, []string{"reason"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "spool", Name: "corrupt_records_total",
			Help: "Unreadable spool records (or damaged log tails) moved into the spool's corrupt/ folder.", ConstLabels: cl}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "spool", Name: "recovered_records_total",
			Help: "Alerts found in the spool when it was opened (left by a previous run).", ConstLabels: cl}),
	}
	// Known label values start at 0 so dashboards show a line, not a gap.
	m.dropped.WithLabelValues(reasonOverflow)
	m.cs = []prometheus.Collector{m.records, m.bytes, m.capacity, m.dropped, m.corrupt, m.recovered}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.cs {
		if err := reg.Register(c); err != nil {
			for _, done := range m.cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("spool %q: register metrics: %w", output, err)
		}
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.cs {
		m.reg.Unregister(c)
	}
}
