package enrich

import (
	"context"
	"maps"
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
)

const node = "node-a"

var (
	idInit  = hexID("init")
	idApp   = hexID("app")
	idApp2  = hexID("app-restart-1")
	idApp3  = hexID("app-restart-2")
	idDebug = hexID("debug")
	idSide  = hexID("sidecar")
	idOther = hexID("other-node")
	idJob   = hexID("job")
)

const nginx = "docker.io/library/nginx:1.25"

func webPod(mainCtrs ...ctr) *corev1.Pod {
	rs := ownerRef("ReplicaSet", "web-7d9f5c")
	return makePod(podSpec{
		ns: "shop", name: "web-7d9f5c-x2x4q", node: node, owner: &rs,
		labels:    map[string]string{"app": "web", "pod-template-hash": "7d9f5c"},
		init:      []ctr{{name: "migrate", id: idInit, image: "registry:5000/shop/migrate:v3"}},
		main:      mainCtrs,
		ephemeral: []ctr{{name: "debugger", id: idDebug, image: "busybox:1.36"}},
	})
}

// fixture runs a Cache on a fake clientset inside a synctest bubble, so that "the informers
// have processed everything" is synctest.Wait, not a sleep.
type fixture struct {
	t      *testing.T
	cs     *fake.Clientset
	c      *Cache
	clock  *clocktesting.FakePassiveClock
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, cs: fake.NewClientset(objs...), clock: clocktesting.NewFakePassiveClock(time.Unix(1_800_000_000, 0)), reg: prometheus.NewRegistry()}
	c, err := New(f.cs, Config{NodeName: node, DeletedPodGrace: time.Minute, clock: f.clock}, nil, f.reg)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel, f.done = cancel, make(chan struct{})
	go func() { _ = c.Run(ctx); close(f.done) }()
	synctest.Wait()
	if !c.HasSynced() {
		t.Fatal("cache not synced after the informers settled")
	}
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.cancel()
	<-f.done
}

func (f *fixture) updatePod(p *corev1.Pod) {
	f.t.Helper()
	if _, err := f.cs.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	synctest.Wait()
}

func (f *fixture) mustFind(id string) ContainerMeta {
	f.t.Helper()
	m, ok := f.c.Container(id)
	if !ok {
		f.t.Fatalf("container %s not found", id)
	}
	return m
}

func (f *fixture) mustMiss(id string) {
	f.t.Helper()
	if m, ok := f.c.Container(id); ok {
		f.t.Fatalf("container %s found in pod %s/%s, want a miss", id, m.Pod.Namespace, m.Pod.Name)
	}
}

func baseObjects() []runtime.Object {
	rs := ownerRef("ReplicaSet", "api-5c6d")
	return []runtime.Object{
		namespace("shop", map[string]string{"team": "payments"}),
		replicaSet("shop", "web-7d9f5c", "web"),
		webPod(ctr{name: "app", id: idApp, image: nginx}, ctr{name: "sidecar", id: idSide, image: "envoyproxy/envoy:v1.31"}),
		// Same cluster, other node: the fake ignores the field selector, the cache must not.
		makePod(podSpec{ns: "shop", name: "api-5c6d-aaaaa", node: "node-b", owner: &rs,
			main: []ctr{{name: "api", id: idOther, image: nginx}}}),
	}
}

func TestLookupForms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		for _, tc := range []struct {
			name, id, wantCtr string
		}{
			{"full id", idApp, "app"},
			{"short id", idApp[:12], "app"},
			{"runtime prefix", "containerd://" + idApp, "app"},
			{"upper case", "CRI-O://" + idApp[:12], "app"},
			{"truncated id (15)", idApp[:15], "app"},
			{"init container", idInit, "migrate"},
			{"ephemeral container", idDebug[:12], "debugger"},
			{"second container", idSide, "sidecar"},
		} {
			m := f.mustFind(tc.id)
			if m.Name != tc.wantCtr || m.Pod.Name != "web-7d9f5c-x2x4q" || m.Deleted {
				t.Errorf("%s: got container %q of pod %q (deleted %v)", tc.name, m.Name, m.Pod.Name, m.Deleted)
			}
		}
		for _, id := range []string{idOther, idOther[:12], "", "host", "0123456789ab", idApp[:11], idApp[:13] + "f"} {
			f.mustMiss(id)
		}
	})
}

