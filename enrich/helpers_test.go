package enrich

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// hexID makes a 64-hex container id from a seed, as runtimes do (random-looking, distinct in
// its first 12 characters).
func hexID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

func isController() *bool { t := true; return &t }

func ownerRef(kind, name string) metav1.OwnerReference {
	return metav1.OwnerReference{Kind: kind, Name: name, Controller: isController(), UID: types.UID("uid-" + name)}
}

// podSpec describes a test pod compactly.
type podSpec struct {
	ns, name, node string
	owner          *metav1.OwnerReference
	labels         map[string]string
	// containers: name -> id (without prefix; "" for not started)
	init, main, ephemeral []ctr
}

type ctr struct {
	name, id, image, prevID string
}

func makePod(s podSpec) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.ns, Name: s.name, UID: types.UID("uid-" + s.ns + "-" + s.name), Labels: s.labels,
			Annotations:   map[string]string{"team": "shop", lastApplied: strings.Repeat("x", 1000)},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec:   corev1.PodSpec{NodeName: s.node},
		Status: corev1.PodStatus{PodIP: "10.1.2.3", Phase: corev1.PodRunning},
	}
	if s.owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*s.owner}
	}
	status := func(c ctr) corev1.ContainerStatus {
		st := corev1.ContainerStatus{Name: c.name}
		if c.id != "" {
			st.ContainerID = "containerd://" + c.id
			st.Image = c.image
			st.ImageID = strings.SplitN(c.image, ":", 2)[0] + "@sha256:" + hexID(c.image)
		}
		if c.prevID != "" {
			st.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ContainerID: "containerd://" + c.prevID}
		}
		return st
	}
	for _, c := range s.init {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: c.name, Image: c.image})
		p.Status.InitContainerStatuses = append(p.Status.InitContainerStatuses, status(c))
	}
	for _, c := range s.main {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c.name, Image: c.image})
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, status(c))
	}
	for _, c := range s.ephemeral {
		p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: c.name, Image: c.image}})
		p.Status.EphemeralContainerStatuses = append(p.Status.EphemeralContainerStatuses, status(c))
	}
	return p
}

func replicaSet(ns, name, deployment string) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	if deployment != "" {
		rs.OwnerReferences = []metav1.OwnerReference{ownerRef("Deployment", deployment)}
	}
	return rs
}

func job(ns, name, cronjob string) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}}
	if cronjob != "" {
		j.OwnerReferences = []metav1.OwnerReference{ownerRef("CronJob", cronjob)}
	}
	return j
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// honourPodFieldSelector makes the fake clientset filter pod lists and watches by the
// spec.nodeName field selector, as the API server does (the fake ignores field selectors).
func honourPodFieldSelector(t testing.TB, cs *fake.Clientset) {
	t.Helper()
	podsGVR := corev1.SchemeGroupVersion.WithResource("pods")
	podsGVK := corev1.SchemeGroupVersion.WithKind("Pod")
	matches := func(sel fields.Selector, obj runtime.Object) bool {
		p, ok := obj.(*corev1.Pod)
		return !ok || sel.Matches(fields.Set{"spec.nodeName": p.Spec.NodeName})
	}
	selector := func(f fields.Selector) fields.Selector {
		if f == nil {
			return fields.Everything()
		}
		return f
	}
	cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		la := a.(k8stesting.ListAction)
		sel := selector(la.GetListRestrictions().Fields)
		obj, err := cs.Tracker().List(podsGVR, podsGVK, la.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		list := obj.(*corev1.PodList)
		kept := list.Items[:0]
		for i := range list.Items {
			if matches(sel, &list.Items[i]) {
				kept = append(kept, list.Items[i])
			}
		}
		list.Items = kept
		return true, list, nil
	})
	cs.PrependWatchReactor("pods", func(a k8stesting.Action) (bool, watch.Interface, error) {
		wa := a.(k8stesting.WatchAction)
		sel := selector(wa.GetWatchRestrictions().Fields)
		w, err := cs.Tracker().Watch(podsGVR, wa.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		return true, watch.Filter(w, func(ev watch.Event) (watch.Event, bool) { return ev, matches(sel, ev.Object) }), nil
	})
}

func counterValue(t testing.TB, c interface{ Desc() *prometheus.Desc }) float64 {
	t.Helper()
	return testutil.ToFloat64(c.(prometheus.Collector))
}
