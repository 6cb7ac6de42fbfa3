package filter

import (
	"testing"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// benchResolver has a few fields that read a real event.Event the way the production extractors
// do, so the benchmarks and the allocation test measure the compiled closures, not a test map.
type benchResolver struct{ reg *fields.Registry }

func (b benchResolver) Resolve(name, arg string, hasArg bool) (*fields.Extractor, error) {
	return b.reg.Resolve(event.SourceSyscall, name, arg, hasArg)
}

func newBenchResolver(tb testing.TB) benchResolver {
	reg := &fields.Registry{}
	add := func(name string, typ fields.Type, build func(x *fields.Extractor)) {
		err := reg.Add(&fields.Field{Name: name, Source: event.SourceSyscall, Type: typ,
			Build: func(string, bool) (*fields.Extractor, error) {
				x := &fields.Extractor{Type: typ}
				build(x)
				return x, nil
			}})
		if err != nil {
			tb.Fatal(err)
		}
	}
	thread := func(e *event.Event) *event.Thread {
		if e.Sys == nil {
			return nil
		}
		return e.Sys.Thread
	}
	add("evt.type", fields.TypeCharBuf, func(x *fields.Extractor) {
		x.Str = func(e *event.Event) (string, bool) { return event.TypeName(e.Type), true }
	})
	add("proc.name", fields.TypeCharBuf, func(x *fields.Extractor) {
		x.Str = func(e *event.Event) (string, bool) {
			if t := thread(e); t != nil {
				return t.Name, true
			}
			return "", false
		}
	})
	add("proc.cmdline", fields.TypeCharBuf, func(x *fields.Extractor) {
		x.Str = func(e *event.Event) (string, bool) {
			if t := thread(e); t != nil {
				return t.CmdLine(), true
			}
			return "", false
		}
	})
	add("proc.pid", fields.TypePID, func(x *fields.Extractor) {
		x.Num = func(e *event.Event) (int64, bool) {
			if t := thread(e); t != nil {
				return t.Pid, true
			}
			return 0, false
		}
	})
	add("proc.aname", fields.TypeCharBuf, func(x *fields.Extractor) {
		x.List, x.AnyOf = true, true
		x.Strs = func(e *event.Event, dst []string) ([]string, bool) {
			t := thread(e)
			if t == nil {
				return dst, false
			}
			for p := t.Parent; p != nil; p = p.Parent {
				dst = append(dst, p.Name)
			}
			return dst, true
		}
	})
	add("fd.name", fields.TypeFSPath, func(x *fields.Extractor) {
		x.Str = func(e *event.Event) (string, bool) {
			if e.Sys == nil || e.Sys.FD == nil {
				return "", false
			}
			return e.Sys.FD.Name, true
		}
	})
	return benchResolver{reg: reg}
}

func benchEvent() *event.Event {
	init := &event.Thread{Pid: 1, Name: "systemd"}
	containerd := &event.Thread{Pid: 300, Name: "containerd-shim", Parent: init}
	sh := &event.Thread{Pid: 400, Name: "sh", Parent: containerd}
	nginx := &event.Thread{Pid: 500, Name: "nginx", Parent: sh}
	nginx.SetArgs([]string{"-g", "daemon off;"})
	openat, _ := event.TypeByName("openat")
	return &event.Event{Source: event.SourceSyscall, Type: openat, Num: 42, Sys: &event.Syscall{
		Thread: nginx,
		FD:     &event.FD{Num: 7, Type: event.FDFile, Name: "/var/log/nginx/access.log"},
	}}
}

// benchConds are typical checks, each false for benchEvent.
var benchConds = []struct{ name, cond string }{
	{"string_eq", "proc.name = bash"},
	{"string_in8", "proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash)"},
	{"string_in40", "proc.name in (a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20)"},
	{"startswith", "fd.name startswith /etc/"},
	{"contains", "proc.cmdline contains --privileged"},
	{"icontains", "proc.cmdline icontains PRIVILEGED"},
	{"numeric_lt", "proc.pid < 100"},
	{"aname_any_in", "proc.aname in (sshd, login, sudo)"},
	{"aname_any_eq", "proc.aname = sshd"},
	{"pmatch", "fd.name pmatch (/etc, /root/.ssh, /usr/bin)"},
	{"glob", "fd.name glob /home/*/.ssh/*"},
	{"regex", "proc.name regex 'ba[sz]h'"},
	{"tolower_eq", "tolower(proc.name) = bash"},
	{"val_eq", "proc.name = val(proc.cmdline)"},
	{"missing_not", "not fd.name exists and proc.name = nginx"},
	{"rule_like", "evt.type in (open, openat, openat2) and fd.name startswith /etc/ and not proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash) and not proc.aname in (sshd, login)"},
}

// realBenchConds use the any-of fields of the real registry (list extractors with a scratch
// slice, != over every value), each false for realBenchEvent.
var realBenchConds = []struct{ name, cond string }{
	{"port_eq", "fd.port = 22"},
	{"port_ne_all", "fd.port != 443"},
	{"port_lt", "fd.port < 100"},
	{"port_in", "fd.port in (22, 2222, 8022)"},
	{"port_not_in", "not fd.port in (443, 8443)"},
	{"proto_eq", "fd.proto = 22"},
	{"ip_ne_all", "fd.ip != 10.96.0.1"},
	{"net_ne_all", "fd.net != 10.0.0.0/8"},
	{"ip_in", "fd.ip in (127.0.0.1, 192.168.1.1)"},
	{"apid_eq", "proc.apid = 12345"},
	{"apid_gt", "proc.apid > 200"},
	{"apid_in", "proc.apid in (7, 8, 9, 10, 11, 12)"},
	{"apid_index_missing", "proc.apid[5] exists"},
	{"outbound_macro", `fd.ip != "0.0.0.0" and fd.net != "127.0.0.0/8" and not fd.snet in (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)`},
}

func realBenchEvent() *event.Event { return connEvent("10.1.0.5", 40000, "10.96.0.1", 443) }

func compileReal(tb testing.TB, cond string) Matcher {
	m, _, err := Compile(mustParse(tb, cond), syscallResolver{reg: fields.NewRegistry()})
	if err != nil {
		tb.Fatalf("%s: %v", cond, err)
	}
	return m
}

func compileBench(tb testing.TB, cond string) Matcher {
	m, _, err := Compile(mustParse(tb, cond), newBenchResolver(tb))
	if err != nil {
		tb.Fatalf("%s: %v", cond, err)
	}
	return m
}

// TestNoAllocOnNonMatch holds the performance contract: a non-matching event costs no heap
// allocation, whatever the operator.
func TestNoAllocOnNonMatch(t *testing.T) {
	e := benchEvent()
	for _, bc := range benchConds {
		m := compileBench(t, bc.cond)
		if m(e) {
			t.Errorf("%s: %q matches the benchmark event; it should not", bc.name, bc.cond)
		}
		if n := testing.AllocsPerRun(200, func() { m(e) }); n != 0 {
			t.Errorf("%s: %q allocates %.1f times per evaluation", bc.name, bc.cond, n)
		}
	}
	// Matching evaluations of these checks do not allocate either.
	for _, cond := range []string{"proc.name = nginx", "proc.aname = sh", "tolower(proc.name) = nginx", "fd.name pmatch (/var/log)"} {
		m := compileBench(t, cond)
		if !m(e) {
			t.Errorf("%q does not match the benchmark event", cond)
		}
		if n := testing.AllocsPerRun(200, func() { m(e) }); n != 0 {
			t.Errorf("%q allocates %.1f times per evaluation", cond, n)
		}
	}

	// The real registry's any-of fields, non-matching then matching.
	re := realBenchEvent()
	for _, bc := range realBenchConds {
		m := compileReal(t, bc.cond)
		if m(re) {
			t.Errorf("%s: %q matches the connect event; it should not", bc.name, bc.cond)
		}
		if n := testing.AllocsPerRun(200, func() { m(re) }); n != 0 {
			t.Errorf("%s: %q allocates %.1f times per evaluation", bc.name, bc.cond, n)
		}
	}
	for _, cond := range []string{"fd.port = 443", "fd.port != 22", "fd.ip != 127.0.0.1", "fd.net != 127.0.0.0/8", "proc.apid = 1", "proc.apid in (1, 2)"} {
		m := compileReal(t, cond)
		if !m(re) {
			t.Errorf("%q does not match the connect event", cond)
		}
		if n := testing.AllocsPerRun(200, func() { m(re) }); n != 0 {
			t.Errorf("%q allocates %.1f times per evaluation", cond, n)
		}
	}
}

func BenchmarkMatchNonMatching(b *testing.B) {
	e := benchEvent()
	for _, bc := range benchConds {
		m := compileBench(b, bc.cond)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m(e) {
					b.Fatal("matched")
				}
			}
		})
	}
}

func BenchmarkMatchAnyOfNonMatching(b *testing.B) {
	e := realBenchEvent()
	for _, bc := range realBenchConds {
		m := compileReal(b, bc.cond)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if m(e) {
					b.Fatal("matched")
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	cond := "evt.type in (open, openat, openat2) and fd.name startswith /etc/ and not proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash) and not proc.aname in (sshd, login)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(cond); err != nil {
			b.Fatal(err)
		}
	}
}
