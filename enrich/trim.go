package enrich

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl's copy of the whole object in an annotation: often the largest part of
// a pod, and of no use to an alert.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// trimObject is the informers' transform: it keeps only what the cache reads, before the object
// is stored, so that a node's cache holds a few KiB per pod rather than the full object with its
// managedFields. It builds new objects instead of editing its argument.
func trimObject(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return trimPod(o), nil
	case *corev1.Namespace:
		return &corev1.Namespace{ObjectMeta: trimMeta(&o.ObjectMeta, false)}, nil
	case *appsv1.ReplicaSet:
		return &appsv1.ReplicaSet{ObjectMeta: trimMeta(&o.ObjectMeta, false)}, nil
	case *batchv1.Job:
		return &batchv1.Job{ObjectMeta: trimMeta(&o.ObjectMeta, false)}, nil
	case cache.DeletedFinalStateUnknown:
		if inner, err := trimObject(o.Obj); err == nil {
			o.Obj = inner
		}
		return o, nil
	}
	return obj, nil
}

// trimMeta keeps identity, labels and owners (and, for pods, annotations without kubectl's
// last-applied copy).
func trimMeta(m *metav1.ObjectMeta, annotations bool) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name:            m.Name,
		Namespace:       m.Namespace,
		UID:             m.UID,
		ResourceVersion: m.ResourceVersion,
		Labels:          m.Labels,
		OwnerReferences: m.OwnerReferences,
	}
	if annotations && len(m.Annotations) > 0 {
		if _, ok := m.Annotations[lastApplied]; ok {
			out.Annotations = make(map[string]string, len(m.Annotations)-1)
			for k, v := range m.Annotations {
				if k != lastApplied {
					out.Annotations[k] = v
				}
			}
		} else {
			out.Annotations = m.Annotations
		}
	}
	return out
}

func trimPod(p *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: trimMeta(&p.ObjectMeta, true)}
	out.Spec.NodeName = p.Spec.NodeName
	out.Spec.InitContainers = trimContainers(p.Spec.InitContainers)
	out.Spec.Containers = trimContainers(p.Spec.Containers)
	if n := len(p.Spec.EphemeralContainers); n > 0 {
		out.Spec.EphemeralContainers = make([]corev1.EphemeralContainer, n)
		for i, c := range p.Spec.EphemeralContainers {
			out.Spec.EphemeralContainers[i].Name = c.Name
			out.Spec.EphemeralContainers[i].Image = c.Image
		}
	}
	out.Status.Phase = p.Status.Phase
	out.Status.PodIP = p.Status.PodIP
	out.Status.InitContainerStatuses = trimStatuses(p.Status.InitContainerStatuses)
	out.Status.ContainerStatuses = trimStatuses(p.Status.ContainerStatuses)
	out.Status.EphemeralContainerStatuses = trimStatuses(p.Status.EphemeralContainerStatuses)
	return out
}

func trimContainers(in []corev1.Container) []corev1.Container {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(in))
	for i, c := range in {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image}
	}
	return out
}

func trimStatuses(in []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(in) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(in))
	for i, s := range in {
		out[i] = corev1.ContainerStatus{Name: s.Name, ContainerID: s.ContainerID, Image: s.Image, ImageID: s.ImageID}
		if t := s.LastTerminationState.Terminated; t != nil && t.ContainerID != "" {
			out[i].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ContainerID: t.ContainerID}
		}
	}
	return out
}
