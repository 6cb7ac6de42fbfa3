package enrich

import (
	"context"
	"testing"
	"testing/synctest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// TestAnnotatorFeedsRuleFields checks the event-path hook: after Annotate, the k8s.* and
// container.* fields of the rule language read the cache's metadata.
func TestAnnotatorFeedsRuleFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		reg := fields.NewRegistry()
		read := func(e *event.Event, name, arg string) string {
			t.Helper()
			x, err := reg.Resolve(event.SourceSyscall, name, arg, arg != "")
			if err != nil {
				t.Fatal(err)
			}
			v, ok := x.Str(e)
			if !ok {
				return "<NA>"
			}
			return v
		}
		c0 := &event.Container{ID: idApp[:12], FullID: idApp, Runtime: "containerd"}
		e := &event.Event{Source: event.SourceSyscall, Sys: &event.Syscall{Thread: &event.Thread{Container: c0}}}
		if got := read(e, "k8s.pod.name", ""); got != "<NA>" {
			t.Fatalf("k8s.pod.name before annotation = %q", got)
		}
		an := f.c.NewAnnotator()
		an.Annotate(c0)
		for _, tc := range []struct{ field, arg, want string }{
			{"k8s.pod.name", "", "web-7d9f5c-x2x4q"},
			{"k8s.ns.name", "", "shop"},
			{"k8s.deployment.name", "", "web"},
			{"k8s.rs.name", "", "web-7d9f5c"},
			{"k8s.pod.label", "app", "web"},
			{"k8s.ns.label", "team", "payments"},
			{"k8s.pod.ip", "", "10.1.2.3"},
			{"container.name", "", "app"},
			{"container.image", "", nginx},
			{"container.image.repository", "", "docker.io/library/nginx"},
			{"container.image.tag", "", "1.25"},
		} {
			if got := read(e, tc.field, tc.arg); got != tc.want {
				t.Errorf("%s[%s] = %q, want %q", tc.field, tc.arg, got, tc.want)
			}
		}

		// Memo: a second event of the same container costs no lookup while nothing changed.
		hits := func() float64 { return counterValue(t, f.c.m.hit) }
		h := hits()
		an.Annotate(c0)
		if hits() != h {
			t.Error("annotating again without a cache change looked the container up again")
		}

		// A label change reaches the container on its next event.
		p := webPod(ctr0(), ctr{name: "sidecar", id: idSide, image: "envoyproxy/envoy:v1.31"})
		p.Labels["app"] = "web-v2"
		if _, err := f.cs.CoreV1().Pods("shop").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		an.Annotate(c0)
		if got := read(e, "k8s.pod.label", "app"); got != "web-v2" {
			t.Errorf("label after update = %q, want web-v2", got)
		}

		// A container the cache does not know: no pod; host containers are left alone.
		unknown := &event.Container{ID: "0123456789ab", FullID: hexID("unknown")}
		an.Annotate(unknown)
		if unknown.Pod != nil {
			t.Error("unknown container got a pod")
		}
		host := &event.Container{ID: event.HostContainerID}
		an.Annotate(host)
		an.Annotate(nil)
		if host.Pod != nil || host.Name != "" {
			t.Errorf("host container changed: %+v", host)
		}
	})
}

func ctr0() ctr { return ctr{name: "app", id: idApp, image: nginx} }

func TestSplitImage(t *testing.T) {
	for _, tc := range []struct{ in, repo, tag, digest string }{
		{"docker.io/library/nginx:1.25", "docker.io/library/nginx", "1.25", ""},
		{"registry:5000/shop/migrate", "registry:5000/shop/migrate", "", ""},
		{"registry:5000/shop/migrate:v3@sha256:ab", "registry:5000/shop/migrate", "v3", "sha256:ab"},
		{"nginx", "nginx", "", ""},
		{"", "", "", ""},
	} {
		r, tg, d := splitImage(tc.in)
		if r != tc.repo || tg != tc.tag || d != tc.digest {
			t.Errorf("splitImage(%q) = %q %q %q", tc.in, r, tg, d)
		}
	}
}
