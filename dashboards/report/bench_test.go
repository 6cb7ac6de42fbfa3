package report

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
)

// fullReport is a report with every table at its default size: 15 rules, namespaces and
// workloads, 30 days, 200 audit rows.
func fullReport() *Report {
	r := sample()
	r.Since, r.Until = day0, day0.AddDate(0, 0, 30)
	r.ByRule, r.ByNamespace, r.Workloads, r.Days, r.Audit = nil, nil, nil, nil, nil
	for i := range 15 {
		r.ByRule = append(r.ByRule, RuleCount{Rule: fmt.Sprintf("Rule number %d with a longish name", i), Description: "Detects something worth a look.", Highest: alert.Priority(i % 8), Count: int64(1000 - i*10)})
		r.ByNamespace = append(r.ByNamespace, Count{Key: fmt.Sprintf("namespace-%d", i), Count: int64(900 - i*10)})
		r.Workloads = append(r.Workloads, Workload{Namespace: "shop", Kind: "Deployment", Name: fmt.Sprintf("app-%d", i), Pods: []string{"a", "b"}, Images: []string{"registry.example.com/app:1.0"}, Count: int64(500 - i), Highest: alert.Warning})
	}
	for i := range 30 {
		d := Day{Day: day0.AddDate(0, 0, i), Total: int64(100 + i)}
		d.ByPriority[alert.Warning], d.ByPriority[alert.Notice] = int64(50+i), 50
		r.Days = append(r.Days, d)
	}
	for i := range 200 {
		r.Audit = append(r.Audit, AuditChange{Time: day0.Add(time.Duration(i) * time.Minute), User: "kubernetes-admin", Verb: "create", Resource: "pods", Subresource: "exec", Namespace: "shop", Name: fmt.Sprintf("web-%d", i), Rule: "Attach/Exec Pod", Priority: alert.Notice})
	}
	return r
}

func BenchmarkWriteHTML(b *testing.B) {
	r := fullReport()
	for b.Loop() {
		if err := WriteHTML(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWritePDF(b *testing.B) {
	r := fullReport()
	for b.Loop() {
		if err := WritePDF(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
