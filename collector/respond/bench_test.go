package respond

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

// benchResponder has 20 playbooks of the kinds users write (rule lists, regexes, priorities,
// tags, namespaces), none matching the benchmark's alert: the common case when the responder
// subscribes to every alert (falco.>) and acts on few.
func benchResponder(b *testing.B) *Responder {
	var sb strings.Builder
	sb.WriteString("playbooks:\n")
	for i := range 20 {
		fmt.Fprintf(&sb, "  - name: p%d\n    match: {rule: [Rule %d a, Rule %d b], rule_regex: \"(?i)miner%d\", priority: warning, tags: [t%d], namespaces: [ns%d]}\n    actions: [isolate_pod, {notify: {webhook: w}}]\n", i, i, i, i, i, i)
	}
	cfg, err := Parse("b.yaml", []byte("http: {alert_path: /a, allow_unauthenticated: true}\nnotify_webhooks: {w: {url: \"http://127.0.0.1:1\"}}\n"+sb.String()), nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(cfg, fake.NewClientset(), &memSink{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkReceiveNoMatch: the cost of one alert from the wire (Falco JSON) that no playbook
// matches: parsing, duplicate detection and matching against every playbook.
func BenchmarkReceiveNoMatch(b *testing.B) {
	r := benchResponder(b)
	// More alerts than the duplicate window (4096), so none is taken for a duplicate.
	alerts := make([][]byte, 16384)
	for i := range alerts {
		alerts[i], _ = shellAlert("shop", "web-1").MarshalJSON()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Receive(ctx, "nats", alerts[i%len(alerts)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleNoMatch: matching alone, on an alert already parsed.
func BenchmarkHandleNoMatch(b *testing.B) {
	r := benchResponder(b)
	a := shellAlert("shop", "web-1")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a.Time = a.Time.Add(1) // a new alert each time (not a duplicate)
		if out := r.Handle(ctx, a); out != nil {
			b.Fatal("matched")
		}
	}
}
