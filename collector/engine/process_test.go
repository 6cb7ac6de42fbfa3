package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
)

// stableMix is a realistic syscall mix for the stable ruleset that no rule matches: opens of
// ordinary files, execs of ordinary programs, outbound connects, and a type no rule uses.
func stableMix() []*event.Event {
	parent := &event.Thread{Tid: 1, Pid: 1, Name: "systemd", Exe: "/sbin/init", ExePath: "/sbin/init", Container: &event.Container{ID: event.HostContainerID}}
	th := &event.Thread{Tid: 100, Pid: 100, PPid: 1, Name: "nginx", Exe: "nginx", ExePath: "/usr/sbin/nginx", Args: []string{"-g", "daemon off;"},
		Cwd: "/", UID: 33, User: "www-data", Container: &event.Container{ID: event.HostContainerID}, Parent: parent}
	mk := func(typ string, fd *event.FD, params ...event.Param) *event.Event {
		t, _ := event.TypeByName(typ)
		return &event.Event{Source: event.SourceSyscall, Type: t, Num: 7, Time: 1, Sys: &event.Syscall{Thread: th, FD: fd, Params: params}}
	}
	file := &event.FD{Num: 5, Type: event.FDFile, Name: "/var/www/index.html", NameRaw: "/var/www/index.html"}
	sock := &event.FD{Num: 6, Type: event.FDIPv4, Name: "10.0.0.1:40000->10.0.0.2:443", L4Proto: event.L4TCP,
		ClientIP: netip.MustParseAddr("10.0.0.1"), ServerIP: netip.MustParseAddr("10.0.0.2"), ClientPort: 40000, ServerPort: 443}
	return []*event.Event{
		mk("openat", file, event.Param{Name: "flags", Value: "O_RDONLY", Raw: 0, HasRaw: true}),
		mk("openat", file, event.Param{Name: "flags", Value: "O_RDONLY|O_CLOEXEC", Raw: 0x80000, HasRaw: true}),
		mk("execve", nil),
		mk("connect", sock),
		mk("read", file),
	}
}

func loadStable(t testing.TB) *Ruleset {
	t.Helper()
	rs, res := Load([]File{compatFile(t, "falco_rules.yaml")}, Options{Registry: registry()})
	if !res.OK() {
		t.Fatalf("loading the stable rules: %v", res.Err())
	}
	return rs
}

// TestProcessNonMatchingDoesNotAllocate is the hot-path contract: an event no rule matches costs
// no heap allocation.
func TestProcessNonMatchingDoesNotAllocate(t *testing.T) {
	rs := loadStable(t)
	fn := func(*Rule, *event.Event) {}
	for _, e := range stableMix() {
		if n := rs.Process(e, fn); n != 0 {
			t.Fatalf("event %s unexpectedly matched %d rules", event.TypeName(e.Type), n)
		}
		if a := testing.AllocsPerRun(200, func() { rs.Process(e, fn) }); a != 0 {
			t.Errorf("Process(%s) allocates %.1f times per event", event.TypeName(e.Type), a)
		}
	}
}

// TestEventTypeIndex checks that rules are only candidates for the event types they can match.
func TestEventTypeIndex(t *testing.T) {
	rs, res := load(rule("open", "evt.type in (open, openat)") + rule("exec", "evt.type = execve and proc.name = x") +
		rule("any", "proc.name = never", "warn_evttypes: false") + rule("none", "evt.num = 0") + krule("k", "ka.verb = get"))
	fatalDiags(t, res)
	typ := func(s string) uint16 { v, _ := event.TypeByName(s); return v }
	for _, tc := range []struct {
		src  event.Source
		typ  uint16
		want string
	}{
		{event.SourceSyscall, typ("openat"), "open,any"},
		{event.SourceSyscall, typ("open"), "open,any"},
		{event.SourceSyscall, typ("execve"), "exec,any"},
		{event.SourceSyscall, typ("connect"), "any"},
		{event.SourceK8sAudit, event.AuditEventType, "k"},
		{event.SourceUnknown, 0, ""},
		{event.SourceSyscall, uint16(event.NumTypes + 5), ""},
	} {
		if got := names(rs.Candidates(tc.src, tc.typ)); got != tc.want {
			t.Errorf("candidates(%v, %d) = %q, want %q", tc.src, tc.typ, got, tc.want)
		}
	}
	if got := len(rs.Candidates(event.SourceSyscall, typ("close"))); got != 1 {
		t.Errorf("close has %d candidates, want 1 (the rule without event types)", got)
	}
}

