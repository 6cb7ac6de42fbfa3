package state

import (
	"strings"
)

// Container runtimes named by ContainerFromCgroup.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
	RuntimeCRI        = "cri" // a Kubernetes runtime whose kind the path does not tell
)

// runtimePrefixes are the component prefixes runtimes put before the id (systemd cgroup driver
// layouts: docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope).
var runtimePrefixes = []struct{ prefix, runtime string }{
	{"docker-", RuntimeDocker},
	{"cri-containerd-", RuntimeContainerd},
	{"crio-", RuntimeCRIO},
	{"libpod-", RuntimePodman},
}

// ContainerFromCgroup finds the container id in the contents of /proc/PID/cgroup. It accepts
// only 64-hex-digit ids, which is what docker, containerd, cri-o and podman use: shorter hex
// names (such as a sandbox's /process_api/<32 hex> memory cgroup) are not containers. ok is false
// for host processes.
func ContainerFromCgroup(content string) (id, runtime string, ok bool) {
	for line := range strings.SplitSeq(content, "\n") {
		// hierarchy-ID:controller-list:cgroup-path
		i := strings.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		j := strings.IndexByte(line[i+1:], ':')
		if j < 0 {
			continue
		}
		if id, rt, ok := ContainerFromPath(line[i+1+j+1:]); ok {
			return id, rt, true
		}
	}
	return "", "", false
}

// ContainerFromPath finds the container id in one cgroup path, searching from its end, so a
// container nested under a pod's cgroup is found by its own component.
func ContainerFromPath(path string) (id, runtime string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for k := len(parts) - 1; k >= 0; k-- {
		c := parts[k]
		// podman with systemd: .../libpod-<id>.scope/container
		if c == "container" {
			continue
		}
		c = strings.TrimSuffix(c, ".scope")
		rt := ""
		for _, p := range runtimePrefixes {
			if strings.HasPrefix(c, p.prefix) {
				c, rt = c[len(p.prefix):], p.runtime
				break
			}
		}
		// containerd without the systemd driver: <pod slice>:cri-containerd:<id>
		if i := strings.LastIndexByte(c, ':'); i >= 0 {
			if strings.Contains(c[:i], "cri-containerd") {
				rt = RuntimeContainerd
			}
			c = c[i+1:]
		}
		if !isHex64(c) {
			continue
		}
		if rt == "" {
			rt = runtimeFromParents(parts[:k])
		}
		return c, rt, true
	}
	return "", "", false
}

// runtimeFromParents guesses the runtime of a bare <id> component from the directories above it
// (cgroupfs driver layouts: /docker/<id>, /kubepods/.../pod<uid>/<id>, /machine.slice/...).
func runtimeFromParents(parents []string) string {
	for k := len(parents) - 1; k >= 0; k-- {
		p := parents[k]
		switch {
		case p == "docker":
			return RuntimeDocker
		case p == "libpod_parent" || strings.HasPrefix(p, "libpod"):
			return RuntimePodman
		case strings.HasPrefix(p, "kubepods"):
			return RuntimeCRI
		}
	}
	return RuntimeDocker
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
