//go:build integration && lannerbpf

package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

// seen is what a test keeps of one event: copied in the capture goroutine, because the State
// reuses events and mutates threads.
type seen struct {
	typ       string
	res       int64
	pid       int64
	name      string
	cmdline   string
	exepath   string
	user      string
	ancestors []string // proc.aname[1..]
	apids     []int64
	container string
	runtime   string
	fdName    string
	fdType    string
	renamed   bool
	params    map[string]string
}

type pipeline struct {
	t      *testing.T
	mu     sync.Mutex
	events []seen
	stop   func()
	st     *State
}

// startPipeline runs capture (the stable rules' syscall set plus extra) into a State.
func startPipeline(t *testing.T, extra ...string) *pipeline {
	t.Helper()
	set := capture.DefaultSyscalls()
	for _, name := range extra {
		nr, ok := event.TypeByName(name)
		if !ok {
			t.Fatalf("no syscall %s", name)
		}
		set = append(set, nr)
	}
	if os.Geteuid() != 0 {
		t.Skip("loading eBPF needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN): run the integration tests as root")
	}
	probe, err := capture.Open(capture.Config{RingBytesPerCPU: 4 << 20, Syscalls: set})
	if err != nil {
		t.Fatalf("capture.Open: %v", err)
	}
	st, err := New(Config{BootTime: probe.BootTime()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Scan(); err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, st: st}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rec capture.Record
		_ = probe.Run(ctx, func(raw []byte) {
			if err := capture.DecodeInto(&rec, raw); err != nil {
				t.Errorf("decode: %v", err)
				return
			}
			ev := st.Process(&rec)
			if ev == nil {
				return
			}
			p.mu.Lock()
			p.events = append(p.events, snapshot(ev))
			p.mu.Unlock()
		})
	}()
	p.stop = func() { cancel(); <-done; probe.Close() }
	t.Cleanup(p.stop)
	return p
}

func snapshot(ev *event.Event) seen {
	s := seen{typ: event.TypeName(ev.Type), res: ev.Sys.Res, params: map[string]string{}}
	if th := ev.Sys.Thread; th != nil {
		s.pid, s.name, s.cmdline, s.exepath, s.user = th.Pid, th.Name, th.CmdLine(), th.ExePath, th.User
		for a, n := th.Parent, 0; a != nil && n < 10; a, n = a.Parent, n+1 {
			s.ancestors = append(s.ancestors, a.Name)
			s.apids = append(s.apids, a.Pid)
		}
		if c := th.Container; c != nil {
			s.container, s.runtime = c.ID, c.Runtime
		}
	}
	if fd := ev.Sys.FD; fd != nil {
		s.fdName, s.fdType = fd.Name, fd.Type.String()
	}
	s.renamed = ev.Sys.FDNameChanged
	for _, p := range ev.Sys.Params {
		s.params[p.Name] = p.Value
	}
	return s
}

func (p *pipeline) find(what string, fn func(*seen) bool) *seen {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for i := range p.events {
			if fn(&p.events[i]) {
				s := p.events[i]
				p.mu.Unlock()
				return &s
			}
		}
		p.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("no %s event arrived", what)
	return nil
}

func runCmd(t *testing.T, name string, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return int64(cmd.ProcessState.Pid())
}

