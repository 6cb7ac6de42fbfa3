package event

// HostContainerID is Falco's container.id for processes that are not in a container.
const HostContainerID = "host"

// Container describes the container a thread runs in. The state package creates it from the
// cgroup path (ID, FullID, Runtime); the enrich package fills in runtime and Kubernetes metadata.
type Container struct {
	// ID is the 12-character short id, or "host".
	ID string
	// FullID is the 64-character id as the runtime reports it.
	FullID  string
	Runtime string
	Name    string
	// Image is the full image reference; ImageRepository and ImageTag its parts.
	Image, ImageRepository, ImageTag, ImageDigest string
	// Privileged is meaningful only when PrivilegedKnown is set.
	Privileged, PrivilegedKnown bool
	// Pod is the Kubernetes pod the container belongs to; nil outside Kubernetes or while unknown.
	Pod *Pod
}

// IsHost reports whether c stands for the host rather than a container.
func (c *Container) IsHost() bool { return c.ID == HostContainerID }

// Pod is the Kubernetes metadata lanner attaches to containers and alerts.
type Pod struct {
	Name, Namespace, UID, IP string
	Labels                   map[string]string
	NamespaceLabels          map[string]string
	// Workload owners, resolved through owner references.
	ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob string
	NodeName                                                     string
}
