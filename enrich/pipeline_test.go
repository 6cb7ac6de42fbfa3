package enrich

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
)

// upstreamRules loads the unmodified falco_rules.yaml ($LANNER_COMPAT_DIR, else
// ../shared/compat beside the repository).
func upstreamRules(t *testing.T, reg *fields.Registry) *engine.Ruleset {
	t.Helper()
	dir := os.Getenv("LANNER_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "compat")
	}
	path := filepath.Join(dir, "falco_rules.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("upstream rules not available (set LANNER_COMPAT_DIR): %v", err)
	}
	rs, res := engine.Load([]engine.File{{Name: path, Data: data}}, engine.Options{Registry: reg})
	if !res.OK() {
		t.Fatalf("loading %s: %v", path, res.Err())
	}
	return rs
}

// shellEvent is the replay corpus's "kubectl exec -it web -- bash" execve, whose container is
// replaced by what the state package knows of a container: ids and runtime, no metadata.
func shellEvent(t *testing.T, full string) *event.Event {
	t.Helper()
	data, err := os.ReadFile("../collector/replay/testdata/syscall/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, `"comment":"terminal-shell-pos`) {
			continue
		}
		evs, errs := replay.ReadAll(replay.NewReader(strings.NewReader(line), "events.jsonl", replay.Options{}))
		if len(errs) > 0 || len(evs) != 1 {
			t.Fatalf("reading the corpus event: %v", errs)
		}
		e := evs[0]
		e.Sys.Thread.Container = &event.Container{ID: full[:12], FullID: full, Runtime: "containerd"}
		return e
	}
	t.Fatal("terminal-shell-pos not in the replay corpus")
	return nil
}

// TestPipelineShellInPod runs the event path as lanner run will: state's bare container, the
// Annotator, the unmodified upstream rules, the alert builder (with Falco's suggested k8s and
// container output fields), then alert enrichment. A shell in a known pod's container carries
// the pod's context in output_fields and Alert.K8s; a shell in an unknown container still
// alerts, marked unknown.
func TestPipelineShellInPod(t *testing.T) {
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname(node))
	rs := upstreamRules(t, reg)
	b, err := alert.NewBuilder(reg, node)
	if err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		an := f.c.NewAnnotator()
		run := func(e *event.Event) []*alert.Alert {
			an.Annotate(e.Sys.Thread.Container)
			var out []*alert.Alert
			rs.Process(e, func(r *engine.Rule, e *event.Event) {
				a := b.Build(e, r.Name, r.Priority, r.Tags, r.Formatter)
				f.c.Enrich(a, ContainerIDOf(e))
				out = append(out, a)
			})
			return out
		}

		alerts := run(shellEvent(t, idApp))
		if len(alerts) != 1 || alerts[0].Rule != "Terminal shell in container" {
			t.Fatalf("alerts %v", alerts)
		}
		a := alerts[0]
		for k, want := range map[string]any{
			"k8s.pod.name": "web-7d9f5c-x2x4q", "k8s.ns.name": "shop", "container.name": "app",
			"container.image.repository": "docker.io/library/nginx", "container.image.tag": "1.25", "container.id": idApp[:12],
		} {
			if got := a.OutputFields[k]; got != want {
				t.Errorf("output_fields[%s] = %#v, want %q", k, got, want)
			}
		}
		if !strings.Contains(a.Output, "k8s_pod_name=web-7d9f5c-x2x4q k8s_ns_name=shop") {
			t.Errorf("output %q lacks the pod", a.Output)
		}
		if a.K8sLookup != alert.K8sFound || a.K8s == nil || a.K8s.Deployment != "web" || a.K8s.Image != nginx ||
			a.K8s.Labels["app"] != "web" || a.K8s.PodName != "web-7d9f5c-x2x4q" || a.K8s.Namespace != "shop" {
			t.Errorf("enrichment %q %+v", a.K8sLookup, a.K8s)
		}

		stranger := hexID("not-a-pod")
		alerts = run(shellEvent(t, stranger))
		if len(alerts) != 1 {
			t.Fatalf("unknown container: %d alerts, want the rule to fire anyway", len(alerts))
		}
		a = alerts[0]
		if a.K8s != nil || a.K8sLookup != alert.K8sUnknownContainer || a.OutputFields["k8s.pod.name"] != nil ||
			a.OutputFields["container.id"] != stranger[:12] {
			t.Errorf("unknown container: lookup %q K8s %+v pod %#v id %#v", a.K8sLookup, a.K8s, a.OutputFields["k8s.pod.name"], a.OutputFields["container.id"])
		}
	})
}
