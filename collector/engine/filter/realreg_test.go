package filter

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// syscallResolver narrows the real field registry to the syscall source, as the rules loader
// does.
type syscallResolver struct{ reg *fields.Registry }

func (r syscallResolver) Resolve(name, arg string, hasArg bool) (*fields.Extractor, error) {
	return r.reg.Resolve(event.SourceSyscall, name, arg, hasArg)
}

// realThread is a process with two known ancestors: pids 300 <- 200 <- 1.
func realThread() *event.Thread {
	init := &event.Thread{Pid: 1, Tid: 1, Name: "systemd"}
	sshd := &event.Thread{Pid: 200, Tid: 200, Name: "sshd", Parent: init}
	return &event.Thread{Pid: 300, Tid: 300, Name: "curl", Parent: sshd}
}

// connEvent is a connect on a TCP socket from client:cport to server:sport.
func connEvent(client string, cport uint16, server string, sport uint16) *event.Event {
	connect, _ := event.TypeByName("connect")
	c, s := netip.MustParseAddr(client), netip.MustParseAddr(server)
	return &event.Event{Source: event.SourceSyscall, Type: connect, Num: 1, Sys: &event.Syscall{
		Thread: realThread(),
		FD: &event.FD{Num: 4, Type: event.FDIPv4, L4Proto: event.L4TCP, Connected: true,
			ClientIP: c, ClientPort: cport, ServerIP: s, ServerPort: sport},
	}}
}

func fileEvent() *event.Event {
	openat, _ := event.TypeByName("openat")
	return &event.Event{Source: event.SourceSyscall, Type: openat, Num: 2, Sys: &event.Syscall{
		Thread: realThread(),
		FD:     &event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow"},
	}}
}

func orphanEvent() *event.Event {
	e := fileEvent()
	e.Sys.Thread.Parent = nil
	return e
}