func TestPipelineOpenExecAncestry(t *testing.T) {
	p := startPipeline(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "id_rsa")
	if err := os.WriteFile(file, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	// bash -> sh -> cat, the file opened relative to the cwd.
	runCmd(t, "/bin/bash", "-c", "cd "+dir+" && /bin/sh -c 'cat id_rsa >/dev/null; true'; true")

	ex := p.find("execve of cat", func(s *seen) bool { return s.typ == "execve" && s.name == "cat" && s.params["args"] == "id_rsa" })
	if ex.cmdline != "cat id_rsa" || ex.exepath != "/usr/bin/cat" && ex.exepath != "/bin/cat" {
		t.Errorf("exec: cmdline %q exepath %q", ex.cmdline, ex.exepath)
	}
	if len(ex.ancestors) < 3 || ex.ancestors[0] != "sh" || ex.ancestors[1] != "bash" || ex.apids[2] != int64(os.Getpid()) {
		t.Errorf("ancestry %v %v, want sh, bash, then this test (%d)", ex.ancestors, ex.apids, os.Getpid())
	}
	if os.Geteuid() == 0 && ex.user != "root" {
		t.Errorf("user %q", ex.user)
	}
	op := p.find("openat of id_rsa", func(s *seen) bool { return s.typ == "openat" && s.fdName == file })
	if op.name != "cat" || op.fdType != "file" || op.res < 0 || op.params["name"] != "id_rsa" || !strings.HasPrefix(op.params["flags"], "O_RDONLY") {
		t.Errorf("open: %+v", op)
	}
	if op.container != event.HostContainerID {
		t.Errorf("host process in container %q", op.container)
	}
}

func TestPipelineConnect(t *testing.T) {
	p := startPipeline(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	runCmd(t, "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port)
	c := p.find("connect", func(s *seen) bool {
		return s.typ == "connect" && strings.HasSuffix(s.fdName, "->127.0.0.1:"+port)
	})
	if c.fdType != "ipv4" || c.res != 0 || !strings.HasPrefix(c.fdName, "127.0.0.1:") || c.name != "bash" {
		t.Errorf("connect: %+v", c)
	}
	if c.params["tuple"] != c.fdName {
		t.Errorf("tuple param %q, fd.name %q", c.params["tuple"], c.fdName)
	}
}

// TestPipelineContainer moves a shell into a docker-style cgroup (cgroup v2 at
// /sys/fs/cgroup/unified) and checks its events carry the container id.
func TestPipelineContainer(t *testing.T) {
	root := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(filepath.Join(root, "cgroup.procs")); err != nil {
		t.Skipf("no cgroup v2 hierarchy at %s: %v", root, err)
	}
	p := startPipeline(t)
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	cg := filepath.Join(root, "docker", id)
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Skipf("cannot create a cgroup: %v", err)
	}
	t.Cleanup(func() {
		_ = os.Remove(cg)
		_ = os.Remove(filepath.Join(root, "docker")) // only if empty
	})
	file := filepath.Join(t.TempDir(), "x")
	_ = os.WriteFile(file, nil, 0o644)
	runCmd(t, "/bin/sh", "-c", "echo $$ > "+cg+"/cgroup.procs && exec /bin/cat "+file)

	ev := p.find("open inside the container", func(s *seen) bool { return s.typ == "openat" && s.fdName == file })
	if ev.container != id[:12] || ev.runtime != "docker" {
		t.Errorf("container %q runtime %q, want %q docker", ev.container, ev.runtime, id[:12])
	}
	ex := p.find("exec inside the container", func(s *seen) bool { return s.typ == "execve" && s.name == "cat" && s.params["args"] == file })
	if ex.container != id[:12] {
		t.Errorf("exec container %q, want %q", ex.container, id[:12])
	}
}

// TestPipelineRestartKeepsAncestry starts a process tree before the collector, then checks that
// events of the pre-existing processes carry the right ancestry (the /proc scan).
func TestPipelineRestartKeepsAncestry(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "go")
	cmd := exec.Command("/bin/bash", "-c", "/bin/sh -c 'while [ ! -e "+file+" ]; do sleep 0.05; done; cat "+file+"'; true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(200 * time.Millisecond) // let bash start sh
	p := startPipeline(t)
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ev := p.find("cat of the pre-existing tree", func(s *seen) bool { return s.typ == "openat" && s.fdName == file && s.name == "cat" })
	if len(ev.ancestors) < 3 || ev.ancestors[0] != "sh" || ev.ancestors[1] != "bash" || ev.apids[1] != int64(cmd.Process.Pid) {
		t.Errorf("ancestry %v %v, want sh then bash (%d)", ev.ancestors, ev.apids, cmd.Process.Pid)
	}
}

// TestPipelineUDPAndAccept: an unconnected UDP sendto names its fd by the peer it sent to (and
// says the name changed), and accept gives the server side's tuple.
func TestPipelineUDPAndAccept(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	p := startPipeline(t, "accept", "accept4")
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	uport := strconv.Itoa(udp.LocalAddr().(*net.UDPAddr).Port)
	runCmd(t, "python3", "-c", `import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", `+uport+`))`)
	ev := p.find("udp sendto", func(s *seen) bool {
		return s.typ == "sendto" && strings.HasSuffix(s.fdName, "->127.0.0.1:"+uport)
	})
	if ev.fdType != "ipv4" || ev.res != 1 || ev.name != "python3" || !ev.renamed {
		t.Errorf("sendto: %+v", ev)
	}

	// python3 listens and accepts one connection from bash.
	srv := exec.Command("python3", "-c", `import socket,sys; l=socket.socket(); l.bind(("127.0.0.1",0)); l.listen(1); print(l.getsockname()[1], flush=True); c,_=l.accept(); c.close()`)
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	buf := make([]byte, 16)
	n, _ := out.Read(buf)
	port := strings.TrimSpace(string(buf[:n]))
	runCmd(t, "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/"+port)
	ac := p.find("accept", func(s *seen) bool {
		return (s.typ == "accept" || s.typ == "accept4") && strings.HasSuffix(s.fdName, "->127.0.0.1:"+port)
	})
	if ac.fdType != "ipv4" || ac.res < 0 || ac.name != "python3" || !strings.HasPrefix(ac.fdName, "127.0.0.1:") {
		t.Errorf("accept: %+v", ac)
	}
}
