package replay_test

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
)

var update = flag.Bool("update", false, "rewrite testdata/syscall/alerts.golden.jsonl from the current output")

const (
	corpusFile   = "testdata/syscall/events.jsonl"
	expectedFile = "testdata/syscall/expected.txt"
	goldenFile   = "testdata/syscall/alerts.golden.jsonl"
	hostname     = "lanner-test"
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

// registry is the field registry of the corpus: UTC clock fields, a fixed host name, and the
// address Falco's DNS manager would find for the API server's name.
func registry() *fields.Registry {
	return fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname(hostname),
		fields.WithHostResolver(fields.NewStaticHosts(map[string][]netip.Addr{
			"kubernetes.default.svc.cluster.local": {netip.MustParseAddr("10.96.0.1")},
		})))
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
			t.Fatalf("%s:%d: id %s listed twice", expectedFile, i+1, id)
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

type corpusEvent struct {
	id string
	ev *event.Event
}

// readCorpus reads the corpus with the replay reader; the id of an event is the first word of
// its comment, which the reader does not keep, so the file is scanned for it alongside.
func readCorpus(t *testing.T) []corpusEvent {
	t.Helper()
	data, err := os.ReadFile(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, `{"comment":"`) {
			continue
		}
		rest := strings.TrimPrefix(line, `{"comment":"`)
		ids = append(ids, rest[:strings.IndexByte(rest, ':')])
	}
	evs, errs := replay.ReadAll(replay.NewReader(bytes.NewReader(data), corpusFile, replay.Options{Source: event.SourceSyscall}))
	for _, err := range errs {
		t.Errorf("corpus: %v", err)
	}
	if len(evs) != len(ids) {
		t.Fatalf("corpus: %d events but %d ids", len(evs), len(ids))
	}
	out := make([]corpusEvent, len(evs))
	for i, e := range evs {
		out[i] = corpusEvent{id: ids[i], ev: e}
	}
	return out
}

func loadUpstream(t *testing.T, reg *fields.Registry, m engine.RuleMatching) *engine.Ruleset {
	t.Helper()
	path := filepath.Join(compatDir(t), "falco_rules.yaml")
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

// TestCorpusCoversEveryRule checks the corpus itself: every expectation has its event and every
// one of the 25 stable rules has a positive and a negative event.
func TestCorpusCoversEveryRule(t *testing.T) {
	exp, order := readExpectations(t)
	corpus := readCorpus(t)
	seen := map[string]bool{}
	for _, c := range corpus {
		if _, ok := exp[c.id]; !ok {
			t.Errorf("event %q has no expectation", c.id)
		}
		if seen[c.id] {
			t.Errorf("id %q used twice", c.id)
		}
		seen[c.id] = true
	}
	for _, id := range order {
		if !seen[id] {
			t.Errorf("expectation %q has no event", id)
		}
	}
	// The rule a -neg event is written against is the one named by its positive twin.
	pos, neg := map[string]bool{}, map[string]bool{}
	prefixRule := map[string]string{}
	for _, id := range order {
		e := exp[id]
		prefix := strings.SplitN(id, "-pos", 2)[0]
		if strings.Contains(id, "-pos") && e.first != "" {
			pos[e.first] = true
			prefixRule[prefix] = e.first
		}
	}
	for _, id := range order {
		if i := strings.Index(id, "-neg"); i >= 0 {
			rule, ok := prefixRule[id[:i]]
			if !ok {
				t.Errorf("negative event %q has no positive twin", id)
				continue
			}
			for _, r := range exp[id].all {
				if r == rule {
					t.Errorf("negative event %q is expected to match its own rule %q", id, rule)
				}
			}
			neg[rule] = true
		}
	}
	if len(pos) != 25 || len(neg) != 25 {
		t.Errorf("rules with a positive event: %d, with a negative event: %d; want 25 and 25", len(pos), len(neg))
	}
}

// TestReplayCorpusExpectations replays the corpus through the unmodified upstream rules and checks
// every event against the hand-derived expectations, in both rule_matching modes.
func TestReplayCorpusExpectations(t *testing.T) {
	reg := registry()
	exp, _ := readExpectations(t)
	first := loadUpstream(t, reg, engine.MatchFirst)
	all := loadUpstream(t, reg, engine.MatchAll)
	agree := 0
	corpus := readCorpus(t)
	for _, c := range corpus {
		want := exp[c.id]
		var gotFirst, gotAll []string
		first.Process(c.ev, func(rule *engine.Rule, _ *event.Event) { gotFirst = append(gotFirst, rule.Name) })
		all.Process(c.ev, func(rule *engine.Rule, _ *event.Event) { gotAll = append(gotAll, rule.Name) })
		wantFirst := []string{}
		if want.first != "" {
			wantFirst = []string{want.first}
		}
		ok := true
		if strings.Join(gotFirst, "|") != strings.Join(wantFirst, "|") {
			t.Errorf("%s (evt.num %d; %s): rule_matching first fired %q, want %q", c.id, c.ev.Num, want.why, gotFirst, wantFirst)
			ok = false
		}
		if strings.Join(gotAll, "|") != strings.Join(want.all, "|") {
			t.Errorf("%s (evt.num %d; %s): rule_matching all fired %q, want %q", c.id, c.ev.Num, want.why, gotAll, want.all)
			ok = false
		}
		if ok {
			agree++
		}
	}
	t.Logf("%d/%d events agree with the expectations", agree, len(corpus))
}

// TestReplayCorpusGolden renders the alerts of the corpus (rule_matching first) as Falco JSON and
// compares them with the golden file, which was reviewed by hand (see testdata/syscall/README.md).
func TestReplayCorpusGolden(t *testing.T) {
	reg := registry()
	rs := loadUpstream(t, reg, engine.MatchFirst)
	b, err := alert.NewBuilder(reg, hostname)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, c := range readCorpus(t) {
		rs.Process(c.ev, func(rule *engine.Rule, e *event.Event) {
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
