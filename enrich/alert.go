package enrich

import (
	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
)

// ContainerIDOf returns the id of the container a syscall event ran in: the full id when known,
// else the short one; "" for audit events and events without a thread, and "host" for the host.
func ContainerIDOf(e *event.Event) string {
	if e == nil || e.Sys == nil || e.Sys.Thread == nil || e.Sys.Thread.Container == nil {
		return ""
	}
	c := e.Sys.Thread.Container
	if c.FullID != "" {
		return c.FullID
	}
	return c.ID
}

// Enrich sets a.K8s to the Kubernetes context of containerID, and a.K8sLookup to the outcome.
// An alert for a container the cache does not know keeps K8s nil and is marked
// K8sUnknownContainer (K8sCacheNotSynced before the initial list), so that it still ships and
// says why it has no pod. Host and empty ids are not looked up (K8sNotLooked).
func (c *Cache) Enrich(a *alert.Alert, containerID string) {
	id := NormalizeContainerID(containerID)
	if id == "" || id == event.HostContainerID {
		a.K8s, a.K8sLookup = nil, alert.K8sNotLooked
		return
	}
	m, ok := c.Container(id)
	if !ok {
		a.K8s = nil
		a.K8sLookup = alert.K8sUnknownContainer
		if !c.HasSynced() {
			a.K8sLookup = alert.K8sCacheNotSynced
		}
		return
	}
	p := m.Pod
	a.K8s = &alert.K8sMeta{
		Namespace:       p.Namespace,
		PodName:         p.Name,
		PodUID:          p.UID,
		NodeName:        p.NodeName,
		ContainerName:   m.Name,
		OwnerKind:       m.OwnerKind,
		OwnerName:       m.OwnerName,
		Labels:          p.Labels,
		Annotations:     m.PodAnnotations,
		PodIP:           p.IP,
		ContainerID:     m.ID,
		Image:           m.Image,
		ImageID:         m.ImageID,
		ReplicaSet:      p.ReplicaSet,
		Deployment:      p.Deployment,
		StatefulSet:     p.StatefulSet,
		DaemonSet:       p.DaemonSet,
		Job:             p.Job,
		CronJob:         p.CronJob,
		NamespaceLabels: p.NamespaceLabels,
	}
	a.K8sLookup = alert.K8sFound
	if m.Deleted {
		a.K8sLookup = alert.K8sFoundDeleted
	}
}
