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