func TestPodMetadata(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		m := f.mustFind(idApp)
		p := m.Pod
		want := event.Pod{Name: "web-7d9f5c-x2x4q", Namespace: "shop", UID: "uid-shop-web-7d9f5c-x2x4q", IP: "10.1.2.3",
			ReplicaSet: "web-7d9f5c", Deployment: "web", NodeName: node}
		got := *p
		got.Labels, got.NamespaceLabels = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("pod\n got %+v\nwant %+v", got, want)
		}
		if !maps.Equal(p.Labels, map[string]string{"app": "web", "pod-template-hash": "7d9f5c"}) {
			t.Errorf("labels %v", p.Labels)
		}
		if !maps.Equal(p.NamespaceLabels, map[string]string{"team": "payments"}) {
			t.Errorf("namespace labels %v", p.NamespaceLabels)
		}
		if m.Image != nginx || m.ImageID == "" || m.OwnerKind != "Deployment" || m.OwnerName != "web" {
			t.Errorf("container meta %+v", m)
		}
		if _, ok := m.PodAnnotations[lastApplied]; ok || m.PodAnnotations["team"] != "shop" {
			t.Errorf("annotations %v: want team kept and last-applied dropped", m.PodAnnotations)
		}
		// The stored pod is trimmed: no managed fields.
		obj, ok, _ := f.c.pods.GetStore().GetByKey("shop/web-7d9f5c-x2x4q")
		if !ok || len(obj.(*corev1.Pod).ManagedFields) != 0 {
			t.Errorf("stored pod not trimmed: %v", obj)
		}
	})
}

// TestRestartAndDelete follows one pod through container restarts and its deletion.
func TestRestartAndDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		side := ctr{name: "sidecar", id: idSide, image: "envoyproxy/envoy:v1.31"}

		// First restart: the previous id stays in lastState, so it is still a live container.
		f.updatePod(webPod(ctr{name: "app", id: idApp2, image: nginx, prevID: idApp}, side))
		if m := f.mustFind(idApp2); m.Name != "app" || m.Deleted {
			t.Errorf("new id: %+v", m)
		}
		if m := f.mustFind(idApp); m.Deleted {
			t.Errorf("previous instance (lastState) should resolve as live")
		}

		// Second restart: the first id leaves the status; it resolves from the grace cache.
		f.updatePod(webPod(ctr{name: "app", id: idApp3, image: nginx, prevID: idApp2}, side))
		f.mustFind(idApp3)
		if m := f.mustFind(idApp); !m.Deleted || m.Pod.Deployment != "web" {
			t.Errorf("replaced container: %+v, want deleted with its pod", m)
		}

		// Delete the pod: everything resolves, marked deleted, until the grace period ends.
		if err := f.cs.CoreV1().Pods("shop").Delete(context.Background(), "web-7d9f5c-x2x4q", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		for _, id := range []string{idApp3, idApp2, idInit, idDebug[:12], idSide} {
			if m := f.mustFind(id); !m.Deleted || m.Pod.Name != "web-7d9f5c-x2x4q" || m.Pod.Deployment != "web" {
				t.Errorf("%s after delete: %+v", id, m)
			}
		}
		if got := testutil.ToFloat64(f.c.m.deletedHit); got != 6 {
			t.Errorf("deleted-pod hits = %v, want 6", got)
		}
		f.clock.SetTime(f.clock.Now().Add(59 * time.Second))
		f.mustFind(idApp3)
		f.clock.SetTime(f.clock.Now().Add(2 * time.Second))
		for _, id := range []string{idApp3, idApp, idInit} {
			f.mustMiss(id)
		}
		if n := f.c.deleted.len(); n != 0 {
			t.Errorf("%d deleted entries left after the grace period", n)
		}
	})
}

