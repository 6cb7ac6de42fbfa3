package fields

import (
	"sort"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

func containerOf(e *event.Event) *event.Container {
	t := thread(e)
	if t == nil {
		return nil
	}
	return t.Container
}

// containerMeta reads runtime metadata of the event's container. Falco's container plugin
// reports the host as a container whose id, full id, name and type are "host" and whose image
// fields are empty, and a container whose
// runtime lookup has not completed as missing metadata; lanner cannot tell an empty value from a
// pending one, so an empty value of a real container counts as missing.
func containerMeta(get func(c *event.Container) string) strFn {
	return func(e *event.Event) (string, bool) {
		c := containerOf(e)
		if c == nil {
			return "", false
		}
		v := get(c)
		if c.IsHost() {
			return v, true
		}
		return v, v != ""
	}
}

func podOf(e *event.Event) *event.Pod {
	c := containerOf(e)
	if c == nil || c.IsHost() {
		return nil
	}
	return c.Pod
}

func podStr(get func(p *event.Pod) string) strFn {
	return func(e *event.Event) (string, bool) {
		p := podOf(e)
		if p == nil {
			return "", false
		}
		v := get(p)
		return v, v != ""
	}
}

// renderLabels renders a label map as the container plugin prints k8s.pod.labels: "key:value"
// pairs sorted by key, ", " separated, without the runtime's own io.kubernetes.* and
// annotation.* keys.
func renderLabels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if strings.HasPrefix(k, "annotation.") || strings.HasPrefix(k, "io.kubernetes.") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		if v := m[k]; v != "" {
			b.WriteByte(':')
			b.WriteString(v)
		}
	}
	return b.String()
}

func labelField(name, desc string, labels func(p *event.Pod) map[string]string) *Field {
	return &Field{Name: name, Type: TypeCharBuf, Flags: ArgRequired | ArgKey, Desc: desc, ArgDesc: "label key",
		Build: func(arg string, hasArg bool) (*Extractor, error) {
			if err := validKey(arg); err != nil {
				return nil, err
			}
			return &Extractor{Str: func(e *event.Event) (string, bool) {
				p := podOf(e)
				if p == nil {
					return "", false
				}
				v, ok := labels(p)[arg]
				return v, ok
			}}, nil
		}}
}

func labelsField(name, desc string, labels func(p *event.Pod) map[string]string) *Field {
	return strField(name, 0, desc, func(e *event.Event) (string, bool) {
		p := podOf(e)
		if p == nil {
			return "", false
		}
		return renderLabels(labels(p)), true
	})
}

func podLabels(p *event.Pod) map[string]string { return p.Labels }
func nsLabels(p *event.Pod) map[string]string  { return p.NamespaceLabels }

func containerFields(*config) []*Field {
	return []*Field{
		strField("container.id", Suggested, "The container id (12 characters) from the cgroups of the process, or 'host' for processes outside containers.",
			func(e *event.Event) (string, bool) {
				c := containerOf(e)
				if c == nil || c.ID == "" {
					return "", false
				}
				return c.ID, true
			}),
		strField("container.full_id", 0, "The full container id as the runtime reports it.",
			containerMeta(func(c *event.Container) string {
				if c.IsHost() {
					return event.HostContainerID
				}
				return c.FullID
			})),
		strField("container.name", Suggested, "The container name from the runtime; 'host' for processes outside containers.",
			containerMeta(func(c *event.Container) string {
				if c.IsHost() {
					return event.HostContainerID
				}
				return c.Name
			})),
		strField("container.image", 0, "The container image reference (falcosecurity/falco:latest).",
			containerMeta(func(c *event.Container) string { return c.Image })),
		strField("container.type", 0, "The container runtime: docker, containerd, cri-o, podman...",
			containerMeta(func(c *event.Container) string {
				if c.IsHost() {
					return "host"
				}
				return c.Runtime
			})),
		boolField("container.privileged", 0, "True for privileged containers.",
			func(e *event.Event) (bool, bool) {
				c := containerOf(e)
				if c == nil {
					return false, false
				}
				if c.IsHost() {
					return false, true
				}
				return c.Privileged, c.PrivilegedKnown
			}),
		strField("container.image.repository", Suggested, "The repository of the container image (falcosecurity/falco).",
			containerMeta(func(c *event.Container) string { return c.ImageRepository })),
		strField("container.image.tag", Suggested, "The tag of the container image (latest).",
			containerMeta(func(c *event.Container) string { return c.ImageTag })),
		strField("container.image.digest", 0, "The registry digest of the container image (sha256:...).",
			containerMeta(func(c *event.Container) string { return c.ImageDigest })),
		numField("container.start_ts", TypeAbsTime, 0, "Container start in nanoseconds since the epoch: the start of the init process of the process's pid namespace.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.PidnsInitStart, t.PidnsInitStart != 0 })),
		numField("container.duration", TypeRelTime, 0, "Nanoseconds since container.start_ts.",
			func(e *event.Event) (int64, bool) {
				t := thread(e)
				if t == nil || t.PidnsInitStart == 0 {
					return 0, false
				}
				return e.Time - t.PidnsInitStart, true
			}),
		strField("k8s.pod.name", Suggested, "The Kubernetes pod name.", podStr(func(p *event.Pod) string { return p.Name })),
		strField("k8s.ns.name", Suggested, "The Kubernetes namespace name.", podStr(func(p *event.Pod) string { return p.Namespace })),
		strField("k8s.pod.id", Deprecated, "Legacy name of k8s.pod.uid.", podStr(func(p *event.Pod) string { return p.UID })),
		strField("k8s.pod.uid", 0, "The Kubernetes pod UID.", podStr(func(p *event.Pod) string { return p.UID })),
		labelField("k8s.pod.label", "The value of one label of the pod (k8s.pod.label.app or k8s.pod.label[app.kubernetes.io/name]).", podLabels),
		labelsField("k8s.pod.labels", "The labels of the pod as 'key:value' pairs, comma separated.", podLabels),
		strField("k8s.pod.ip", 0, "The IP address of the pod.", podStr(func(p *event.Pod) string { return p.IP })),
		labelField("k8s.ns.label", "The value of one label of the pod's namespace.", nsLabels),
		labelsField("k8s.ns.labels", "The labels of the pod's namespace as 'key:value' pairs, comma separated.", nsLabels),
		strField("k8s.rs.name", 0, "The ReplicaSet that owns the pod.", podStr(func(p *event.Pod) string { return p.ReplicaSet })),
		strField("k8s.deployment.name", 0, "The Deployment that owns the pod, through its ReplicaSet.", podStr(func(p *event.Pod) string { return p.Deployment })),
		strField("k8s.statefulset.name", 0, "The StatefulSet that owns the pod (lanner addition).", podStr(func(p *event.Pod) string { return p.StatefulSet })),
		strField("k8s.daemonset.name", 0, "The DaemonSet that owns the pod (lanner addition).", podStr(func(p *event.Pod) string { return p.DaemonSet })),
		strField("k8s.job.name", 0, "The Job that owns the pod (lanner addition).", podStr(func(p *event.Pod) string { return p.Job })),
		strField("k8s.cronjob.name", 0, "The CronJob that owns the pod's Job (lanner addition).", podStr(func(p *event.Pod) string { return p.CronJob })),
		strField("k8s.node.name", 0, "The node the pod runs on (lanner addition).", podStr(func(p *event.Pod) string { return p.NodeName })),
	}
}
