package respond

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
)

// memSink keeps the action records.
type memSink struct {
	mu   sync.Mutex
	recs []*alert.Alert
}

func (s *memSink) Write(_ context.Context, a *alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, a)
	return nil
}

func (s *memSink) records() []*alert.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*alert.Alert(nil), s.recs...)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testConfig parses a responder configuration: the alert endpoint (a source is required), the
// given top-level settings and playbooks.
func testConfig(t *testing.T, body string) *Config {
	t.Helper()
	cfg, err := Parse("respond.yaml", []byte("http: {alert_path: /alerts, allow_unauthenticated: true}\n"+body), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config:\n%v", err)
	}
	return cfg
}

type fixture struct {
	cs    *fake.Clientset
	sink  *memSink
	clock *fakeClock
	r     *Responder
}

func newFixture(t *testing.T, cfgBody string, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{cs: fake.NewClientset(objs...), sink: &memSink{},
		clock: &fakeClock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}}
	r, err := New(testConfig(t, cfgBody), f.cs, f.sink, nil, nil, WithClock(f.clock.now), WithHostname("responder-1"))
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	f.cs.ClearActions() // the objects given were created through the tracker, not by the responder
	return f
}

var alertSeq int

// shellAlert is an alert about pod ns/pod as lanner's engine emits it: the pod in Falco's
// suggested output fields. Each call gives a distinct alert (a later time).
func shellAlert(ns, pod string) *alert.Alert {
	alertSeq++
	return &alert.Alert{Time: time.Date(2026, 11, 26, 11, 0, 0, alertSeq, time.UTC), Rule: "Lanner Interactive Shell in Container",
		Priority: alert.Notice, Source: event.SourceSyscall, Tags: []string{"container", "lanner", "shell"},
		Hostname: "node-a", Output: fmt.Sprintf("11:00:00.%09d: Notice Interactive shell started in a container (shell=bash)", alertSeq),
		OutputFields: map[string]any{"proc.name": "bash", "k8s.ns.name": ns, "k8s.pod.name": pod, "container.id": "3ad7b26ded6d"}}
}

// calls lists the API calls made: "verb resource[/subresource] namespace/name".
func calls(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		res := a.GetResource().Resource
		if a.GetSubresource() != "" {
			res += "/" + a.GetSubresource()
		}
		name := ""
		switch a := a.(type) {
		case k8stesting.GetAction:
			name = a.GetName()
		case k8stesting.DeleteAction:
			name = a.GetName()
		case k8stesting.PatchAction:
			name = a.GetName()
		case k8stesting.CreateAction:
			if m, err := metaName(a.GetObject()); err == nil {
				name = m
			}
		case k8stesting.UpdateAction:
			if m, err := metaName(a.GetObject()); err == nil {
				name = m
			}
		}
		ns := a.GetNamespace()
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", a.GetVerb(), res, strings.Trim(ns+"/"+name, "/"))))
	}
	return out
}

func metaName(o runtime.Object) (string, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return "", fmt.Errorf("%T has no metadata", o)
	}
	return m.GetName(), nil
}

func wantCalls(t *testing.T, cs *fake.Clientset, want ...string) {
	t.Helper()
	got := calls(cs)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("API calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// patches returns the bodies of the patch calls, in order.
func patches(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			out = append(out, string(p.GetPatchType())+" "+string(p.GetPatch()))
		}
	}
	return out
}

func wantResults(t *testing.T, got []Outcome, want ...Result) {
	t.Helper()
	var g []string
	for _, o := range got {
		g = append(g, string(o.Result))
	}
	var w []string
	for _, r := range want {
		w = append(w, string(r))
	}
	if strings.Join(g, ",") != strings.Join(w, ",") {
		t.Errorf("results %v, want %v (outcomes %+v)", g, w, got)
	}
}

func int32p(n int32) *int32 { return &n }

// Cluster objects: pod web-1 of Deployment web (through ReplicaSet web-7d9f8c6b5) on node-a.
func testPod(ns, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + name),
		Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f8c6b5",
			Controller: boolp(true)}}},
		Spec: corev1.PodSpec{NodeName: "node-a"}}
}

func testNode() *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}
}

func testReplicaSet(ns string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f8c6b5", Namespace: ns,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", Controller: boolp(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(3)}}
}

func testDeployment(ns string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: appsv1.DeploymentSpec{Replicas: int32p(3)}}
}

func boolp(b bool) *bool { return &b }