// TestDeletedFinalStateUnknown: a delete the watch missed arrives as a tombstone holding the
// last known pod; its containers must still resolve.
func TestDeletedFinalStateUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		last := webPod(ctr{name: "app", id: idApp, image: nginx})
		tomb, err := trimObject(cache.DeletedFinalStateUnknown{Key: "shop/web-7d9f5c-x2x4q", Obj: last})
		if err != nil {
			t.Fatal(err)
		}
		f.c.podDeleted(tomb)
		// Gone from the store too, as after the informer's relist.
		if err := f.c.pods.GetStore().Delete(last); err != nil {
			t.Fatal(err)
		}
		if m := f.mustFind(idApp); !m.Deleted || m.Pod.Deployment != "web" {
			t.Errorf("tombstoned pod: %+v", m)
		}
		f.c.podDeleted(cache.DeletedFinalStateUnknown{Key: "x", Obj: "not a pod"}) // ignored, no panic
	})
}

func TestOwners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sts, ds, jb, orphanRS := ownerRef("StatefulSet", "db"), ownerRef("DaemonSet", "agent"), ownerRef("Job", "report-2900"), ownerRef("ReplicaSet", "cache-6f7b8")
		id := func(s string) string { return hexID("owner-" + s) }
		pods := []runtime.Object{
			namespace("shop", nil),
			job("shop", "report-2900", "report"),
			makePod(podSpec{ns: "shop", name: "db-0", node: node, owner: &sts, main: []ctr{{name: "c", id: id("sts"), image: "postgres:17"}}}),
			makePod(podSpec{ns: "shop", name: "agent-xyz", node: node, owner: &ds, main: []ctr{{name: "c", id: id("ds"), image: "agent:1"}}}),
			makePod(podSpec{ns: "shop", name: "report-2900-abc", node: node, owner: &jb, main: []ctr{{name: "c", id: id("job"), image: "report:1"}}}),
			// ReplicaSet not in the cache: named from the pod-template-hash label.
			makePod(podSpec{ns: "shop", name: "cache-6f7b8-q", node: node, owner: &orphanRS, labels: map[string]string{"pod-template-hash": "6f7b8"},
				main: []ctr{{name: "c", id: id("rs"), image: "redis:7"}}}),
			makePod(podSpec{ns: "shop", name: "bare", node: node, main: []ctr{{name: "c", id: id("bare"), image: "x"}}}),
		}
		f := newFixture(t, pods...)
		for _, tc := range []struct {
			id                   string
			want                 event.Pod
			ownerKind, ownerName string
		}{
			{id("sts"), event.Pod{StatefulSet: "db"}, "StatefulSet", "db"},
			{id("ds"), event.Pod{DaemonSet: "agent"}, "DaemonSet", "agent"},
			{id("job"), event.Pod{Job: "report-2900", CronJob: "report"}, "CronJob", "report"},
			{id("rs"), event.Pod{ReplicaSet: "cache-6f7b8", Deployment: "cache"}, "Deployment", "cache"},
			{id("bare"), event.Pod{}, "", ""},
		} {
			m := f.mustFind(tc.id)
			p := m.Pod
			got := event.Pod{ReplicaSet: p.ReplicaSet, Deployment: p.Deployment, StatefulSet: p.StatefulSet, DaemonSet: p.DaemonSet, Job: p.Job, CronJob: p.CronJob}
			if !reflect.DeepEqual(got, tc.want) || m.OwnerKind != tc.ownerKind || m.OwnerName != tc.ownerName {
				t.Errorf("pod %s: owners %+v top %s/%s, want %+v top %s/%s", p.Name, got, m.OwnerKind, m.OwnerName, tc.want, tc.ownerKind, tc.ownerName)
			}
		}
	})
}

// TestOwnerArrivesLater: a pod seen before its ReplicaSet is re-resolved when the ReplicaSet
// arrives, because the snapshot depends on the owner generation.
func TestOwnerArrivesLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rs := ownerRef("ReplicaSet", "front-abc")
		f := newFixture(t, makePod(podSpec{ns: "web", name: "front-abc-1", node: node, owner: &rs, main: []ctr{{name: "c", id: idJob, image: "x"}}}))
		if m := f.mustFind(idJob); m.Pod.Deployment != "" {
			t.Fatalf("deployment %q before the ReplicaSet is known (no hash label)", m.Pod.Deployment)
		}
		if _, err := f.cs.AppsV1().ReplicaSets("web").Create(context.Background(), replicaSet("web", "front-abc", "frontend"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if m := f.mustFind(idJob); m.Pod.Deployment != "frontend" {
			t.Errorf("deployment %q after the ReplicaSet arrived, want frontend", m.Pod.Deployment)
		}
	})
}

func TestEnrichAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		for _, tc := range []struct {
			name  string
			id    string
			want  alert.K8sLookup
			check func(t *testing.T, k *alert.K8sMeta)
		}{
			{"known container", idApp[:12], alert.K8sFound, func(t *testing.T, k *alert.K8sMeta) {
				if k.PodName != "web-7d9f5c-x2x4q" || k.Namespace != "shop" || k.Deployment != "web" || k.ReplicaSet != "web-7d9f5c" ||
					k.Image != nginx || k.Labels["app"] != "web" || k.PodIP != "10.1.2.3" || k.NodeName != node ||
					k.ContainerName != "app" || k.ContainerID != idApp || k.OwnerKind != "Deployment" || k.OwnerName != "web" ||
					k.PodUID == "" || k.NamespaceLabels["team"] != "payments" {
					t.Errorf("k8s meta %+v", k)
				}
			}},
			{"unknown container", hexID("nobody"), alert.K8sUnknownContainer, nil},
			{"other node's container", idOther, alert.K8sUnknownContainer, nil},
			{"host", "host", alert.K8sNotLooked, nil},
			{"no container", "", alert.K8sNotLooked, nil},
		} {
			func() { // t.Run is not allowed inside a synctest bubble
				a := &alert.Alert{Rule: "Terminal shell in container", K8s: &alert.K8sMeta{PodName: "stale"}}
				f.c.Enrich(a, tc.id)
				if a.K8sLookup != tc.want {
					t.Errorf("%s: lookup %q, want %q", tc.name, a.K8sLookup, tc.want)
				}
				if (a.K8s != nil) != (tc.check != nil) {
					t.Fatalf("%s: K8s = %+v", tc.name, a.K8s)
				}
				if tc.check != nil {
					tc.check(t, a.K8s)
				}
			}()
		}
		if got := testutil.ToFloat64(f.c.m.hit); got != 1 {
			t.Errorf("hits %v, want 1", got)
		}
		if got := testutil.ToFloat64(f.c.m.miss); got != 2 {
			t.Errorf("misses %v, want 2", got)
		}
	})
}

func TestEnrichBeforeSync(t *testing.T) {
	c, err := New(fake.NewClientset(), Config{NodeName: node}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &alert.Alert{}
	c.Enrich(a, idApp)
	if a.K8s != nil || a.K8sLookup != alert.K8sCacheNotSynced || a.K8sLookup.String() != "cache_not_synced" {
		t.Errorf("before sync: %+v %q", a.K8s, a.K8sLookup)
	}
}

func TestMetricsRegistered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, baseObjects()...)
		f.mustFind(idApp)
		want := map[string]float64{"lanner_enrich_pods": 2, "lanner_enrich_synced": 1, "lanner_enrich_owner_objects": 1, "lanner_enrich_deleted_entries": 0}
		mfs, err := f.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, mf := range mfs {
			seen[mf.GetName()] = true
			if w, ok := want[mf.GetName()]; ok && mf.GetMetric()[0].GetGauge().GetValue() != w {
				t.Errorf("%s = %v, want %v", mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue(), w)
			}
		}
		for name := range want {
			if !seen[name] {
				t.Errorf("metric %s not registered", name)
			}
		}
		if !seen["lanner_enrich_lookups_total"] {
			t.Error("lanner_enrich_lookups_total not registered")
		}
		// A second cache on the same registry is a clear error, not a panic.
		if _, err := New(f.cs, Config{NodeName: node}, nil, f.reg); err == nil {
			t.Error("registering twice succeeded")
		}
	})
}

func TestConfigErrors(t *testing.T) {
	cs := fake.NewClientset()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no node", Config{}},
		{"node and all nodes", Config{NodeName: "a", AllNodes: true}},
		{"negative grace", Config{NodeName: "a", DeletedPodGrace: -1}},
		{"negative size", Config{NodeName: "a", MaxDeletedPods: -1}},
		{"negative resync", Config{NodeName: "a", Resync: -time.Second}},
	} {
		if _, err := New(cs, tc.cfg, nil, nil); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := New(nil, Config{NodeName: "a"}, nil, nil); err == nil {
		t.Error("nil client: no error")
	}
}
