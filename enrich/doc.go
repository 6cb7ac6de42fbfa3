// Package enrich keeps a node-local cache of Kubernetes pod metadata and uses it to give events
// and alerts their Kubernetes context: pod, namespace, labels, IP, the workload that owns the
// pod (Deployment through its ReplicaSet, CronJob through its Job, StatefulSet, DaemonSet) and
// the container's name and image.
//
// The cache is a set of client-go shared informers: pods of this node only (field selector
// spec.nodeName, so the API server sends ~110 pods, not the cluster's 10,000), namespaces, and
// the two owner kinds whose own owner names the workload (ReplicaSets, Jobs), all stripped to
// the few fields lanner reads before they are stored. Pods are indexed by container id (the
// 64-hex id and its 12-character short form, for every init, regular and ephemeral container,
// and the previous instance of a restarted container). Pods that were deleted, and containers
// that were replaced, stay resolvable for a grace period so that late events still enrich.
// Falco removed its in-process Kubernetes client after it overloaded API servers on large
// clusters; this design keeps the watch load per node proportional to the node's pods.
//
// The cache is read through PodByContainerID and Container (goroutine-safe), Enrich (alerts)
// and an Annotator (sets event.Container.Pod for the k8s.* rule fields on the event path).
package enrich
