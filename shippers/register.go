package shippers

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Registration is a set of collectors registered together, so that an output's metrics are in a
// registry all at once or not at all, and leave it together when the output closes (a test or a
// config reload can then build the same output again on the same registry).
type Registration struct {
	reg prometheus.Registerer
	cs  []prometheus.Collector
}

// RegisterAll registers every collector with reg, or none: when one fails, those already
// registered are unregistered and the error names what (e.g. "nats output"). A nil reg
// registers nothing and returns a Registration whose Unregister does nothing.
func RegisterAll(reg prometheus.Registerer, what string, cs ...prometheus.Collector) (*Registration, error) {
	r := &Registration{reg: reg, cs: cs}
	if reg == nil {
		return r, nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("%s: register metrics: %w", what, err)
		}
	}
	return r, nil
}

// Unregister removes the collectors from the registry. It is safe on a nil Registration.
func (r *Registration) Unregister() {
	if r == nil || r.reg == nil {
		return
	}
	for _, c := range r.cs {
		r.reg.Unregister(c)
	}
}

// MessageMetrics are the counters of an output that sends each alert as one message (syslog,
// NATS): lanner_shipper_<output>_messages_total and lanner_shipper_<output>_errors_total, with
// the output label.
type MessageMetrics struct {
	Messages, Errors prometheus.Counter
	registration     *Registration
}

// NewMessageMetrics builds and registers an output's MessageMetrics; the help texts say what a
// message and an error are for that output. reg may be nil.
func NewMessageMetrics(reg prometheus.Registerer, output, messagesHelp, errorsHelp string) (*MessageMetrics, error) {
	l := prometheus.Labels{"output": output}
	m := &MessageMetrics{
		Messages: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: output + "_messages_total", Help: messagesHelp, ConstLabels: l}),
		Errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: output + "_errors_total", Help: errorsHelp, ConstLabels: l}),
	}
	r, err := RegisterAll(reg, output+" output", m.Messages, m.Errors)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

// Unregister removes the counters from the registry.
func (m *MessageMetrics) Unregister() { m.registration.Unregister() }
