package enrich

import (
	"context"
	"fmt"
	goruntime "runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lannersec/lanner/collector/event"
)

const (
	clusterPods  = 10000
	nodePods     = 110 // the kubelet's default maxPods
	clusterNodes = clusterPods / nodePods
)

// clusterObjects builds a cluster of 10,000 pods (2 containers and 1 init container each, with
// realistic labels, annotations and managed fields) spread over 91 nodes, 110 of them on
// node-a, owned by Deployments through ReplicaSets, in 50 namespaces. It returns the objects and
// the container ids of node-a's pods.
func clusterObjects() ([]runtime.Object, []string) {
	var objs []runtime.Object
	var nodeIDs []string
	for n := range 50 {
		objs = append(objs, namespace(fmt.Sprintf("ns-%d", n), map[string]string{"team": fmt.Sprintf("t%d", n%7)}))
	}
	for i := range clusterPods {
		ns := fmt.Sprintf("ns-%d", i%50)
		dep := fmt.Sprintf("svc-%d", i/10)
		rsName := dep + "-5d8f7c9b4"
		if i%10 == 0 {
			objs = append(objs, replicaSet(ns, rsName, dep))
		}
		nodeName := node
		if i >= nodePods {
			nodeName = fmt.Sprintf("node-%d", i%clusterNodes+1)
		}
		rs := ownerRef("ReplicaSet", rsName)
		app, side, init := hexID(fmt.Sprintf("c%d-app", i)), hexID(fmt.Sprintf("c%d-side", i)), hexID(fmt.Sprintf("c%d-init", i))
		p := makePod(podSpec{
			ns: ns, name: fmt.Sprintf("%s-5d8f7c9b4-%05d", dep, i), node: nodeName, owner: &rs,
			labels: map[string]string{"app.kubernetes.io/name": dep, "app.kubernetes.io/part-of": "shop", "pod-template-hash": "5d8f7c9b4", "version": "v1.2.3"},
			init:   []ctr{{name: "init", id: init, image: "registry.example.com/tools/init:1.0"}},
			main:   []ctr{{name: "app", id: app, image: "registry.example.com/shop/" + dep + ":1.2.3"}, {name: "envoy", id: side, image: "envoyproxy/envoy:v1.31.0"}},
		})
		p.ManagedFields = []metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app.kubernetes.io/name":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{}}}}}`)}},
			{Manager: "kubelet", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1", Subresource: "status",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:startTime":{}}}`)}},
		}
		p.Spec.ServiceAccountName = "default"
		if nodeName == node {
			nodeIDs = append(nodeIDs, app, side[:12], init)
		}
		objs = append(objs, p)
	}
	return objs, nodeIDs
}

// runSynced starts a Cache over cs and returns it once its informers have listed; it stops when
// the test or benchmark ends.
func runSynced(tb testing.TB, cs *fake.Clientset, cfg Config) *Cache {
	tb.Helper()
	c, err := New(cs, cfg, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	if err := c.WaitForSync(ctx); err != nil {
		tb.Fatal(err)
	}
	return c
}

// BenchmarkCache measures the cache's heap and its lookup cost with 10,000 pods in the
// cluster, 110 of them on this node, with the node filter (what lanner runs) and without
// (what a cluster-wide watch costs). cache-heap-MiB is the live heap the started and synced
// cache adds (the fake API server's own objects are excluded by measuring before and after).
func BenchmarkCache(b *testing.B) {
	objs, nodeIDs := clusterObjects()
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"node-filtered", Config{NodeName: node}},
		{"all-nodes", Config{AllNodes: true}},
		{"node-filtered-untrimmed", Config{NodeName: node, noTrim: true}},
		{"all-nodes-untrimmed", Config{AllNodes: true, noTrim: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			cs := fake.NewClientset(objs...)
			honourPodFieldSelector(b, cs)
			before := liveHeap()
			c := runSynced(b, cs, mode.cfg)
			// Build every node pod's snapshot once, as steady-state lookups would.
			for _, id := range nodeIDs {
				if _, ok := c.Container(id); !ok {
					b.Fatalf("%s not found", id)
				}
			}
			heap := liveHeap() - before
			pods := len(c.pods.GetStore().ListKeys())
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, ok := c.Container(nodeIDs[i%len(nodeIDs)]); !ok {
					b.Fatal("miss")
				}
				i++
			}
			b.ReportMetric(float64(heap)/(1<<20), "cache-heap-MiB")
			b.ReportMetric(float64(pods), "cached-pods")
		})
	}
}

// BenchmarkLookupMiss is the cost of an unknown container id (a non-Kubernetes container).
func BenchmarkLookupMiss(b *testing.B) {
	objs, _ := clusterObjects()
	cs := fake.NewClientset(objs...)
	honourPodFieldSelector(b, cs)
	c := runSynced(b, cs, Config{NodeName: node})
	id := hexID("nobody")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Container(id); ok {
			b.Fatal("hit")
		}
	}
}

// BenchmarkAnnotateSteadyState is the per-event cost of the Annotator on the event path once
// the container was looked up and nothing changed since: a generation load and a map probe.
func BenchmarkAnnotateSteadyState(b *testing.B) {
	objs, nodeIDs := clusterObjects()
	cs := fake.NewClientset(objs...)
	honourPodFieldSelector(b, cs)
	c := runSynced(b, cs, Config{NodeName: node})
	ctrs := make([]*event.Container, 0, len(nodeIDs))
	for _, id := range nodeIDs {
		ctrs = append(ctrs, &event.Container{ID: id[:12], FullID: id})
	}
	an := c.NewAnnotator()
	for _, ct := range ctrs {
		an.Annotate(ct)
		if ct.Pod == nil {
			b.Fatal("not annotated")
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		an.Annotate(ctrs[i%len(ctrs)])
		i++
	}
}

func liveHeap() uint64 {
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
