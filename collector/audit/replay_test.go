package audit_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay/replaytest"
)

var update = flag.Bool("update", false, "rewrite testdata/k8s_audit_alerts.golden.jsonl from the current output")

const (
	corpusFile   = "testdata/k8s_audit_events.jsonl"
	expectedFile = "testdata/k8s_audit_expected.txt"
	goldenFile   = "testdata/k8s_audit_alerts.golden.jsonl"
	rulesFile    = "k8s_audit_rules.yaml"
)

// readCorpus decodes the corpus; an event is identified by its auditID and located by its line.
func readCorpus(t *testing.T) []replaytest.Case {
	t.Helper()
	f, err := os.Open(corpusFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []replaytest.Case
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
			out = append(out, replaytest.Case{ID: id, Where: fmt.Sprintf("%s:%d", corpusFile, line), Event: e})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReplayCorpusExpectations replays the corpus through the unmodified upstream rules and checks
// every event against the hand-derived expectations, in both rule_matching modes.
func TestReplayCorpusExpectations(t *testing.T) {
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname("lanner-test"))
	exp, order := replaytest.ReadExpectations(t, expectedFile)
	corpus := readCorpus(t)

	seen := map[string]bool{}
	for _, c := range corpus {
		if _, ok := exp[c.ID]; !ok {
			t.Errorf("%s: event %q has no expectation", c.Where, c.ID)
		}
		if seen[c.ID] {
			t.Errorf("%s: auditID %q used twice", c.Where, c.ID)
		}
		seen[c.ID] = true
	}
	for _, id := range order {
		if !seen[id] {
			t.Errorf("expectation %q has no event in the corpus", id)
		}
	}

	first := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchFirst)
	all := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchAll)
	replaytest.CheckExpectations(t, corpus, exp, first, all)
	fired := map[string]bool{}  // rules made to fire by a -pos event
	missed := map[string]bool{} // rules a -neg event was written against (its own rule did not fire)
	for _, c := range corpus {
		if want := exp[c.ID]; strings.Contains(c.ID, "-pos") && want.First != "" {
			fired[want.First] = true
		}
		if strings.Contains(c.ID, "-neg") {
			missed[c.ID] = true
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
	rs := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchFirst)
	b, err := alert.NewBuilder(reg, "lanner-test")
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, c := range readCorpus(t) {
		evs = append(evs, c.Event)
	}
	replaytest.CompareGolden(t, goldenFile, replaytest.RenderAlerts(rs, b, evs), *update)
}
