package respond

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/respond/playbook"
	"github.com/lannersec/lanner/shippers"
)

// metrics are the responder's counters; every label value is bounded by the configuration.
type metrics struct {
	reg          *shippers.Registration
	received     *prometheus.CounterVec
	invalid      *prometheus.CounterVec
	ignored      *prometheus.CounterVec
	matches      *prometheus.CounterVec
	actions      *prometheus.CounterVec
	recordErrors prometheus.Counter
	podErrors    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, cfg *Config) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "lanner", Subsystem: "respond", Name: name, Help: help}
	}
	m := &metrics{
		received: prometheus.NewCounterVec(opts("alerts_total", "Alerts received, by source (nats, http)."), []string{"source"}),
		invalid:  prometheus.NewCounterVec(opts("alerts_invalid_total", "Inputs that were not Falco JSON alerts, by source."), []string{"source"}),
		ignored: prometheus.NewCounterVec(opts("alerts_ignored_total",
			"Alerts not acted on, by reason: duplicate (delivered twice), response_record (an action record)."), []string{"reason"}),
		matches: prometheus.NewCounterVec(opts("playbook_matches_total", "Alerts each playbook matched."), []string{"playbook"}),
		actions: prometheus.NewCounterVec(opts("actions_total",
			"Actions by kind and result (done, unchanged, dry_run, refused, rate_limited, skipped, failed)."), []string{"action", "result"}),
		recordErrors: prometheus.NewCounter(opts("record_errors_total", "Action records the outputs could not take.")),
		podErrors:    prometheus.NewCounter(opts("pod_lookup_errors_total", "Failures to read an alert's pod (other than not found).")),
	}
	// Every series exists from the start, so a dashboard shows 0 rather than nothing.
	for _, k := range playbook.Kinds() {
		for _, res := range results() {
			m.actions.WithLabelValues(string(k), string(res))
		}
	}
	for _, pb := range cfg.Playbooks {
		m.matches.WithLabelValues(pb.Name)
	}
	r, err := shippers.RegisterAll(reg, "responder", m.received, m.invalid, m.ignored, m.matches, m.actions, m.recordErrors, m.podErrors)
	if err != nil {
		return nil, err
	}
	m.reg = r
	return m, nil
}

func (m *metrics) unregister() { m.reg.Unregister() }
