package fields

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// BenchmarkAuditFields reads the fields the upstream k8s audit rules test on a pod creation.
func BenchmarkAuditFields(b *testing.B) {
	r := NewRegistry()
	e := auditEvent(b, podCreate)
	for _, name := range []string{"ka.verb", "ka.target.resource", "ka.user.name", "ka.req.pod.containers.privileged",
		"ka.req.pod.containers.image.repository", "ka.req.pod.volumes.hostpath", "ka.response.code"} {
		x, err := r.Resolve(event.SourceK8sAudit, name, "", false)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			var dst []string
			b.ReportAllocs()
			for b.Loop() {
				if x.List {
					dst, _ = x.Strs(e, dst[:0])
				} else {
					_, _ = x.Str(e)
				}
			}
		})
	}
	x, err := r.Resolve(event.SourceK8sAudit, "jevt.value", "/stage", true)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("jevt.value[/stage]", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = x.Str(e)
		}
	})
}

// BenchmarkAuditLargeList renders a list of 20000 objects: the raw document is indexed once per
// event, so the cost grows with the document, not with its square.
func BenchmarkAuditLargeList(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"kind":"Event","auditID":"x","requestObject":{"subjects":[`)
	for i := range 20000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"kind":"User","name":"u%d"}`, i)
	}
	sb.WriteString(`]}}`)
	e := auditEvent(b, sb.String())
	r := NewRegistry()
	x, err := r.Resolve(event.SourceK8sAudit, "ka.req.binding.subjects", "", false)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.Num++ // a new event each time: the index is rebuilt
		vs, ok := x.Strs(e, nil)
		if !ok || len(vs) != 20000 {
			b.Fatalf("%d values", len(vs))
		}
	}
}
