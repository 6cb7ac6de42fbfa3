package audit_test

import (
	"bufio"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

var update = flag.Bool("update", false, "rewrite testdata/k8s_audit_alerts.golden.jsonl from the current output")

const (
	corpusFile   = "testdata/k8s_audit_events.jsonl"
	expectedFile = "testdata/k8s_audit_expected.txt"
	goldenFile   = "testdata/k8s_audit_alerts.golden.jsonl"
)

// compatDir finds the upstream rules files: $LANNER_COMPAT_DIR, else ../shared/compat next to the
// repository root.
func compatDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LANNER_COMPAT_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "compat")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

type expectation struct {
	first string   // "" for none
	all   []string // in rules-file order
	why   string
}

func readExpectations(t *testing.T) (map[string]expectation, []string) {
	t.Helper()
	data, err := os.ReadFile(expectedFile)
	if err != nil {
		t.Fatal(err)
	}
	exp := map[string]expectation{}
	var order []string
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, " | ")
		if len(parts) != 4 {
			t.Fatalf("%s:%d: want 4 fields separated by ' | ', got %d", expectedFile, i+1, len(parts))
		}
		id := parts[0]
		if _, dup := exp[id]; dup {
			t.Fatalf("%s:%d: auditID %s listed twice", expectedFile, i+1, id)
		}
		e := expectation{why: parts[3]}
		if parts[1] != "-" {
			e.first = parts[1]
		}
		if parts[2] != "-" {
			e.all = strings.Split(parts[2], "; ")
		}
		exp[id] = e
		order = append(order, id)
	}
	return exp, order
}

// replayed is one decoded corpus event with its position.
type replayed struct {
	line int
	id   string
	ev   *event.Event
}

func readCorpus(t *testing.T) []replayed {
	t.Helper()
	f, err := os.Open(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []replayed
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var num uint64
	for line := 1; sc.Scan(); line++ {
		evs, err := audit.Decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s:%d: %v", corpusFile, line, err)
		}
		for _, e := range evs {
			num++
			e.Num = num
			id, _ := e.Audit.Doc["auditID"].(string)
			out = append(out, replayed{line: line, id: id, ev: e})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadUpstream(t *testing.T, reg *fields.Registry, m engine.RuleMatching) *engine.Ruleset {
	t.Helper()
	path := filepath.Join(compatDir(t), "k8s_audit_rules.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("upstream rules not available (set LANNER_COMPAT_DIR): %v", err)
	}
	rs, res := engine.Load([]engine.File{{Name: path, Data: data}}, engine.Options{Registry: reg, RuleMatching: m})
	if !res.OK() {
		t.Fatalf("loading %s: %v", path, res.Err())
	}
	return rs
}

// TestReplayCorpusExpectations replays the corpus through the unmodified upstream rules and checks
// every event against the hand-derived expectations, in both rule_matching modes.
func TestReplayCorpusExpectations(t *testing.T) {
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname("lanner-test"))
	exp, order := readExpectations(t)
	corpus := readCorpus(t)

	seen := map[string]bool{}
	for _, r := range corpus {
		if _, ok := exp[r.id]; !ok {
			t.Errorf("%s:%d: event %q has no expectation", corpusFile, r.line, r.id)
		}
		if seen[r.id] {
			t.Errorf("%s:%d: auditID %q used twice", corpusFile, r.line, r.id)
		}
		seen[r.id] = true
	}
	for _, id := range order {
		if !seen[id] {
			t.Errorf("expectation %q has no event in the corpus", id)
		}
	}

	first := loadUpstream(t, reg, engine.MatchFirst)
	all := loadUpstream(t, reg, engine.MatchAll)
	fired := map[string]bool{}  // rules made to fire by a -pos event
	missed := map[string]bool{} // rules a -neg event was written against (its own rule did not fire)
	for _, r := range corpus {
		want := exp[r.id]
		var gotFirst []string
		first.Process(r.ev, func(rule *engine.Rule, _ *event.Event) { gotFirst = append(gotFirst, rule.Name) })
		var gotAll []string
		all.Process(r.ev, func(rule *engine.Rule, _ *event.Event) { gotAll = append(gotAll, rule.Name) })

		wantFirst := []string{}
		if want.first != "" {
			wantFirst = []string{want.first}
		}
		if strings.Join(gotFirst, "|") != strings.Join(wantFirst, "|") {
			t.Errorf("%s (line %d, %s): rule_matching first fired %q, want %q", r.id, r.line, want.why, gotFirst, wantFirst)
		}
		if strings.Join(gotAll, "|") != strings.Join(want.all, "|") {
			t.Errorf("%s (line %d, %s): rule_matching all fired %q, want %q", r.id, r.line, want.why, gotAll, want.all)
		}
		if strings.Contains(r.id, "-pos") && want.first != "" {
			fired[want.first] = true
		}
		if strings.Contains(r.id, "-neg") {
			missed[r.id] = true
		}
	}
	// Coverage floor of the issue: at least 20 of the 48 rules with positive and negative events.
	if len(fired) < 20 {
		t.Errorf("positive events cover %d rules, want at least 20", len(fired))
	}
	if len(missed) < 20 {
		t.Errorf("%d negative events, want at least 20", len(missed))
	}
	t.Logf("%d events, %d rules fired by positive events, %d negative events", len(corpus), len(fired), len(missed))
}

// TestReplayCorpusGolden renders the alerts of the corpus (rule_matching first) as Falco JSON and
// compares them with the golden file, which was reviewed by hand (see testdata/README.md).
func TestReplayCorpusGolden(t *testing.T) {
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname("lanner-test"))
	rs := loadUpstream(t, reg, engine.MatchFirst)
	b, err := alert.NewBuilder(reg, "lanner-test")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, r := range readCorpus(t) {
		rs.Process(r.ev, func(rule *engine.Rule, e *event.Event) {
			a := b.Build(e, rule.Name, rule.Priority, rule.Tags, rule.Formatter)
			out.Write(a.AppendJSON(nil))
			out.WriteByte('\n')
		})
	}
	if *update {
		if err := os.WriteFile(goldenFile, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenFile)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it, then review it)", err)
	}
	gotLines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	wantLines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
	for i := 0; i < len(gotLines) || i < len(wantLines); i++ {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("alert %d differs:\n got: %s\nwant: %s", i+1, g, w)
		}
	}
}