// TestRealRegistryAnyOf checks the any-of fields of the real registry (fd.port, fd.proto, fd.ip,
// fd.net, proc.apid) against Falco's verdicts (sinsp_filtercheck_fd.cpp compare_port, compare_ip,
// compare_net; sinsp_filtercheck_thread.cpp compare_full_apid).
func TestRealRegistryAnyOf(t *testing.T) {
	r := syscallResolver{reg: fields.NewRegistry()}
	remote := connEvent("10.1.0.5", 40000, "10.96.0.1", 443)
	local := connEvent("127.0.0.1", 50000, "127.0.0.1", 8080)
	half := connEvent("127.0.0.1", 50001, "10.96.0.1", 443)
	file, orphan := fileEvent(), orphanEvent()
	cases := []struct {
		cond string
		e    *event.Event
		want bool
	}{
		// fd.port: =, <, <=, >, >=, in hold for either end; != only when neither end is the value.
		{"fd.port = 443", remote, true},
		{"fd.port = 40000", remote, true},
		{"fd.port = 80", remote, false},
		{"fd.port != 80", remote, true},
		{"fd.port != 443", remote, false},
		{"fd.port != 40000", remote, false},
		{"fd.port < 1024", remote, true},
		{"fd.port < 443", remote, false},
		{"fd.port <= 443", remote, true},
		{"fd.port > 40000", remote, false},
		{"fd.port >= 40000", remote, true},
		{"fd.port in (80, 443)", remote, true},
		{"fd.port in (80, 8080)", remote, false},
		{"not fd.port in (80, 8080)", remote, true},
		{"not fd.port in (22, 443)", remote, false},
		{"fd.port = https", remote, true},
		{"fd.port exists", remote, true},
		{"fd.port = 8080", local, true},
		{"fd.port != 8080", local, false},
		// Not a socket: every check is false, != included; not makes it true.
		{"fd.port exists", file, false},
		{"fd.port != 443", file, false},
		{"fd.port < 65535", file, false},
		{"not fd.port = 443", file, true},
		// fd.proto is compared like fd.port.
		{"fd.proto = 443", remote, true},
		{"fd.proto != 40000", remote, false},
		{"fd.proto != 22", remote, true},
		{"fd.proto in (22, 40000)", remote, true},
		// fd.ip and fd.net: != means neither end.
		{"fd.ip = 10.96.0.1", remote, true},
		{"fd.ip != 127.0.0.1", remote, true},
		{"fd.ip != 10.96.0.1", remote, false},
		{"fd.ip != 127.0.0.1", local, false},
		{"fd.ip != 127.0.0.1", half, false},
		{"fd.ip in (127.0.0.1, 10.1.0.5)", remote, true},
		{"fd.ip != 127.0.0.1", file, false},
		{"fd.net = 10.0.0.0/8", remote, true},
		{"fd.net != 10.0.0.0/8", remote, false},
		{"fd.net != 127.0.0.0/8", remote, true},
		{"fd.net != 127.0.0.0/8", local, false},
		{"fd.net != 127.0.0.0/8", half, false},
		{"fd.net != 127.0.0.0/8", file, false},
		// The upstream macro that relies on it (falco_rules.yaml, outbound connections).
		{`fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8" and not fd.snet in (10.0.0.0/8)`, remote, false},
		{`fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"`, remote, true},
		{`fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8"`, half, false},
		// proc.apid without argument: any ancestor, != included (some ancestor is not the value).
		{"proc.apid = 1", remote, true},
		{"proc.apid = 200", remote, true},
		{"proc.apid = 300", remote, false}, // the process itself is not an ancestor
		{"proc.apid != 1", remote, true},
		{"proc.apid < 2", remote, true},
		{"proc.apid > 200", remote, false},
		{"proc.apid >= 200", remote, true},
		{"proc.apid in (5, 200)", remote, true},
		{"proc.apid in (5, 300)", remote, false},
		{"not proc.apid in (5, 300)", remote, true},
		{"proc.apid intersects (1)", remote, true},
		{"proc.apid exists", remote, true},
		{"proc.apid[1] = 200", remote, true},
		{"proc.apid[2] = 1", remote, true},
		{"proc.apid[1] != 200", remote, false},
		{"proc.apid exists", orphan, false},
		{"proc.apid != 1", orphan, false},
		{"not proc.apid = 1", orphan, true},
	}
	for _, tc := range cases {
		m, _, err := Compile(mustParse(t, tc.cond), r)
		if err != nil {
			t.Errorf("%q: %v", tc.cond, err)
			continue
		}
		if got := m(tc.e); got != tc.want {
			t.Errorf("%q on %s = %v, want %v", tc.cond, describe(tc.e), got, tc.want)
		}
	}

	errs := []struct{ cond, err string }{
		{"fd.port contains 4", "operator 'contains' is not supported by field fd.port of type PORT"},
		{"fd.port = nosuchservice", "unrecognized protocol nosuchservice"},
		{"fd.ip > 1", "operator '>' is not supported by field fd.ip"},
		{"fd.net = 10.0.0.1", "CIDR"},
		{"proc.apid glob 1", "operator 'glob' is not supported by field proc.apid"},
		{"proc.apid = x", "x is not a valid number"},
		{"proc.pid = val(proc.apid)", "cannot be used on the right-hand side"},
		{"fd.sport = val(fd.port)", "cannot be used on the right-hand side"},
	}
	for _, tc := range errs {
		_, _, err := Compile(mustParse(t, tc.cond), r)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: error %v, want %q", tc.cond, err, tc.err)
		}
	}
}

func describe(e *event.Event) string {
	if fd := e.Sys.FD; fd != nil && fd.ClientIP.IsValid() {
		return netip.AddrPortFrom(fd.ClientIP, fd.ClientPort).String() + "->" + netip.AddrPortFrom(fd.ServerIP, fd.ServerPort).String()
	}
	if e.Sys.Thread.Parent == nil {
		return "an orphan's file event"
	}
	return "a file event"
}
