package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

func TestParseIDFile(t *testing.T) {
	m := parseIDFile([]byte("root:x:0:0:root:/root:/bin/bash\n# comment\n\nbad\nnobody:x:65534:65534::/:/sbin/nologin\ntoor:x:0:0::/:/bin/sh\nneg:x:-1:0\n:x:5:5\n"))
	want := map[uint32]string{0: "root", 65534: "nobody"}
	if len(m) != len(want) {
		t.Fatalf("parsed %v, want %v", m, want)
	}
	for id, name := range want {
		if m[id] != name {
			t.Errorf("id %d = %q, want %q", id, m[id], name)
		}
	}
}

func TestNamesRefresh(t *testing.T) {
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, data string, mod time.Time) {
		p := filepath.Join(etc, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1_700_000_000, 0)
	write("passwd", "alice:x:1000:1000::/:/bin/sh\n", t0)
	write("group", "staff:x:50:\n", t0)
	n := newNames(root)
	now := time.Now()
	if got := n.user(1000, now); got != "alice" {
		t.Errorf("user 1000 = %q", got)
	}
	if got := n.group(50, now); got != "staff" {
		t.Errorf("group 50 = %q", got)
	}
	write("passwd", "bob:x:1000:1000::/:/bin/sh\n", t0.Add(time.Second))
	if got := n.user(1000, now.Add(time.Second)); got != "alice" {
		t.Errorf("re-read before the refresh interval: %q", got)
	}
	if got := n.user(1000, now.Add(namesRefresh+time.Second)); got != "bob" {
		t.Errorf("after the file changed: %q, want bob", got)
	}
	if got := n.user(4242, now.Add(namesRefresh+time.Second)); got != "" {
		t.Errorf("unknown uid named %q", got)
	}
}

func TestNamesHost(t *testing.T) {
	n := newNames("/")
	if got := n.user(0, time.Now()); got != "root" {
		t.Errorf("uid 0 on this host = %q, want root", got)
	}
}

// A container's users come from its own /etc/passwd, through a live process's root; when that
// process is gone the names already read stay.
func TestContainerNames(t *testing.T) {
	proc := t.TempDir()
	etc := filepath.Join(proc, "42", "root", "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte("app:x:1000:1000::/:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "group"), []byte("appg:x:1000:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{ProcRoot: proc, HostRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := s.container("3f4a1c2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a", RuntimeDocker)
	th := &event.Thread{Pid: 42, UID: 1000, GID: 1000, LoginUID: event.LoginUIDUnset, Container: c}
	now := time.Now()
	s.names(th, now)
	if th.User != "app" || th.Group != "appg" {
		t.Fatalf("container user %q group %q, want app appg", th.User, th.Group)
	}
	host := &event.Thread{Pid: 42, UID: 1000, LoginUID: event.LoginUIDUnset, Container: s.host}
	s.names(host, now)
	if host.User != "" {
		t.Errorf("host thread named %q from the container's passwd", host.User)
	}
	if err := os.RemoveAll(filepath.Join(proc, "42")); err != nil {
		t.Fatal(err)
	}
	other := &event.Thread{Pid: 43, UID: 1000, GID: 1000, LoginUID: event.LoginUIDUnset, Container: c}
	s.names(other, now.Add(2*namesRefresh))
	if other.User != "app" {
		t.Errorf("after the first process exited: user %q, want app", other.User)
	}
}
