package elasticsearch

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
)

// decoded returns r's document as decoded JSON.
func decoded(t *testing.T, r *shippers.Record) map[string]any {
	t.Helper()
	b, err := Document(r)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return d
}

func fullK8sMeta() *alert.K8sMeta {
	return &alert.K8sMeta{
		Namespace: "shop", PodName: "web-7d9c-x2x", PodUID: "0d2c0a1e-uid", NodeName: "node-a",
		ContainerName: "nginx", OwnerKind: "Deployment", OwnerName: "web",
		Labels:      map[string]string{"app.kubernetes.io/name": "web", "tier": "front"},
		Annotations: map[string]string{"kubectl.kubernetes.io/restartedAt": "now"},
		PodIP:       "10.244.1.7",
		ContainerID: "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
		Image:       "registry.local:5000/shop/nginx:1.25.3",
		ImageID:     "registry.local:5000/shop/nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111",
		ReplicaSet:  "web-7d9c", Deployment: "web",
		NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "shop", "team": "payments"},
	}
}

// TestDocumentKubernetesExact asserts the whole kubernetes.*, orchestrator.*, container.* and
// lanner.* objects of an enriched alert: nothing missing, nothing extra.
func TestDocumentKubernetesExact(t *testing.T) {
	tests := []struct {
		name   string
		meta   *alert.K8sMeta
		lookup alert.K8sLookup
		want   map[string]any
	}{{
		name: "deployment pod", meta: fullK8sMeta(), lookup: alert.K8sFound,
		want: map[string]any{
			"kubernetes": map[string]any{
				"namespace":        "shop",
				"pod":              map[string]any{"name": "web-7d9c-x2x", "uid": "0d2c0a1e-uid", "ip": "10.244.1.7"},
				"node":             map[string]any{"name": "node-a"},
				"container":        map[string]any{"name": "nginx"},
				"replicaset":       map[string]any{"name": "web-7d9c"},
				"deployment":       map[string]any{"name": "web"},
				"labels":           map[string]any{"app_kubernetes_io/name": "web", "tier": "front"},
				"annotations":      map[string]any{"kubectl_kubernetes_io/restartedAt": "now"},
				"namespace_labels": map[string]any{"kubernetes_io/metadata_name": "shop", "team": "payments"},
			},
			"orchestrator": map[string]any{
				"type": "kubernetes", "namespace": "shop",
				"resource": map[string]any{"type": "pod", "name": "web-7d9c-x2x", "id": "0d2c0a1e-uid",
					"ip": []any{"10.244.1.7"}, "parent": map[string]any{"type": "Deployment"}},
			},
			"container": map[string]any{
				"id":   "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
				"name": "nginx",
				"image": map[string]any{"name": "registry.local:5000/shop/nginx", "tag": []any{"1.25.3"},
					"hash": map[string]any{"all": []any{"sha256:1111111111111111111111111111111111111111111111111111111111111111"}}},
			},
			"lanner": map[string]any{"k8s": map[string]any{"lookup": "found"}},
		},
	}, {
		name: "cronjob pod of a deleted pod, digest-only image",
		meta: &alert.K8sMeta{Namespace: "batch", PodName: "report-28900-abc", PodUID: "u2", NodeName: "node-b",
			ContainerName: "report", OwnerKind: "CronJob", OwnerName: "report", Job: "report-28900", CronJob: "report",
			Image: "busybox@sha256:2222", ImageID: "sha256:2222"},
		lookup: alert.K8sFoundDeleted,
		want: map[string]any{
			"kubernetes": map[string]any{
				"namespace": "batch",
				"pod":       map[string]any{"name": "report-28900-abc", "uid": "u2"},
				"node":      map[string]any{"name": "node-b"},
				"container": map[string]any{"name": "report"},
				"job":       map[string]any{"name": "report-28900"},
				"cronjob":   map[string]any{"name": "report"},
			},
			"orchestrator": map[string]any{
				"type": "kubernetes", "namespace": "batch",
				"resource": map[string]any{"type": "pod", "name": "report-28900-abc", "id": "u2",
					"parent": map[string]any{"type": "CronJob"}},
			},
			"container": map[string]any{
				"id":    "abcdef012345", // the alert's own (short) id: the enricher had none
				"name":  "report",
				"image": map[string]any{"name": "busybox", "tag": []any{"1.25"}, "hash": map[string]any{"all": []any{"sha256:2222"}}},
			},
			"lanner": map[string]any{"k8s": map[string]any{"lookup": "found_deleted_pod"}},
		},
	}, {
		name: "top owner of a kind without a chain field", lookup: alert.K8sFound,
		meta: &alert.K8sMeta{Namespace: "x", PodName: "p", OwnerKind: "DaemonSet", OwnerName: "agent", PodIP: "fd00::7"},
		want: map[string]any{
			"kubernetes": map[string]any{"namespace": "x", "pod": map[string]any{"name": "p", "ip": "fd00::7"},
				"daemonset": map[string]any{"name": "agent"}},
			"orchestrator": map[string]any{"type": "kubernetes", "namespace": "x",
				"resource": map[string]any{"type": "pod", "name": "p", "ip": []any{"fd00::7"}, "parent": map[string]any{"type": "DaemonSet"}}},
			"container": map[string]any{"id": "abcdef012345", "name": "web",
				"image": map[string]any{"name": "nginx", "tag": []any{"1.25"}}},
			"lanner": map[string]any{"k8s": map[string]any{"lookup": "found"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecord(1)
			r.Alert.K8s, r.Alert.K8sLookup = tc.meta, tc.lookup
			d := decoded(t, r)
			for key, want := range tc.want {
				if got := d[key]; !reflect.DeepEqual(got, want) {
					gb, _ := json.Marshal(got)
					wb, _ := json.Marshal(want)
					t.Errorf("%s:\n got  %s\n want %s", key, gb, wb)
				}
			}
		})
	}
}

// TestDocumentLookupWithoutMeta: a miss ships with no kubernetes.* and says why; the alert's
// own k8s.* output fields still give orchestrator.*; no lookup writes no lanner.* at all.
func TestDocumentLookupWithoutMeta(t *testing.T) {
	for _, tc := range []struct {
		lookup alert.K8sLookup
		want   any
	}{
		{alert.K8sUnknownContainer, map[string]any{"k8s": map[string]any{"lookup": "unknown_container"}}},
		{alert.K8sCacheNotSynced, map[string]any{"k8s": map[string]any{"lookup": "cache_not_synced"}}},
		{alert.K8sNotLooked, nil},
	} {
		r := testRecord(1)
		r.Alert.K8sLookup = tc.lookup
		d := decoded(t, r)
		if got := d["lanner"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("lookup %d: lanner = %#v, want %#v", tc.lookup, got, tc.want)
		}
		if got := d["kubernetes"]; got != nil {
			t.Errorf("lookup %d: kubernetes = %#v, want none", tc.lookup, got)
		}
		want := map[string]any{"type": "kubernetes", "namespace": "default",
			"resource": map[string]any{"type": "pod", "name": "web-1"}}
		if got := d["orchestrator"]; !reflect.DeepEqual(got, want) {
			t.Errorf("lookup %d: orchestrator = %#v, want %#v", tc.lookup, got, want)
		}
	}
}

func TestSplitImage(t *testing.T) {
	for _, tc := range []struct{ ref, name, tag string }{
		{"nginx", "nginx", ""},
		{"nginx:1.25", "nginx", "1.25"},
		{"registry.local:5000/shop/nginx", "registry.local:5000/shop/nginx", ""},
		{"registry.local:5000/shop/nginx:1.25.3", "registry.local:5000/shop/nginx", "1.25.3"},
		{"busybox@sha256:abcd", "busybox", ""},
		{"busybox:1.36@sha256:abcd", "busybox", "1.36"},
		{"", "", ""},
	} {
		if n, tg := splitImage(tc.ref); n != tc.name || tg != tc.tag {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", tc.ref, n, tg, tc.name, tc.tag)
		}
	}
}
