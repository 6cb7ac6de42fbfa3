package replay_test

import (
	"bytes"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
	"github.com/lannersec/lanner/collector/replay/replaytest"
)

var update = flag.Bool("update", false, "rewrite testdata/syscall/alerts.golden.jsonl from the current output")

const (
	corpusFile   = "testdata/syscall/events.jsonl"
	expectedFile = "testdata/syscall/expected.txt"
	goldenFile   = "testdata/syscall/alerts.golden.jsonl"
	hostname     = "lanner-test"
	rulesFile    = "falco_rules.yaml"
)

// registry is the field registry of the corpus: UTC clock fields, a fixed host name, and the
// address Falco's DNS manager would find for the API server's name.
func registry() *fields.Registry {
	return fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname(hostname),
		fields.WithHostResolver(fields.NewStaticHosts(map[string][]netip.Addr{
			"kubernetes.default.svc.cluster.local": {netip.MustParseAddr("10.96.0.1")},
		})))
}

// readCorpus reads the corpus with the replay reader; the id of an event is the first word of
// its comment, which the reader does not keep, so the file is scanned for it alongside.
func readCorpus(t *testing.T) []replaytest.Case {
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
	out := make([]replaytest.Case, len(evs))
	for i, e := range evs {
		out[i] = replaytest.Case{ID: ids[i], Where: fmt.Sprintf("evt.num %d", e.Num), Event: e}
	}
	return out
}

// TestCorpusCoversEveryRule checks the corpus itself: every expectation has its event and every
// one of the 25 stable rules has a positive and a negative event.
func TestCorpusCoversEveryRule(t *testing.T) {
	exp, order := replaytest.ReadExpectations(t, expectedFile)
	corpus := readCorpus(t)
	seen := map[string]bool{}
	for _, c := range corpus {
		if _, ok := exp[c.ID]; !ok {
			t.Errorf("event %q has no expectation", c.ID)
		}
		if seen[c.ID] {
			t.Errorf("id %q used twice", c.ID)
		}
		seen[c.ID] = true
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
		if strings.Contains(id, "-pos") && e.First != "" {
			pos[e.First] = true
			prefixRule[prefix] = e.First
		}
	}
	for _, id := range order {
		if i := strings.Index(id, "-neg"); i >= 0 {
			rule, ok := prefixRule[id[:i]]
			if !ok {
				t.Errorf("negative event %q has no positive twin", id)
				continue
			}
			for _, r := range exp[id].All {
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
	exp, _ := replaytest.ReadExpectations(t, expectedFile)
	first := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchFirst)
	all := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchAll)
	corpus := readCorpus(t)
	agree := replaytest.CheckExpectations(t, corpus, exp, first, all)
	t.Logf("%d/%d events agree with the expectations", agree, len(corpus))
}

// TestReplayCorpusGolden renders the alerts of the corpus (rule_matching first) as Falco JSON and
// compares them with the golden file, which was reviewed by hand (see testdata/syscall/README.md).
func TestReplayCorpusGolden(t *testing.T) {
	reg := registry()
	rs := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchFirst)
	b, err := alert.NewBuilder(reg, hostname)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, c := range readCorpus(t) {
		evs = append(evs, c.Event)
	}
	replaytest.CompareGolden(t, goldenFile, replaytest.RenderAlerts(rs, b, evs), *update)
}
