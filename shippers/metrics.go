package shippers

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of lanner_shipper_alerts_dead_lettered_total.
const (
	reasonRejected    = "rejected"    // the destination refused the record for good (mapping error...)
	reasonUndecodable = "undecodable" // the spooled record could not be read back
)

type outputMetrics struct {
	registration *Registration
	enqueued     prometheus.Counter
	sent         prometheus.Counter
	duplicates   prometheus.Counter
	failed       prometheus.Counter
	retried      prometheus.Counter
	deadLettered *prometheus.CounterVec
	latency      prometheus.Histogram
}

func newOutputMetrics(output string, reg prometheus.Registerer) (*outputMetrics, error) {
	cl := prometheus.Labels{"output": output}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper", Name: name, Help: help, ConstLabels: cl})
	}
	m := &outputMetrics{
		enqueued:   c("alerts_enqueued_total", "Alerts stored in the output's spool."),
		sent:       c("alerts_sent_total", "Alerts the destination stored."),
		duplicates: c("alerts_duplicate_total", "Alerts the destination already had (sent again after a retry or crash; stored once)."),
		failed:     c("alerts_failed_total", "Alerts in failed delivery attempts (each is retried)."),
		retried:    c("alerts_retried_total", "Alerts sent again after a failed attempt."),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "alerts_dead_lettered_total", Help: "Alerts written to the dead-letter file instead of the destination, by reason.",
			ConstLabels: cl}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "send_duration_seconds", Help: "Time of one delivery attempt (one Send call).", ConstLabels: cl,
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
	}
	m.deadLettered.WithLabelValues(reasonRejected)
	m.deadLettered.WithLabelValues(reasonUndecodable)
	r, err := RegisterAll(reg, fmt.Sprintf("output %q", output),
		m.enqueued, m.sent, m.duplicates, m.failed, m.retried, m.deadLettered, m.latency)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *outputMetrics) unregister() { m.registration.Unregister() }
