// Package rules_test checks lanner's own rules file: it loads alone and together with the
// upstream Falco files without taking any of their names, and its rules fire on the replay
// events in testdata exactly as testdata/lanner_expected.txt says.
package rules_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
)

const rulesFile = "lanner_rules.yaml"

// compatDir finds the upstream rules files: $LANNER_COMPAT_DIR, else ../shared/compat next to the
// repository root (this directory's parent).
func compatDir() string {
	if d := os.Getenv("LANNER_COMPAT_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "shared", "compat")
}

func readFile(t *testing.T, path string) engine.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return engine.File{Name: path, Data: data}
}

func load(t *testing.T, files []engine.File, m engine.RuleMatching) (*engine.Ruleset, *engine.Result) {
	t.Helper()
	rs, res := engine.Load(files, engine.Options{Registry: fields.NewRegistry(), RuleMatching: m})
	if !res.OK() {
		t.Fatalf("load: %v", res.Err())
	}
	return rs, res
}

func TestLannerRulesLoad(t *testing.T) {
	rs, res := load(t, []engine.File{readFile(t, rulesFile)}, engine.MatchAll)
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w.String())
	}
	var sys, k8s int
	for _, r := range rs.Rules() {
		switch r.Source {
		case event.SourceSyscall:
			sys++
		case event.SourceK8sAudit:
			k8s++
		}
		if !strings.HasPrefix(r.Name, "Lanner ") {
			t.Errorf("rule %q: lanner's rule names start with \"Lanner \"", r.Name)
		}
		var hasLanner, hasMitre bool
		for _, tag := range r.Tags {
			hasLanner = hasLanner || tag == "lanner"
			hasMitre = hasMitre || (strings.HasPrefix(tag, "T") && len(tag) >= 5 && tag[1] >= '0' && tag[1] <= '9')
		}
		if !hasLanner || !hasMitre {
			t.Errorf("rule %q: tags %v need \"lanner\" and a MITRE technique id", r.Name, r.Tags)
		}
		if !r.Enabled {
			t.Errorf("rule %q is disabled", r.Name)
		}
	}
	if sys < 5 || k8s < 4 {
		t.Errorf("%d syscall and %d k8s_audit rules, want at least 5 and 4", sys, k8s)
	}
	t.Logf("%d rules (%d syscall, %d k8s_audit), %d macros, %d lists", res.Rules, sys, k8s, res.Macros, res.Lists)
}

// TestLannerRulesWithUpstream loads the upstream files first and lanner's last, and checks that
// no rule, macro or list of lanner's has a name upstream uses: a shared name would silently
// redefine or append to an upstream item.
func TestLannerRulesWithUpstream(t *testing.T) {
	dir := compatDir()
	upstream := []string{filepath.Join(dir, "falco_rules.yaml"), filepath.Join(dir, "k8s_audit_rules.yaml")}
	for _, p := range upstream {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("upstream rules not available (set LANNER_COMPAT_DIR): %v", err)
		}
	}
	files := []engine.File{readFile(t, upstream[0]), readFile(t, upstream[1])}
	_, up := load(t, files, engine.MatchFirst)
	own := readFile(t, rulesFile)
	_, alone := load(t, []engine.File{own}, engine.MatchFirst)
	rs, all := load(t, append(files, own), engine.MatchFirst)
	if all.Rules != up.Rules+alone.Rules || all.Macros != up.Macros+alone.Macros || all.Lists != up.Lists+alone.Lists {
		t.Errorf("together %d/%d/%d rules/macros/lists, want the sums %d/%d/%d: a name is shared",
			all.Rules, all.Macros, all.Lists, up.Rules+alone.Rules, up.Macros+alone.Macros, up.Lists+alone.Lists)
	}
	upstreamNames := map[string]bool{}
	for _, f := range files {
		for _, line := range strings.Split(string(f.Data), "\n") {
			for _, kind := range []string{"- rule: ", "- macro: ", "- list: "} {
				if name, ok := strings.CutPrefix(line, kind); ok {
					upstreamNames[strings.TrimSpace(name)] = true
				}
			}
		}
	}
	for _, line := range strings.Split(string(own.Data), "\n") {
		for _, kind := range []string{"- rule: ", "- macro: ", "- list: "} {
			if name, ok := strings.CutPrefix(line, kind); ok && upstreamNames[strings.TrimSpace(name)] {
				t.Errorf("%s%s is also defined upstream", kind, name)
			}
		}
	}
	if len(rs.Rules()) != all.Rules {
		t.Errorf("ruleset has %d rules, result says %d", len(rs.Rules()), all.Rules)
	}
}

// TestLannerRulesReplay replays testdata/lanner_events.jsonl (syscall and audit events) through
// lanner's rules alone, with rule_matching all, and compares with testdata/lanner_expected.txt,
// one line per event in order: "id | rules that fire, ; separated, or - | why".
func TestLannerRulesReplay(t *testing.T) {
	rs, _ := load(t, []engine.File{readFile(t, rulesFile)}, engine.MatchAll)
	data, err := os.ReadFile("testdata/lanner_expected.txt")
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ id, rules, why string }
	var wants []want
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, " | ")
		if len(p) != 3 {
			t.Fatalf("lanner_expected.txt:%d: want 3 fields separated by ' | '", i+1)
		}
		wants = append(wants, want{p[0], p[1], p[2]})
	}
	rd := replay.Open([]string{"testdata/lanner_events.jsonl"}, replay.Options{})
	defer rd.Close()
	fired := map[string]bool{}
	n := 0
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n >= len(wants) {
			t.Fatalf("event %d has no expectation", n+1)
		}
		w := wants[n]
		n++
		if e.Source == event.SourceK8sAudit {
			if id, _ := e.Audit.Doc["auditID"].(string); id != w.id {
				t.Fatalf("event %d is %q, expectation is for %q", n, id, w.id)
			}
		}
		var got []string
		rs.Process(e, func(r *engine.Rule, _ *event.Event) { got = append(got, r.Name); fired[r.Name] = true })
		gotS := strings.Join(got, "; ")
		if gotS == "" {
			gotS = "-"
		}
		if gotS != w.rules {
			t.Errorf("%s (%s): fired %q, want %q", w.id, w.why, gotS, w.rules)
		}
	}
	if n != len(wants) {
		t.Errorf("%d events, %d expectations", n, len(wants))
	}
	for _, r := range rs.Rules() {
		if !fired[r.Name] {
			t.Errorf("rule %q fires on no replay event", r.Name)
		}
	}
}
