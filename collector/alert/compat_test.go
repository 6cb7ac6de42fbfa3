package alert

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// compatFile finds one of the upstream rules files lanner must load unmodified: in the engine's
// testdata when it has a copy, else in the shared compat folder beside the repository.
func compatFile(t *testing.T, name string) []byte {
	t.Helper()
	for _, p := range []string{
		filepath.Join("..", "engine", "testdata", name),
		filepath.Join("..", "..", "..", "shared", "compat", name),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	t.Skipf("%s not found", name)
	return nil
}

// TestUpstreamOutputsCompile compiles the output of every upstream rule with the built-in
// registry and formats it on an empty event: every token must resolve, none may be filter-only.
func TestUpstreamOutputsCompile(t *testing.T) {
	r := fields.NewRegistry()
	b, err := NewBuilder(r, "node")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		src   event.Source
		rules int
	}{
		{"falco_rules.yaml", event.SourceSyscall, 25},
		{"k8s_audit_rules.yaml", event.SourceK8sAudit, 48},
	} {
		var docs []map[string]any
		if err := yaml.Unmarshal(compatFile(t, tc.file), &docs); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		n := 0
		for _, d := range docs {
			rule, ok := d["rule"].(string)
			out, ok2 := d["output"].(string)
			if !ok || !ok2 {
				continue
			}
			n++
			f, err := NewFormatter(out, tc.src, r)
			if err != nil {
				t.Errorf("%s: rule %q: %v", tc.file, rule, err)
				continue
			}
			e := &event.Event{Source: tc.src, Num: 1, Time: 1}
			if tc.src == event.SourceSyscall {
				e.Sys = &event.Syscall{}
			} else {
				e.Audit = &event.Audit{}
			}
			a := b.Build(e, rule, Warning, nil, f)
			if n == 3 && os.Getenv("SHOWJSON") != "" {
				t.Logf("%s", a.AppendJSON(nil))
			}
			if len(a.AppendJSON(nil)) == 0 {
				t.Errorf("rule %q: empty JSON", rule)
			}
		}
		if n != tc.rules {
			t.Errorf("%s: %d rules with an output, want %d", tc.file, n, tc.rules)
		}
	}
}

// BenchmarkUpstreamAlert formats the alert of the stable rule "Read sensitive file untrusted"
// (the longest kind of upstream output, plus the suggested fields) for a realistic openat event
// with the built-in fields, and encodes it as Falco JSON.
func BenchmarkUpstreamAlert(b *testing.B) {
	const output = "Sensitive file opened for reading by non-trusted program | file=%fd.name gparent=%proc.aname[2] ggparent=%proc.aname[3] gggparent=%proc.aname[4] evt_type=%evt.type user=%user.name user_uid=%user.uid user_loginuid=%user.loginuid process=%proc.name proc_exepath=%proc.exepath parent=%proc.pname command=%proc.cmdline terminal=%proc.tty"
	r := fields.NewRegistry(fields.WithHostname("node-1"))
	msg, err := NewFormatter(output, event.SourceSyscall, r)
	if err != nil {
		b.Fatal(err)
	}
	bl, err := NewBuilder(r, "node-1")
	if err != nil {
		b.Fatal(err)
	}
	ctr := &event.Container{ID: "3ad7b26ded6d", FullID: "3ad7b26ded6d0123456789", Name: "web", Image: "nginx:1.27",
		ImageRepository: "nginx", ImageTag: "1.27", Pod: &event.Pod{Name: "web-7d9f", Namespace: "shop"}}
	init1 := &event.Thread{Tid: 1, Pid: 1, Name: "systemd", ExePath: "/usr/lib/systemd/systemd"}
	sshd := &event.Thread{Tid: 800, Pid: 800, PPid: 1, Name: "sshd", ExePath: "/usr/sbin/sshd", Parent: init1}
	bash := &event.Thread{Tid: 900, Pid: 900, PPid: 800, Name: "bash", ExePath: "/usr/bin/bash", Parent: sshd, Tty: 34816}
	cat := &event.Thread{Tid: 1000, Pid: 1000, PPid: 900, Name: "cat", Exe: "cat", ExePath: "/usr/bin/cat",
		Args: []string{"/etc/shadow"}, Tty: 34816, UID: 0, User: "root", LoginUID: 1000, Parent: bash, Container: ctr}
	openat, _ := event.TypeByName("openat")
	e := &event.Event{Source: event.SourceSyscall, Type: openat, Num: 42, Time: 1718000000123456789,
		Sys: &event.Syscall{Res: 3, Thread: cat, FD: &event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow"},
			Params: []event.Param{{Name: "fd", Value: "3", Raw: 3, HasRaw: true}, {Name: "name", Value: "/etc/shadow"}, {Name: "flags", Value: "O_RDONLY"}}}}
	tags := []string{"maturity_stable", "host", "container", "filesystem", "mitre_credential_access", "T1555"}
	buf := make([]byte, 0, 4096)
	if testing.Verbose() {
		b.Logf("%s", bl.Build(e, "Read sensitive file untrusted", Warning, tags, msg).AppendJSON(nil))
	}
	b.ReportAllocs()
	for b.Loop() {
		a := bl.Build(e, "Read sensitive file untrusted", Warning, tags, msg)
		buf = a.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
