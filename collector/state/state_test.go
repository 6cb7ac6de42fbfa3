package state

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

func newState(t *testing.T, cfg Config) *State {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScanRealProc scans this machine's /proc and checks what it knows about this test process
// and a child started before the scan (the "restart while processes run" case).
func TestScanRealProc(t *testing.T) {
	child := exec.Command("/bin/sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()

	s := newState(t, Config{})
	if err := s.Scan(); err != nil {
		t.Fatal(err)
	}
	me := s.Thread(int64(os.Getpid()))
	if me == nil {
		t.Fatalf("scan missed this process (%d threads)", s.Stats().Threads)
	}
	if me.Pid != int64(os.Getpid()) || me.PPid != int64(os.Getppid()) {
		t.Errorf("pid %d ppid %d, want %d %d", me.Pid, me.PPid, os.Getpid(), os.Getppid())
	}
	exe, _ := os.Executable()
	if me.ExePath != exe {
		t.Errorf("exepath %q, want %q", me.ExePath, exe)
	}
	cwd, _ := os.Getwd()
	if me.Cwd != cwd {
		t.Errorf("cwd %q, want %q", me.Cwd, cwd)
	}
	if me.Container == nil || !me.Container.IsHost() {
		t.Errorf("container %+v, want host", me.Container)
	}
	if me.UID != uint32(os.Geteuid()) {
		t.Errorf("uid %d, want %d", me.UID, os.Geteuid())
	}
	if os.Geteuid() == 0 && me.User != "root" {
		t.Errorf("user %q, want root", me.User)
	}
	if me.Vpid != me.Pid || me.Vtid != me.Tid {
		t.Errorf("vpid %d vtid %d, want %d %d on the host's pid namespace", me.Vpid, me.Vtid, me.Pid, me.Tid)
	}
	if me.StartTime <= 0 || me.StartTime > time.Now().UnixNano() {
		t.Errorf("start time %d", me.StartTime)
	}

	c := s.Thread(int64(child.Process.Pid))
	if c == nil {
		t.Fatal("scan missed the sleep child")
	}
	if c.Name != "sleep" || c.Exe != "/bin/sleep" || strings.Join(c.Args, " ") != "30" || c.CmdLine() != "sleep 30" {
		t.Errorf("child name %q exe %q args %q cmdline %q", c.Name, c.Exe, c.Args, c.CmdLine())
	}
	if c.Parent != me {
		t.Errorf("child's parent is %+v, want this test process", c.Parent)
	}
	// Walk to the root: every ancestor is linked, ending at pid 1 or a process without parent.
	depth := 0
	for a := c; a.Parent != nil; a = a.Parent {
		depth++
		if depth > 100 {
			t.Fatal("ancestry loop")
		}
	}
	if depth < 1 {
		t.Errorf("ancestry depth %d", depth)
	}
	// Go's runtime threads are in the table too, with the process's name.
	threads := 0
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		if s.Thread(atoi(e.Name())) != nil {
			threads++
		}
	}
	if threads == 0 {
		t.Errorf("no thread of this process in the table")
	}
}

func atoi(s string) int64 {
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return n
}

func rec(kind capture.Kind, tid, pid uint32, nr string) *capture.Record {
	r := &capture.Record{Kind: kind, Tid: tid, Pid: pid, Time: 1000}
	if nr != "" {
		r.Nr, _ = event.TypeByName(nr)
	}
	return r
}

// A synthetic process tree far above any real pid, so /proc lookups miss and only records count.
const (
	ppid = 4_000_001
	cpid = 4_000_002
)

func seedParent(t *testing.T, s *State) *event.Thread {
	t.Helper()
	p := &event.Thread{Tid: ppid, Pid: ppid, Name: "bash", Exe: "bash", Cwd: "/home/u", LoginUID: event.LoginUIDUnset}
	s.insert(p, 1)
	s.threads[ppid].t.Container = s.host
	return p
}

func TestForkExecOpenClose(t *testing.T) {
	s := newState(t, Config{BootTime: 1_700_000_000_000_000_000})
	parent := seedParent(t, s)

	f := rec(capture.KindFork, ppid, ppid, "")
	f.Fork = &capture.ForkInfo{ChildTid: cpid, ChildPid: cpid, StartTime: 500, Comm: "bash"}
	if ev := s.Process(f); ev != nil {
		t.Errorf("fork produced event %+v", ev)
	}
	child := s.Thread(cpid)
	if child == nil || child.Parent != parent || child.PPid != ppid || child.Cwd != "/home/u" {
		t.Fatalf("child %+v", child)
	}

	x := rec(capture.KindExec, cpid, cpid, "execve")
	x.Exec = &capture.ExecInfo{PPid: ppid, Comm: "cat", Filename: "/bin/cat", Argv: []string{"cat", "/etc/shadow"}, EUID: 0, LoginUID: 1000}
	ev := s.Process(x)
	if ev == nil || ev.Type != x.Nr || ev.Sys.Thread != child {
		t.Fatalf("exec event %+v", ev)
	}
	if child.Name != "cat" || child.CmdLine() != "cat /etc/shadow" || child.ExePath != "/bin/cat" || child.LoginUID != 1000 {
		t.Errorf("after exec: name %q cmdline %q exepath %q loginuid %d", child.Name, child.CmdLine(), child.ExePath, child.LoginUID)
	}
	if p, _ := ev.Sys.Param("exe"); p == nil || p.Value != "cat" {
		t.Errorf("exe param %+v", p)
	}
	if child.Parent.Name != "bash" {
		t.Errorf("proc.pname %q", child.Parent.Name)
	}

	o := rec(capture.KindSyscall, cpid, cpid, "openat")
	o.Args = [6]uint64{uint64(0xffffffffffffff9c), 0, 0o2000000, 0}
	o.Strs[1], o.StrMask = "../../etc/shadow", 1<<1
	o.Res = 3
	ev = s.Process(o)
	if ev.Sys.FD == nil || ev.Sys.FD.Name != "/etc/shadow" || ev.Sys.FD.Num != 3 || ev.Sys.FD.Type != event.FDFile {
		t.Fatalf("open fd %+v", ev.Sys.FD)
	}
	if p, _ := ev.Sys.Param("flags"); p == nil || p.Value != "O_RDONLY|O_CLOEXEC" || !p.HasRaw {
		t.Errorf("flags param %+v", p)
	}
	if p, _ := ev.Sys.Param("dirfd"); p == nil || p.Value != "AT_FDCWD" {
		t.Errorf("dirfd param %+v", p)
	}
	if ev.Num != 2 {
		t.Errorf("event number %d, want 2", ev.Num)
	}
	if s.FD(cpid, 3) == nil {
		t.Fatal("fd 3 not in the table")
	}

	// dup2(3, 0): the fd table copies the entry to 0.
	d := rec(capture.KindSyscall, cpid, cpid, "dup2")
	d.Args = [6]uint64{3, 0}
	d.Res = 0
	ev = s.Process(d)
	if fd := s.FD(cpid, 0); fd == nil || fd.Name != "/etc/shadow" || ev.Sys.FD != fd {
		t.Errorf("dup2: fd 0 = %+v, event fd %+v", fd, ev.Sys.FD)
	}

	c := rec(capture.KindSyscall, cpid, cpid, "close")
	c.Args[0] = 3
	ev = s.Process(c)
	if ev.Sys.FD == nil || ev.Sys.FD.Name != "/etc/shadow" {
		t.Errorf("close event fd %+v", ev.Sys.FD)
	}
	if s.FD(cpid, 3) != nil {
		t.Errorf("fd 3 still in the table after close")
	}

	// A failed open: fd.num = -1 and the name resolved.
	o.Res = -2
	o.Strs[1] = "nope"
	ev = s.Process(o)
	if ev.Sys.FD == nil || ev.Sys.FD.Num != -1 || ev.Sys.FD.Name != "/home/u/nope" || ev.Sys.Res != -2 {
		t.Errorf("failed open fd %+v res %d", ev.Sys.FD, ev.Sys.Res)
	}

	e := rec(capture.KindExit, cpid, cpid, "")
	e.Exit = &capture.ExitInfo{Code: 9, GroupDead: true}
	ev = s.Process(e)
	if ev.Type != event.TypeProcExit || ev.Sys.Thread != child {
		t.Errorf("exit event %+v", ev)
	}
	if s.Thread(cpid) != nil || s.FD(cpid, 0) != nil {
		t.Errorf("exited process still in the tables")
	}
}

func TestSocketConnectAccept(t *testing.T) {
	s := newState(t, Config{})
	seedParent(t, s)

	so := rec(capture.KindSyscall, ppid, ppid, "socket")
	so.Args = [6]uint64{2, 1, 0}
	so.Res = 5
	ev := s.Process(so)
	if p, _ := ev.Sys.Param("domain"); p == nil || p.Value != "AF_INET" {
		t.Errorf("domain %+v", p)
	}
	co := rec(capture.KindSyscall, ppid, ppid, "connect")
	co.Args[0] = 5
	co.Tuple = &capture.Tuple{Family: 2, Proto: 6, Local: netip.MustParseAddrPort("10.0.0.1:40000"), Remote: netip.MustParseAddrPort("10.0.0.2:443")}
	ev = s.Process(co)
	fd := ev.Sys.FD
	if fd == nil || fd.Name != "10.0.0.1:40000->10.0.0.2:443" || fd.Type != event.FDIPv4 || fd.L4Proto != event.L4TCP || !fd.Connected {
		t.Fatalf("connect fd %+v", fd)
	}
	if fd.ServerPort != 443 || fd.ClientPort != 40000 || fd.LocalIsServer {
		t.Errorf("connect endpoints %+v", fd)
	}
	if p, _ := ev.Sys.Param("tuple"); p == nil || p.Value != "10.0.0.1:40000->10.0.0.2:443" {
		t.Errorf("tuple param %+v", p)
	}

	ac := rec(capture.KindSyscall, ppid, ppid, "accept4")
	ac.Args[0] = 6
	ac.Res = 7
	ac.Tuple = &capture.Tuple{Family: 2, Proto: 6, Local: netip.MustParseAddrPort("10.0.0.1:22"), Remote: netip.MustParseAddrPort("10.0.0.9:50000")}
	ev = s.Process(ac)
	fd = ev.Sys.FD
	if fd == nil || fd.Num != 7 || fd.Name != "10.0.0.9:50000->10.0.0.1:22" || !fd.LocalIsServer || fd.ServerPort != 22 {
		t.Errorf("accept fd %+v", fd)
	}

	// dup2 of the socket onto stdin: the reverse-shell pattern the stable rules look for.
	d := rec(capture.KindSyscall, ppid, ppid, "dup2")
	d.Args = [6]uint64{5, 0}
	ev = s.Process(d)
	if ev.Sys.FD == nil || ev.Sys.FD.Type != event.FDIPv4 || ev.Sys.Res != 0 {
		t.Errorf("dup2 of a socket: fd %+v", ev.Sys.FD)
	}
}

func TestParams(t *testing.T) {
	tests := []struct {
		nr    string
		args  [6]uint64
		strs  map[int]string
		param string
		want  string
	}{
		{"ptrace", [6]uint64{16, 42}, nil, "request", "PTRACE_ATTACH"},
		{"ptrace", [6]uint64{0x4206}, nil, "request", "PTRACE_SEIZE"},
		{"ptrace", [6]uint64{0}, nil, "request", "PTRACE_TRACEME"},
		{"ptrace", [6]uint64{16, 42}, nil, "pid", "42"},
		{"socket", [6]uint64{17, 3}, nil, "domain", "AF_PACKET"},
		{"socket", [6]uint64{2, 1 | 0o2000000}, nil, "type", "SOCK_STREAM|SOCK_CLOEXEC"},
		{"openat", [6]uint64{3, 0, 0o1101}, nil, "flags", "O_WRONLY|O_CREAT|O_TRUNC"},
		{"openat", [6]uint64{3, 0, 0o102}, nil, "flags", "O_RDWR|O_CREAT"},
		{"openat", [6]uint64{3, 0, 0o100000}, nil, "flags", "O_RDONLY"},
		{"openat", [6]uint64{3}, nil, "dirfd", "3"},
		{"symlinkat", [6]uint64{0, 0xffffff9c}, map[int]string{0: "/etc/shadow", 2: "/tmp/x"}, "target", "/etc/shadow"},
		{"symlinkat", [6]uint64{0, 0xffffff9c}, map[int]string{0: "/etc/shadow", 2: "/tmp/x"}, "linkpath", "/tmp/x"},
		{"symlinkat", [6]uint64{0, 0xffffff9c}, nil, "linkdirfd", "AT_FDCWD"},
		{"linkat", [6]uint64{0, 0, 0, 0, 0x400}, map[int]string{1: "/etc/passwd", 3: "/tmp/p"}, "oldpath", "/etc/passwd"},
		{"linkat", [6]uint64{0, 0, 0, 0, 0x400}, map[int]string{1: "/etc/passwd", 3: "/tmp/p"}, "newpath", "/tmp/p"},
		{"linkat", [6]uint64{0, 0, 0, 0, 0x400}, nil, "flags", "AT_SYMLINK_FOLLOW"},
		{"unshare", [6]uint64{0x10000000 | 0x00020000}, nil, "flags", "CLONE_NEWNS|CLONE_NEWUSER"},
		{"memfd_create", [6]uint64{0, 3}, map[int]string{0: "x"}, "flags", "MFD_CLOEXEC|MFD_ALLOW_SEALING"},
		{"init_module", [6]uint64{0, 100}, map[int]string{2: "foo=1"}, "uargs", "foo=1"},
		{"mkdir", [6]uint64{0, 0o755}, nil, "mode", "0755"},
		{"getpid", [6]uint64{}, nil, "res", "0"},
	}
	for _, tt := range tests {
		r := rec(capture.KindSyscall, 1, 1, tt.nr)
		r.Args = tt.args
		for i, s := range tt.strs {
			r.Strs[i] = s
			r.StrMask |= 1 << i
		}
		var found *event.Param
		for _, p := range renderParams(nil, r) {
			if p.Name == tt.param {
				found = &p
			}
		}
		if found == nil || found.Value != tt.want {
			t.Errorf("%s %s = %+v, want %q", tt.nr, tt.param, found, tt.want)
		}
	}
}

func TestSockaddrText(t *testing.T) {
	in4 := []byte{2, 0, 0x01, 0xbb, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}
	in6 := append([]byte{10, 0, 0x00, 0x50, 0, 0, 0, 0}, netip.MustParseAddr("::ffff:10.1.2.3").AsSlice()...)
	un := append([]byte{1, 0}, []byte("/run/docker.sock\x00\x00")...)
	abstract := append([]byte{1, 0, 0}, []byte("lanner")...)
	tests := []struct {
		b    []byte
		want string
	}{
		{in4, "1.2.3.4:443"},
		{in6, "10.1.2.3:80"},
		{un, "/run/docker.sock"},
		{abstract, "@lanner"},
		{nil, ""},
		{[]byte{2}, ""},
		{[]byte{99, 0, 1}, ""},
	}
	for _, tt := range tests {
		if got := sockaddrText(tt.b); got != tt.want {
			t.Errorf("sockaddrText(%x) = %q, want %q", tt.b, got, tt.want)
		}
	}
}

func TestEviction(t *testing.T) {
	s := newState(t, Config{MaxThreads: 64})
	for i := range 200 {
		tid := int64(5_000_000 + i)
		s.insert(&event.Thread{Tid: tid, Pid: tid}, int64(i))
	}
	st := s.Stats()
	if st.Threads > 64 {
		t.Errorf("table holds %d threads, bound is 64", st.Threads)
	}
	if st.Evicted == 0 {
		t.Errorf("nothing evicted")
	}
	// The most recently active threads survive.
	if s.Thread(5_000_199) == nil || s.Thread(5_000_198) == nil {
		t.Errorf("recent threads were evicted")
	}
	if s.Thread(5_000_000) != nil {
		t.Errorf("the oldest thread survived")
	}
	if len(s.procs) > 64 {
		t.Errorf("process table holds %d entries after eviction", len(s.procs))
	}
}

func TestFDTableBound(t *testing.T) {
	s := newState(t, Config{MaxFDsPerProcess: 8})
	seedParent(t, s)
	for i := range 20 {
		o := rec(capture.KindSyscall, ppid, ppid, "open")
		o.Strs[0], o.StrMask = "/tmp/f", 1
		o.Res = int64(10 + i)
		s.Process(o)
	}
	if n := len(s.procs[ppid].fds); n != 8 {
		t.Errorf("fd table holds %d, bound 8", n)
	}
	if s.Stats().FDsDropped != 12 {
		t.Errorf("dropped %d, want 12", s.Stats().FDsDropped)
	}
}

// A thread lanner has never seen is read from /proc on its first record.
func TestUnknownThreadFromProc(t *testing.T) {
	s := newState(t, Config{})
	me := int64(os.Getpid())
	r := rec(capture.KindSyscall, uint32(me), uint32(me), "close")
	ev := s.Process(r)
	th := ev.Sys.Thread
	if th == nil || th.Pid != me || th.Name == "" || th.Parent == nil || th.Parent.Pid != int64(os.Getppid()) {
		t.Fatalf("thread from /proc: %+v", th)
	}
	if s.Stats().FromProc == 0 {
		t.Errorf("FromProc not counted")
	}
}

func TestReparentAfterParentExit(t *testing.T) {
	s := newState(t, Config{})
	seedParent(t, s)
	// The child is this test process pretending to be the parent's child: when the parent exits,
	// its next record re-reads the real parent from /proc.
	me := int64(os.Getpid())
	child := &event.Thread{Tid: me, Pid: me, PPid: ppid, Name: "child"}
	th := s.insert(child, 1)
	child.Parent = s.Thread(ppid)
	th.t.Container = s.host

	e := rec(capture.KindExit, ppid, ppid, "")
	e.Exit = &capture.ExitInfo{GroupDead: true}
	s.Process(e)

	r := rec(capture.KindSyscall, uint32(me), uint32(me), "close")
	s.Process(r)
	if child.PPid != int64(os.Getppid()) || child.Parent == nil || child.Parent.Pid != int64(os.Getppid()) {
		t.Errorf("after the parent exited: ppid %d parent %+v, want %d", child.PPid, child.Parent, os.Getppid())
	}
}

// The kernel describes the fd of each call: the table needs no open, dup or close it missed.
func TestKernelDescribedFDs(t *testing.T) {
	s := newState(t, Config{})
	seedParent(t, s)
	tuple := &capture.Tuple{Family: 2, Proto: 6, Local: netip.MustParseAddrPort("10.0.0.1:40000"), Remote: netip.MustParseAddrPort("203.0.113.7:4444")}

	d := rec(capture.KindSyscall, ppid, ppid, "dup2")
	d.Args = [6]uint64{7, 0}
	d.Tuple = tuple
	ev := s.Process(d)
	if fd := ev.Sys.FD; fd == nil || fd.Num != 0 || fd.Type != event.FDIPv4 || fd.Name != "10.0.0.1:40000->203.0.113.7:4444" {
		t.Fatalf("dup2 of a socket lanner never saw opened: event fd %+v", ev.Sys.FD)
	}

	tests := []struct {
		mode     uint32
		path     string
		wantType event.FDType
		wantName string
	}{
		{0o100644, "/var/log/syslog", event.FDFile, "/var/log/syslog"},
		{0o040755, "/etc", event.FDDirectory, "/etc"},
		{0o010600, "/", event.FDPipe, ""},
		{0o100777, "/memfd:payload (deleted)", event.FDMemfd, "memfd:payload (deleted)"},
		{0o020666, "/dev/null", event.FDFile, "/dev/null"},
		{0, "/", event.FDUnknown, ""},
	}
	for i, tt := range tests {
		r := rec(capture.KindSyscall, ppid, ppid, "write")
		r.Args[0] = uint64(10 + i)
		r.FDMode, r.FDPath, r.HasFDPath = tt.mode, tt.path, true
		ev := s.Process(r)
		if fd := ev.Sys.FD; fd == nil || fd.Type != tt.wantType || fd.Name != tt.wantName || fd.Num != int64(10+i) {
			t.Errorf("write on mode %o path %q: fd %+v, want %v %q", tt.mode, tt.path, fd, tt.wantType, tt.wantName)
		}
	}

	// A stale table entry (its close was not reported) is corrected by the next description.
	o := rec(capture.KindSyscall, ppid, ppid, "openat")
	o.Args = [6]uint64{uint64(0xffffffffffffff9c)}
	o.Strs[1], o.StrMask, o.Res = "/tmp/old", 2, 20
	s.Process(o)
	r := rec(capture.KindSyscall, ppid, ppid, "read")
	r.Args[0] = 20
	r.FDMode, r.FDPath, r.HasFDPath = 0o100600, "/etc/shadow", true
	if fd := s.Process(r).Sys.FD; fd == nil || fd.Name != "/etc/shadow" {
		t.Errorf("stale fd 20 not corrected: %+v", fd)
	}

	c := rec(capture.KindSyscall, ppid, ppid, "fchdir")
	c.Args[0] = 11
	c.Cwd = "/etc"
	s.Process(c)
	if got := s.Thread(ppid).Cwd; got != "/etc" {
		t.Errorf("cwd after fchdir %q, want /etc", got)
	}
}
