package event

// Audit is the payload of a k8s_audit event: one audit.k8s.io Event, decoded into generic JSON
// values (map[string]any, []any, string, float64, bool, nil) as encoding/json produces them.
// The ka.* and jevt.* extractors walk Doc; Raw keeps the original bytes for jevt.rawtime-style
// fields and for forwarding.
type Audit struct {
	Doc map[string]any
	Raw []byte
}
