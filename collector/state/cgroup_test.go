package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

const (
	id1 = "3f4a1c2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
	id2 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func TestContainerFromPath(t *testing.T) {
	tests := []struct {
		path, id, runtime string
	}{
		{"/docker/" + id1, id1, RuntimeDocker},
		{"/system.slice/docker-" + id1 + ".scope", id1, RuntimeDocker},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234.slice/cri-containerd-" + id1 + ".scope", id1, RuntimeContainerd},
		{"/kubepods/besteffort/pod0bf1b2c0-4c8f-4f55-9c8f-1f2e3d4c5b6a/" + id1, id1, RuntimeCRI},
		{"/kubepods-besteffort-pod1234.slice:cri-containerd:" + id1, id1, RuntimeContainerd},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podabc.slice/crio-" + id1 + ".scope", id1, RuntimeCRIO},
		{"/kubepods/burstable/podabc/crio-" + id1, id1, RuntimeCRIO},
		{"/machine.slice/libpod-" + id1 + ".scope", id1, RuntimePodman},
		{"/machine.slice/libpod-" + id1 + ".scope/container", id1, RuntimePodman},
		{"/libpod_parent/libpod-" + id1, id1, RuntimePodman},
		// a container's own systemd unit below its scope: the id is found higher up
		{"/system.slice/docker-" + id1 + ".scope/system.slice/nginx.service", id1, RuntimeDocker},
		// pod slice above, container below: the innermost id wins
		{"/docker/" + id2 + "/docker/" + id1, id1, RuntimeDocker},
	}
	for _, tt := range tests {
		id, rt, ok := ContainerFromPath(tt.path)
		if !ok || id != tt.id || rt != tt.runtime {
			t.Errorf("ContainerFromPath(%q) = %q, %q, %v; want %q, %q", tt.path, id, rt, ok, tt.id, tt.runtime)
		}
	}
}

func TestContainerFromPathHost(t *testing.T) {
	for _, path := range []string{
		"/",
		"",
		"/process_api/882224e7dfc0c4252800192fe03222c8", // the sandbox's memory cgroup: 32 hex, not a container
		"/user.slice/user-1000.slice/session-2.scope",
		"/system.slice/containerd.service",
		"/kubepods.slice/kubepods-burstable.slice/crio-conmon-" + id1 + ".scope", // cri-o's monitor, not the container
		"/docker/" + strings.ToUpper(id1),
		"/docker/" + id1[:63],
		"/default/mycontainer",
	} {
		if id, rt, ok := ContainerFromPath(path); ok {
			t.Errorf("ContainerFromPath(%q) = %q, %q; want a host process", path, id, rt)
		}
	}
}

func TestContainerFromCgroup(t *testing.T) {
	tests := []struct {
		name, content, id string
	}{
		{"cgroup v2 only", "0::/docker/" + id1 + "\n", id1},
		{"hybrid, id in v1 memory only", "12:memory:/docker/" + id1 + "\n0::/\n", id1},
		{"sandbox", "4:memory:/process_api/882224e7dfc0c4252800192fe03222c8\n0::/\n", ""},
		{"garbage", "nonsense\n::\n:x\n", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		id, _, ok := ContainerFromCgroup(tt.content)
		if id != tt.id || ok != (tt.id != "") {
			t.Errorf("%s: ContainerFromCgroup = %q, %v; want %q", tt.name, id, ok, tt.id)
		}
	}
}

// The machine's own processes are host processes, whatever their sandbox cgroup looks like.
func TestContainerFromCgroupSelf(t *testing.T) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skipf("no /proc/self/cgroup: %v", err)
	}
	for _, rt := range []string{"docker", "kubepods", "containerd", "crio", "libpod"} {
		if strings.Contains(string(b), rt) {
			t.Skipf("this test runs inside a %s container", rt)
		}
	}
	if id, _, ok := ContainerFromCgroup(string(b)); ok {
		t.Errorf("this test process was taken for container %s; /proc/self/cgroup:\n%s", id, b)
	}
}

// TestFindCgroup resolves a cgroup id to its path by searching the real cgroup2 hierarchy, as
// the state does for records of processes that exited before they were read.
func TestFindCgroup(t *testing.T) {
	root := cgroup2Mount("/proc")
	if root == "" {
		t.Skip("no cgroup2 hierarchy mounted")
	}
	dir := filepath.Join(root, "docker", id2)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cannot create a cgroup (needs root): %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(dir); _ = os.Remove(filepath.Join(root, "docker")) })
	s, err := New(Config{CgroupRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	id := cgroupInode(dir)
	path, ok := s.findCgroup(id)
	if !ok || path != "/docker/"+id2 {
		t.Fatalf("findCgroup(%d) = %q, %v; want /docker/%s", id, path, ok, id2)
	}
	if _, ok := s.findCgroup(1<<62 + 12345); ok {
		t.Errorf("found a cgroup for an id that does not exist")
	}
	// A record of a gone process in that cgroup: the container comes from the id alone.
	th := s.insert(&event.Thread{Tid: 4_100_000, Pid: 4_100_000}, 1)
	s.containerByCgroupID(th, id)
	if c := th.t.Container; c == nil || c.ID != id2[:12] || c.Runtime != RuntimeDocker {
		t.Errorf("container %+v, want %s", c, id2[:12])
	}
}