func TestSelection(t *testing.T) {
	rs, res := load("- rule: a\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: ERROR\n  tags: [shell]\n" +
		"- rule: b\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: DEBUG\n  tags: [net]\n")
	fatalDiags(t, res)
	e := sys("execve", "x")
	rsAll := func() string { return matched(rs, e) }
	if got := rsAll(); got != "a" {
		t.Fatalf("first match = %q", got)
	}
	rs.EnableByTag("shell", false)
	if got := rsAll(); got != "b" {
		t.Errorf("after disabling tag shell: %q, want b", got)
	}
	rs.SetMinPriority(alert.Notice)
	if got := rsAll(); got != "" {
		t.Errorf("debug rule below notice still runs: %q", got)
	}
	rs.SetMinPriority(alert.Debug)
	if n, err := rs.EnableByName("*", true); err != nil || n != 2 {
		t.Errorf("EnableByName(*) = %d, %v", n, err)
	}
	if got := rsAll(); got != "a" {
		t.Errorf("after enabling all: %q", got)
	}
	if _, err := rs.EnableByName("[", true); err == nil {
		t.Error("bad pattern accepted")
	}
	if !rs.IsEnabled("a") || rs.IsEnabled("nope") {
		t.Error("IsEnabled wrong")
	}
}

func TestRuleMatchingParse(t *testing.T) {
	for in, want := range map[string]RuleMatching{"first": MatchFirst, "all": MatchAll, "": MatchFirst} {
		got, err := ParseRuleMatching(in)
		if err != nil || got != want {
			t.Errorf("ParseRuleMatching(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseRuleMatching("some"); err == nil {
		t.Error("invalid mode accepted")
	}
}

func TestExplain(t *testing.T) {
	lib := shells + macro("spawned", "evt.type in (execve, execveat)") + macro("shell", "proc.name in (shells)")
	for _, tc := range []struct {
		cond, want, unresolved string
		syntaxErr              bool
	}{
		{cond: "spawned and shell", want: "(evt.type in (execve, execveat) and proc.name in (bash, sh))"},
		{cond: "spawned and not trusted", want: "(evt.type in (execve, execveat) and not trusted)", unresolved: "trusted"},
		{cond: "proc.name in (shells, zsh)", want: "proc.name in (bash, sh, zsh)"},
		{cond: "proc.nosuch = 1 and shell", want: "(proc.nosuch = 1 and proc.name in (bash, sh))"},
		{cond: "spawned and", syntaxErr: true},
	} {
		ex, res, err := Explain(files(lib), tc.cond)
		if !res.OK() {
			t.Fatalf("%s: %v", tc.cond, res.Err())
		}
		if tc.syntaxErr {
			if err == nil {
				t.Errorf("%s: no syntax error", tc.cond)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.cond, err)
			continue
		}
		if ex.Canonical != tc.want || strings.Join(ex.Unresolved, ",") != tc.unresolved {
			t.Errorf("%s: got %s (unresolved %v), want %s (%s)", tc.cond, ex.Canonical, ex.Unresolved, tc.want, tc.unresolved)
		}
	}
}

func BenchmarkProcessStable(b *testing.B) {
	rs := loadStable(b)
	mix := stableMix()
	fn := func(*Rule, *event.Event) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs.Process(mix[i%len(mix)], fn)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkLoadStable(b *testing.B) {
	f := compatFile(b, "falco_rules.yaml")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, res := Load([]File{f}, Options{Registry: registry()}); !res.OK() {
			b.Fatal(res.Err())
		}
	}
}

// FuzzLoad loads arbitrary rules files: it must never panic, and a load either fails with
// errors or yields a ruleset. The seeds are the upstream files cut into groups of consecutive
// items (the whole files are loaded by TestLoadCompatFiles; whole 64 KB seeds would make every
// new finding take the fuzzer a minute to minimise), lanner's testdata and a few hand-written
// files.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"falco_rules.yaml", "k8s_audit_rules.yaml"} {
		if data, err := os.ReadFile(filepath.Join(compatDir(f), name)); err == nil {
			for _, chunk := range itemGroups(string(data), 12) {
				f.Add([]byte(chunk))
			}
		}
	}
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(shells + rule("r", "proc.name in (shells)", "exceptions:\n    - name: e\n      fields: [proc.name]\n      values: [[x]]\n")))
	f.Add([]byte(macro("m", "proc.name = a") + rule("r", "m", "tags: [a, b]") + "- rule: r\n  condition: and not m\n  override:\n    condition: append\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, res := Load([]File{{Name: "fuzz.yaml", Data: data}}, Options{Registry: registry()})
		if res.OK() != (rs != nil) {
			t.Fatalf("ruleset %v with %d errors", rs != nil, len(res.Errors))
		}
		for _, d := range res.Errors {
			_ = d.String()
		}
		if rs != nil {
			for _, e := range stableMix() {
				rs.Process(e, func(*Rule, *event.Event) {})
			}
		}
	})
}

// itemGroups cuts a rules file into pieces of n top-level items each (an item starts at a line
// beginning with "- ").
func itemGroups(data string, n int) []string {
	var out []string
	var b strings.Builder
	items := 0
	for _, line := range strings.SplitAfter(data, "\n") {
		if strings.HasPrefix(line, "- ") {
			if items == n {
				out = append(out, b.String())
				b.Reset()
				items = 0
			}
			items++
		}
		b.WriteString(line)
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}
