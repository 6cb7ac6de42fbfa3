package fields

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// Fixture: bash (pid 300) under sshd (200) under systemd (1), running in a Kubernetes container,
// opening /etc/shadow for reading.
const fixtureTime = int64(1718000000123456789) // 2024-06-10T06:13:20.123456789Z

func fixtureThreads() (*event.Thread, *event.Thread, *event.Thread) {
	pod := &event.Pod{Name: "web-1", Namespace: "prod", UID: "uid-1", IP: "10.1.0.5",
		Labels:          map[string]string{"app": "web", "app.kubernetes.io/name": "web", "io.kubernetes.pod.name": "web-1"},
		NamespaceLabels: map[string]string{"team": "a"}, ReplicaSet: "web-5d8", Deployment: "web"}
	ctr := &event.Container{ID: "3ad7b26ded6d", FullID: "3ad7b26ded6d8e7b", Runtime: "containerd", Name: "web",
		Image: "nginx:1.25", ImageRepository: "nginx", ImageTag: "1.25", ImageDigest: "sha256:abc",
		Privileged: true, PrivilegedKnown: true, Pod: pod}
	init := &event.Thread{Tid: 1, Pid: 1, Name: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd", Sid: 1, Vpgid: 1}
	sshd := &event.Thread{Tid: 200, Pid: 200, PPid: 1, Name: "sshd", Exe: "/usr/sbin/sshd", ExePath: "/usr/sbin/sshd",
		Args: []string{"-D"}, Sid: 200, Vpgid: 200, Parent: init, StartTime: fixtureTime - 100*int64(time.Second)}
	bash := &event.Thread{Tid: 301, Pid: 300, Vtid: 12, Vpid: 11, PPid: 200, Sid: 200, Vpgid: 300, Name: "bash", Exe: "-bash",
		ExePath: "/usr/bin/bash", Args: []string{"-c", "cat /etc/shadow"}, Cwd: "/root", Env: []string{"HOME=/root", "TERM=xterm"},
		Tty: 34816, UID: 0, GID: 0, LoginUID: event.LoginUIDUnset, User: "root", Group: "root",
		CapEffective: 1<<0 | 1<<1 | 1<<21, CapPermitted: 1 << 21, StartTime: fixtureTime - 2*int64(time.Second),
		PidnsInitStart: fixtureTime - 3600*int64(time.Second), ExeUpperLayer: true,
		ExeInoCtime: fixtureTime - 10*int64(time.Second), ExeInoMtime: fixtureTime - 20*int64(time.Second),
		Container: ctr, Parent: sshd}
	return bash, sshd, init
}

func openEvent() *event.Event {
	bash, _, _ := fixtureThreads()
	typ, _ := event.TypeByName("openat")
	return &event.Event{Source: event.SourceSyscall, Type: typ, Num: 7, Time: fixtureTime, Sys: &event.Syscall{
		Res: 3,
		Params: []event.Param{
			{Name: "fd", Value: "3", Raw: 3, HasRaw: true},
			{Name: "dirfd", Value: "AT_FDCWD", Raw: -100, HasRaw: true},
			{Name: "name", Value: "../../etc/shadow"},
			{Name: "flags", Value: "O_RDONLY|O_CLOEXEC", Raw: 0o2000000, HasRaw: true},
			{Name: "mode", Value: "0", Raw: 0, HasRaw: true},
		},
		Thread: bash,
		FD:     &event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow", NameRaw: "../..//etc/shadow"},
	}}
}

func connectEvent() *event.Event {
	e := openEvent()
	e.Type, _ = event.TypeByName("connect")
	e.Sys.Res = -115
	e.Sys.Params = []event.Param{{Name: "res", Value: "EINPROGRESS", Raw: -115, HasRaw: true},
		{Name: "tuple", Value: "10.1.0.5:40000->10.96.0.1:443"}, {Name: "fd", Value: "4", Raw: 4, HasRaw: true}}
	e.Sys.FD = &event.FD{Num: 4, Type: event.FDIPv4, Name: "10.1.0.5:40000->10.96.0.1:443", L4Proto: event.L4TCP,
		ClientIP: netip.MustParseAddr("10.1.0.5"), ServerIP: netip.MustParseAddr("10.96.0.1"),
		ClientPort: 40000, ServerPort: 443, Connected: true}
	return e
}

func testRegistry(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	return NewRegistry(append([]Option{WithLocation(time.UTC), WithHostname("node-1")}, opts...)...)
}

func resolve(t testing.TB, r *Registry, name, arg string, hasArg bool) *Extractor {
	t.Helper()
	x, err := r.Resolve(event.SourceSyscall, name, arg, hasArg)
	if err != nil {
		t.Fatalf("Resolve(%s, %q, %v): %v", name, arg, hasArg, err)
	}
	return x
}

// value reads any single-valued extractor as text the way a generic formatter would, honouring
// the Text override.
func value(x *Extractor, e *event.Event) (string, bool) {
	if x.Text != nil {
		return x.Text(e)
	}
	switch {
	case x.Str != nil:
		return x.Str(e)
	case x.Num != nil:
		n, ok := x.Num(e)
		return itoa(n), ok
	case x.Bool != nil:
		b, ok := x.Bool(e)
		if b {
			return "true", ok
		}
		return "false", ok
	case x.IP != nil:
		a, ok := x.IP(e)
		return a.String(), ok
	case x.Strs != nil:
		l, ok := x.Strs(e, nil)
		return strings.Join(l, ","), ok
	case x.IPs != nil:
		l, ok := x.IPs(e, nil)
		s := make([]string, len(l))
		for i, a := range l {
			s[i] = a.String()
		}
		return strings.Join(s, ","), ok
	case x.Nums != nil:
		l, ok := x.Nums(e, nil)
		s := make([]string, len(l))
		for i, n := range l {
			s[i] = itoa(n)
		}
		return strings.Join(s, ","), ok
	}
	return "", false
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestEveryFieldBuilds(t *testing.T) {
	r := testRegistry(t)
	fs := r.Fields(event.SourceSyscall)
	if len(fs) < 150 {
		t.Fatalf("syscall fields: got %d, want at least 150", len(fs))
	}
	e := openEvent()
	for _, f := range fs {
		if f.Desc == "" {
			t.Errorf("%s: no description", f.Name)
		}
		if f.Type.Kind() == KindInvalid {
			t.Errorf("%s: invalid type %v", f.Name, f.Type)
		}
		arg, hasArg := "", false
		if f.Has(ArgRequired) {
			arg, hasArg = "1", true
			if f.Has(ArgKey) && !f.Has(ArgIndex) {
				arg = "app"
			}
		}
		x, err := r.Resolve(event.SourceSyscall, f.Name, arg, hasArg)
		if err != nil {
			t.Errorf("%s: %v", f.Name, err)
			continue
		}
		n := 0
		for _, fn := range []bool{x.Str != nil, x.Num != nil, x.Bool != nil, x.IP != nil, x.Bytes != nil, x.Strs != nil, x.IPs != nil, x.Nums != nil} {
			if fn {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d value functions set, want 1", f.Name, n)
		}
		wantKind := f.Type.Kind()
		switch {
		case x.List && wantKind == KindString && x.Strs == nil,
			x.List && wantKind == KindIP && x.IPs == nil,
			x.List && wantKind == KindNum && x.Nums == nil,
			!x.List && wantKind == KindString && x.Str == nil,
			!x.List && wantKind == KindNum && x.Num == nil,
			!x.List && wantKind == KindBool && x.Bool == nil,
			!x.List && wantKind == KindIP && x.IP == nil:
			t.Errorf("%s: value function does not match type %v (list %v)", f.Name, f.Type, x.List)
		}
		// Every extractor must cope with every shape of event without panicking.
		for _, ev := range []*event.Event{e, connectEvent(), {Source: event.SourceSyscall}, {Source: event.SourceSyscall, Sys: &event.Syscall{}}} {
			value(x, ev)
			if x.JSON != nil {
				x.JSON(ev)
			}
		}
	}
}

func TestFieldValues(t *testing.T) {
	r := testRegistry(t, WithHostResolver(NewStaticHosts(map[string][]netip.Addr{
		"kubernetes.default.svc.cluster.local": {netip.MustParseAddr("10.96.0.1")},
	})))
	open, conn := openEvent, connectEvent
	failed := func() *event.Event {
		e := openEvent()
		e.Sys.Res = -2
		e.Sys.FD = &event.FD{Num: -1, Type: event.FDFile, Name: "/etc/nothere", NameRaw: "/etc/nothere"}
		return e
	}
	host := func() *event.Event {
		e := openEvent()
		e.Sys.Thread.Container = &event.Container{ID: event.HostContainerID}
		return e
	}
	pending := func() *event.Event {
		e := openEvent()
		e.Sys.Thread.Container = &event.Container{ID: "0123456789ab"}
		return e
	}
	orphan := func() *event.Event {
		e := openEvent()
		e.Sys.Thread.Parent = nil
		return e
	}
	exec := func() *event.Event {
		e := openEvent()
		e.Type, _ = event.TypeByName("execve")
		e.Sys.Res = 0
		e.Sys.FD = nil
		e.Sys.Params = []event.Param{{Name: "res", Value: "0", Raw: 0, HasRaw: true}, {Name: "exe", Value: "/bin/bash"},
			{Name: "flags", Value: "EXE_WRITABLE|EXE_UPPER_LAYER", Raw: 9, HasRaw: true}}
		return e
	}
	write := func() *event.Event {
		e := openEvent()
		e.Sys.Params[3] = event.Param{Name: "flags", Value: "O_WRONLY|O_CREAT|O_TRUNC"}
		e.Sys.Params[4] = event.Param{Name: "mode", Value: "0755"}
		return e
	}
	cases := []struct {
		name   string
		arg    string
		hasArg bool
		ev     func() *event.Event
		want   string
		ok     bool
	}{
		{"evt.num", "", false, open, "7", true},
		{"evt.type", "", false, open, "openat", true},
		{"evt.type", "", false, conn, "connect", true},
		{"syscall.type", "", false, open, "openat", true},
		{"evt.time", "", false, open, "06:13:20.123456789", true},
		{"evt.time.s", "", false, open, "06:13:20", true},
		{"evt.time.iso8601", "", false, open, "2024-06-10T06:13:20.123456789Z", true},
		{"evt.datetime", "", false, open, "2024-06-10 06:13:20.123456789", true},
		{"evt.rawtime", "", false, open, "1718000000123456789", true},
		{"evt.rawtime.s", "", false, open, "1718000000", true},
		{"evt.rawtime.ns", "", false, open, "123456789", true},
		{"evt.source", "", false, open, "syscall", true},
		{"evt.hostname", "", false, open, "node-1", true},
		{"evt.dir", "", false, open, "<", true},
		{"evt.res", "", false, open, "SUCCESS", true},
		{"evt.res", "", false, failed, "ENOENT", true},
		{"evt.res", "", false, conn, "EINPROGRESS", true},
		{"evt.rawres", "", false, failed, "-2", true},
		{"evt.failed", "", false, failed, "true", true},
		{"evt.failed", "", false, open, "false", true},
		{"evt.arg", "flags", true, open, "O_RDONLY|O_CLOEXEC", true},
		{"evt.arg", "0", true, open, "3", true},
		{"evt.arg", "2", true, open, "../../etc/shadow", true},
		{"evt.arg", "9", true, open, "", false},
		{"evt.arg", "request", true, open, "", false},
		{"evt.rawarg", "flags", true, open, "524288", true},
		{"evt.rawarg", "name", true, open, "", false},
		{"evt.args", "", false, open, "fd=3 dirfd=-100(AT_FDCWD) name=../../etc/shadow flags=524288(O_RDONLY|O_CLOEXEC) mode=0", true},
		{"evt.is_open_read", "", false, open, "true", true},
		{"evt.is_open_write", "", false, open, "false", true},
		{"evt.is_open_write", "", false, write, "true", true},
		{"evt.is_open_read", "", false, write, "false", true},
		{"evt.is_open_exec", "", false, write, "true", true},
		{"evt.is_open_exec", "", false, open, "false", true},
		{"evt.is_open_read", "", false, exec, "false", true},
		{"proc.name", "", false, open, "bash", true},
		{"proc.exe", "", false, open, "-bash", true},
		{"proc.exepath", "", false, open, "/usr/bin/bash", true},
		{"proc.args", "", false, open, "-c cat /etc/shadow", true},
		{"proc.args", "1", true, open, "cat /etc/shadow", true},
		{"proc.args", "5", true, open, "", false},
		{"proc.cmdline", "", false, open, "bash -c cat /etc/shadow", true},
		{"proc.exeline", "", false, open, "-bash -c cat /etc/shadow", true},
		{"proc.cmdnargs", "", false, open, "2", true},
		{"proc.cmdlenargs", "", false, open, "17", true},
		{"proc.pname", "", false, open, "sshd", true},
		{"proc.pname", "", false, orphan, "", false},
		{"proc.pcmdline", "", false, open, "sshd -D", true},
		{"proc.pexe", "", false, open, "/usr/sbin/sshd", true},
		{"proc.pexepath", "", false, open, "/usr/sbin/sshd", true},
		{"proc.aname", "0", true, open, "bash", true},
		{"proc.aname", "1", true, open, "sshd", true},
		{"proc.aname", "2", true, open, "systemd", true},
		{"proc.aname", "3", true, open, "", false},
		{"proc.aname", "", false, open, "sshd systemd", true},
		{"proc.aexepath", "2", true, open, "/usr/lib/systemd/systemd", true},
		{"proc.acmdline", "1", true, open, "sshd -D", true},
		{"proc.aexe", "1", true, open, "/usr/sbin/sshd", true},
		{"proc.apid", "2", true, open, "1", true},
		{"proc.apid", "", false, open, "200 1", true},
		{"proc.env", "HOME", true, open, "/root", true},
		{"proc.env", "NOPE", true, open, "", true},
		{"proc.env", "", false, open, "HOME=/root TERM=xterm", true},
		{"proc.cwd", "", false, open, "/root", true},
		{"proc.tty", "", false, open, "34816", true},
		{"proc.pid", "", false, open, "300", true},
		{"proc.ppid", "", false, open, "200", true},
		{"proc.vpid", "", false, open, "11", true},
		{"proc.sid", "", false, open, "200", true},
		{"proc.sname", "", false, open, "sshd", true},
		{"proc.vpgid", "", false, open, "300", true},
		{"proc.vpgid.name", "", false, open, "bash", true},
		{"proc.loginshellid", "", false, open, "300", true},
		{"proc.duration", "", false, open, "2000000000", true},
		{"proc.ppid.duration", "", false, open, "100000000000", true},
		{"proc.is_exe_upper_layer", "", false, open, "true", true},
		{"proc.is_exe_from_memfd", "", false, open, "false", true},
		{"proc.is_vpgid_leader", "", false, open, "false", true},
		{"proc.exe_ino.ctime", "", false, open, "1717999990123456789", true},
		{"proc.exe_ino.mtime", "", false, open, "1717999980123456789", true},
		{"proc.exe_ino.ctime_duration_proc_start", "", false, open, "8000000000", true},
		{"thread.tid", "", false, open, "301", true},
		{"thread.vtid", "", false, open, "12", true},
		{"thread.ismain", "", false, open, "false", true},
		{"thread.cap_effective", "", false, open, "CAP_CHOWN CAP_DAC_OVERRIDE CAP_SYS_ADMIN", true},
		{"thread.cap_permitted", "", false, open, "CAP_SYS_ADMIN", true},
		{"thread.cap_inheritable", "", false, open, "", true},
		{"user.uid", "", false, open, "0", true},
		{"user.name", "", false, open, "root", true},
		{"user.loginuid", "", false, open, "-1", true},
		{"user.loginname", "", false, open, "", false},
		{"group.gid", "", false, open, "0", true},
		{"group.name", "", false, open, "root", true},
		{"fd.num", "", false, open, "3", true},
		{"fd.num", "", false, failed, "-1", true},
		{"fd.type", "", false, open, "file", true},
		{"fd.type", "", false, failed, "", false},
		{"fd.typechar", "", false, open, "f", true},
		{"fd.typechar", "", false, failed, "f", true},
		{"fd.typechar", "", false, conn, "4", true},
		{"fd.name", "", false, open, "/etc/shadow", true},
		{"fd.name", "", false, failed, "/etc/nothere", true},
		{"fd.name", "", false, exec, "", false},
		{"fd.nameraw", "", false, open, "../../etc/shadow", true},
		{"fd.directory", "", false, open, "/etc", true},
		{"fd.directory", "", false, failed, "/etc", true},
		{"fd.filename", "", false, open, "shadow", true},
		{"fd.filename", "", false, failed, "", false},
		{"fd.l4proto", "", false, conn, "tcp", true},
		{"fd.l4proto", "", false, open, "<NA>", true},
		{"fd.sockfamily", "", false, conn, "ip", true},
		{"fd.cip", "", false, conn, "10.1.0.5", true},
		{"fd.sip", "", false, conn, "10.96.0.1", true},
		{"fd.lip", "", false, conn, "10.1.0.5", true},
		{"fd.rip", "", false, conn, "10.96.0.1", true},
		{"fd.cport", "", false, conn, "40000", true},
		{"fd.sport", "", false, conn, "443", true},
		{"fd.lport", "", false, conn, "40000", true},
		{"fd.rport", "", false, conn, "443", true},
		{"fd.sproto", "", false, conn, "443", true},
		{"fd.ip", "", false, conn, "10.1.0.5,10.96.0.1", true},
		{"fd.net", "", false, conn, "10.1.0.5,10.96.0.1", true},
		{"fd.port", "", false, conn, "40000,443", true},
		{"fd.snet", "", false, conn, "10.96.0.1", true},
		{"fd.sip", "", false, open, "", false},
		{"fd.connected", "", false, conn, "true", true},
		{"fd.is_server", "", false, conn, "false", true},
		{"fd.name_changed", "", false, conn, "false", true},
		{"fd.sip.name", "", false, conn, "kubernetes.default.svc.cluster.local", true},
		{"fd.cip.name", "", false, conn, "", false},
		{"fd.uid", "", false, open, "3013", true},
		{"fd.containername", "", false, open, "3ad7b26ded6d:/etc/shadow", true},
		{"container.id", "", false, open, "3ad7b26ded6d", true},
		{"container.id", "", false, host, "host", true},
		{"container.id", "", false, pending, "0123456789ab", true},
		{"container.name", "", false, open, "web", true},
		{"container.name", "", false, host, "host", true},
		{"container.name", "", false, pending, "", false},
		{"container.image", "", false, open, "nginx:1.25", true},
		{"container.image.repository", "", false, open, "nginx", true},
		{"container.image.repository", "", false, host, "", true},
		{"container.image.repository", "", false, pending, "", false},
		{"container.image.tag", "", false, open, "1.25", true},
		{"container.image.digest", "", false, open, "sha256:abc", true},
		{"container.type", "", false, open, "containerd", true},
		{"container.type", "", false, host, "host", true},
		{"container.full_id", "", false, host, "host", true},
		{"container.image", "", false, host, "", true},
		{"container.full_id", "", false, open, "3ad7b26ded6d8e7b", true},
		{"container.privileged", "", false, open, "true", true},
		{"container.privileged", "", false, host, "false", true},
		{"container.privileged", "", false, pending, "", false},
		{"container.start_ts", "", false, open, "1717996400123456789", true},
		{"container.duration", "", false, open, "3600000000000", true},
		{"k8s.pod.name", "", false, open, "web-1", true},
		{"k8s.pod.name", "", false, host, "", false},
		{"k8s.ns.name", "", false, open, "prod", true},
		{"k8s.pod.uid", "", false, open, "uid-1", true},
		{"k8s.pod.ip", "", false, open, "10.1.0.5", true},
		{"k8s.pod.label", "app", true, open, "web", true},
		{"k8s.pod.label", "app.kubernetes.io/name", true, open, "web", true},
		{"k8s.pod.label", "nope", true, open, "", false},
		{"k8s.pod.labels", "", false, open, "app:web, app.kubernetes.io/name:web", true},
		{"k8s.ns.label", "team", true, open, "a", true},
		{"k8s.ns.labels", "", false, open, "team:a", true},
		{"k8s.rs.name", "", false, open, "web-5d8", true},
		{"k8s.deployment.name", "", false, open, "web", true},
		{"k8s.statefulset.name", "", false, open, "", false},
	}
	for _, c := range cases {
		x := resolve(t, r, c.name, c.arg, c.hasArg)
		got, ok := value(x, c.ev())
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%s: got (%q, %v), want (%q, %v)", x.Name, got, ok, c.want, c.ok)
		}
	}
}

func TestDottedKeyForms(t *testing.T) {
	r := testRegistry(t)
	e := openEvent()
	for _, c := range []struct{ name, wantName, want string }{
		{"evt.arg.flags", "evt.arg[flags]", "O_RDONLY|O_CLOEXEC"},
		{"k8s.pod.label.app", "k8s.pod.label[app]", "web"},
		{"k8s.pod.label.app.kubernetes.io/name", "k8s.pod.label[app.kubernetes.io/name]", "web"},
		{"evt.rawarg.fd", "evt.rawarg[fd]", "3"},
	} {
		x := resolve(t, r, c.name, "", false)
		if x.Name != c.wantName {
			t.Errorf("%s: extractor name %q, want %q", c.name, x.Name, c.wantName)
		}
		if got, ok := value(x, e); !ok || got != c.want {
			t.Errorf("%s: got (%q, %v), want %q", c.name, got, ok, c.want)
		}
	}
}

func TestFieldTypesAndFlags(t *testing.T) {
	r := testRegistry(t)
	cases := []struct {
		name  string
		typ   Type
		flags Flags
	}{
		{"evt.type", TypeCharBuf, 0},
		{"evt.num", TypeUint64, 0},
		{"evt.rawres", TypeInt64, 0},
		{"evt.res", TypeCharBuf, 0},
		{"evt.time", TypeCharBuf, 0},
		{"evt.rawtime", TypeAbsTime, 0},
		{"evt.arg", TypeCharBuf, ArgRequired | ArgIndex | ArgKey},
		{"evt.rawarg", TypeInt64, ArgRequired | ArgKey | NoRHS | NoTransformer},
		{"evt.dir", TypeCharBuf, Deprecated},
		{"evt.is_open_read", TypeBool, 0},
		{"proc.aname", TypeCharBuf, ArgAllowed | ArgIndex | NoRHS | NoTransformer},
		{"proc.aexepath", TypeCharBuf, ArgAllowed | ArgIndex | NoRHS | NoTransformer},
		{"proc.apid", TypeInt64, ArgAllowed | ArgIndex | NoRHS | NoTransformer},
		{"proc.args", TypeCharBuf, ArgAllowed | ArgIndex},
		{"proc.env", TypeCharBuf, ArgAllowed | ArgKey},
		{"proc.tty", TypeUint32, 0},
		{"proc.pid", TypeInt64, 0},
		{"proc.duration", TypeRelTime, 0},
		{"proc.exe_ino.ctime", TypeAbsTime, 0},
		{"proc.exe_ino.ctime_duration_proc_start", TypeAbsTime, 0},
		{"thread.cap_effective", TypeCharBuf, 0},
		{"user.uid", TypeUint32, 0},
		{"user.loginuid", TypeInt64, 0},
		{"group.gid", TypeUint32, 0},
		{"fd.num", TypeInt64, 0},
		{"fd.ip", TypeIPAddr, FilterOnly | NoRHS | NoTransformer},
		{"fd.net", TypeIPNet, FilterOnly | NoRHS | NoTransformer},
		{"fd.snet", TypeIPNet, FilterOnly | NoRHS | NoTransformer},
		{"fd.sip", TypeIPAddr, 0},
		{"fd.sport", TypePort, 0},
		{"fd.lport", TypePort, 0},
		{"fd.l4proto", TypeCharBuf, 0},
		{"fd.sip.name", TypeCharBuf, NoRHS | NoTransformer},
		{"fd.connected", TypeBool, 0},
		{"container.id", TypeCharBuf, Suggested},
		{"container.privileged", TypeBool, 0},
		{"container.start_ts", TypeAbsTime, 0},
		{"k8s.ns.name", TypeCharBuf, Suggested},
		{"k8s.pod.label", TypeCharBuf, ArgRequired | ArgKey},
	}
	for _, c := range cases {
		f, ok := r.Lookup(event.SourceSyscall, c.name)
		if !ok {
			t.Errorf("%s: not registered", c.name)
			continue
		}
		if f.Type != c.typ || f.Flags != c.flags || f.Source != event.SourceSyscall {
			t.Errorf("%s: type %v flags %b source %v, want %v %b syscall", c.name, f.Type, f.Flags, f.Source, c.typ, c.flags)
		}
	}
}

// Every field of the stable ruleset, in conditions and outputs (reference falco-fields-used.md).
var stableRuleFields = []struct{ name, arg string }{
	{"evt.type", ""}, {"evt.arg", "flags"}, {"evt.arg", "request"}, {"evt.res", ""}, {"evt.arg", "target"},
	{"evt.arg", "oldpath"}, {"evt.rawres", ""}, {"evt.arg", "domain"}, {"evt.arg", "linkpath"}, {"evt.arg", "newpath"},
	{"evt.args", ""}, {"evt.is_open_read", ""}, {"evt.is_open_write", ""}, {"evt.num", ""}, {"proc.cmdline", ""},
	{"proc.name", ""}, {"proc.pname", ""}, {"proc.aname", ""}, {"proc.aname", "7"}, {"proc.args", ""},
	{"proc.exepath", ""}, {"proc.tty", ""}, {"proc.pcmdline", ""}, {"proc.pexe", ""}, {"proc.cwd", ""},
	{"proc.exe", ""}, {"proc.pexepath", ""}, {"proc.sname", ""}, {"proc.aexepath", "2"}, {"proc.duration", ""},
	{"proc.exe_ino.ctime", ""}, {"proc.exe_ino.ctime_duration_proc_start", ""}, {"proc.exe_ino.mtime", ""},
	{"proc.is_exe_from_memfd", ""}, {"proc.is_exe_upper_layer", ""}, {"thread.cap_effective", ""},
	{"user.name", ""}, {"user.uid", ""}, {"user.loginuid", ""}, {"user.loginname", ""}, {"group.gid", ""},
	{"group.name", ""}, {"fd.name", ""}, {"fd.typechar", ""}, {"fd.l4proto", ""}, {"fd.type", ""},
	{"fd.directory", ""}, {"fd.lport", ""}, {"fd.rport", ""}, {"fd.nameraw", ""}, {"fd.num", ""},
	{"fd.connected", ""}, {"fd.filename", ""}, {"fd.ip", ""}, {"fd.name_changed", ""}, {"fd.net", ""},
	{"fd.sip", ""}, {"fd.sip.name", ""}, {"fd.snet", ""}, {"fd.sport", ""}, {"container.image.repository", ""},
	{"container.start_ts", ""}, {"container.id", ""}, {"container.privileged", ""}, {"k8s.ns.name", ""},
}

func TestStableRuleFieldsResolve(t *testing.T) {
	r := NewRegistry()
	for _, f := range stableRuleFields {
		if _, err := r.Resolve(event.SourceSyscall, f.name, f.arg, f.arg != ""); err != nil {
			t.Errorf("%s[%s]: %v", f.name, f.arg, err)
		}
	}
}

func TestSuggestedOrder(t *testing.T) {
	var got []string
	for _, f := range NewRegistry().Suggested(event.SourceSyscall) {
		got = append(got, f.Name)
	}
	want := "container.id container.name container.image.repository container.image.tag k8s.pod.name k8s.ns.name"
	if strings.Join(got, " ") != want {
		t.Fatalf("suggested fields: got %q, want %q", strings.Join(got, " "), want)
	}
}

func TestBadArguments(t *testing.T) {
	r := NewRegistry()
	for _, c := range []struct{ name, arg, want string }{
		{"proc.aname", "x", "not a non-negative number"},
		{"proc.aname", "-1", "not a non-negative number"},
		{"proc.args", "first", "not a non-negative number"},
		{"evt.arg", "-2", "negative"},
		{"evt.rawarg", "0", "not an index"},
		{"k8s.pod.label", "", "empty key"},
		{"proc.name", "1", "does not take an argument"},
	} {
		_, err := r.Resolve(event.SourceSyscall, c.name, c.arg, true)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s[%s]: error %v, want one containing %q", c.name, c.arg, err, c.want)
		}
	}
	if _, err := r.Resolve(event.SourceSyscall, "evt.arg", "", false); err == nil || !strings.Contains(err.Error(), "requires an argument") {
		t.Errorf("evt.arg without argument: %v", err)
	}
}

func TestJSONOverrides(t *testing.T) {
	r := testRegistry(t)
	e := openEvent()
	for _, name := range []string{"evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s"} {
		x := resolve(t, r, name, "", false)
		if x.JSON == nil {
			t.Fatalf("%s: no JSON override", name)
		}
		v, ok := x.JSON(e)
		if n, isInt := v.(int64); !ok || !isInt || n != fixtureTime {
			t.Errorf("%s JSON: got %v (%T), want %d", name, v, v, fixtureTime)
		}
	}
}

func TestMissingThread(t *testing.T) {
	r := NewRegistry()
	e := &event.Event{Source: event.SourceSyscall, Type: 2, Num: 1, Sys: &event.Syscall{Res: -13}}
	for _, name := range []string{"proc.name", "proc.aname", "user.uid", "fd.name", "container.id", "k8s.pod.name", "thread.cap_effective"} {
		x := resolve(t, r, name, "", false)
		if v, ok := value(x, e); ok {
			t.Errorf("%s: got %q for an event without thread or fd, want missing", name, v)
		}
	}
	if v, ok := value(resolve(t, r, "evt.res", "", false), e); !ok || v != "EACCES" {
		t.Errorf("evt.res: got (%q, %v), want EACCES", v, ok)
	}
}

func TestCapsRoundTrip(t *testing.T) {
	for _, s := range []string{"", "CAP_CHOWN", "CAP_CHOWN CAP_SYS_ADMIN CAP_CHECKPOINT_RESTORE"} {
		m, err := ParseCaps(s)
		if err != nil {
			t.Fatalf("ParseCaps(%q): %v", s, err)
		}
		if got := CapsString(m); got != s {
			t.Errorf("round trip %q: got %q", s, got)
		}
	}
	if m, err := ParseCaps("sys_module, net_raw"); err != nil || m != 1<<16|1<<13 {
		t.Errorf("ParseCaps short names: %b, %v", m, err)
	}
	if _, err := ParseCaps("CAP_FLY"); err == nil {
		t.Error("ParseCaps accepted an unknown capability")
	}
}

func TestFdPathHelpers(t *testing.T) {
	for _, c := range []struct{ in, dir, file string }{
		{"/etc/shadow", "/etc", "shadow"},
		{"/shadow", "/", "shadow"},
		{"/etc/", "/etc/", "/etc/"},
		{"noslash", "/", "/"},
		{"/var/log/syslog", "/var/log", "syslog"},
	} {
		if d := fdDirectory(c.in); d != c.dir {
			t.Errorf("fdDirectory(%q) = %q, want %q", c.in, d, c.dir)
		}
		if f := fdFilename(c.in); f != c.file {
			t.Errorf("fdFilename(%q) = %q, want %q", c.in, f, c.file)
		}
	}
	if got := dedupSlashes("..//..///etc/shadow"); got != "../../etc/shadow" {
		t.Errorf("dedupSlashes: %q", got)
	}
}

// TestParamLookupAcrossEventShapes reuses one extractor on events whose parameters sit at
// different positions, so a remembered position must be checked, not trusted.
func TestParamLookupAcrossEventShapes(t *testing.T) {
	r := testRegistry(t)
	x := resolve(t, r, "evt.arg", "flags", true)
	rd := resolve(t, r, "evt.is_open_read", "", false)
	open := openEvent()
	other := openEvent()
	other.Sys.Params = []event.Param{{Name: "flags", Value: "O_WRONLY", Raw: 1, HasRaw: true}, {Name: "fd", Value: "3"}}
	none := openEvent()
	none.Sys.Params = none.Sys.Params[:2]
	for i, c := range []struct {
		ev       *event.Event
		want     string
		ok, read bool
	}{
		{open, "O_RDONLY|O_CLOEXEC", true, true},
		{other, "O_WRONLY", true, false},
		{none, "", false, false},
		{open, "O_RDONLY|O_CLOEXEC", true, true},
	} {
		got, ok := x.Str(c.ev)
		if ok != c.ok || got != c.want {
			t.Errorf("step %d: evt.arg.flags = (%q, %v), want (%q, %v)", i, got, ok, c.want, c.ok)
		}
		if r, _ := rd.Bool(c.ev); r != c.read {
			t.Errorf("step %d: evt.is_open_read = %v, want %v", i, r, c.read)
		}
	}
}
