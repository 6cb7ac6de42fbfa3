package engine_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
)

// mixWeights repeats each event of testdata/bench/syscall_mix.jsonl this many times in the
// benchmark stream, in file order: opens dominate, as on a real node, followed by close/read
// (no rule can match them), execs, connects, sockets, sends and dups.
var mixWeights = []int{20, 12, 10, 6, 4, 14, 14, 3, 3, 4, 2, 2, 1}

// stableMix loads the unmodified upstream stable ruleset and the weighted event mix.
func stableMix(tb testing.TB) (*engine.Ruleset, []*event.Event) {
	tb.Helper()
	dir := os.Getenv("LANNER_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "compat")
	}
	data, err := os.ReadFile(filepath.Join(dir, "falco_rules.yaml"))
	if err != nil {
		tb.Fatalf("reading the stable rules (set LANNER_COMPAT_DIR to override): %v", err)
	}
	rs, res := engine.Load([]engine.File{{Name: "falco_rules.yaml", Data: data}}, engine.Options{Registry: fields.NewRegistry()})
	if !res.OK() {
		tb.Fatalf("loading the stable rules: %v", res.Err())
	}
	r := replay.Open([]string{filepath.Join("testdata", "bench", "syscall_mix.jsonl")}, replay.Options{})
	defer r.Close()
	base, errs := replay.ReadAll(r)
	if len(errs) != 0 {
		tb.Fatalf("reading the event mix: %v", errs)
	}
	if len(base) != len(mixWeights) {
		tb.Fatalf("event mix has %d events, weights %d", len(base), len(mixWeights))
	}
	var evs []*event.Event
	for i, e := range base {
		for range mixWeights[i] {
			evs = append(evs, e)
		}
	}
	// Interleave so that consecutive events differ, as on a real node (no branch-predictor
	// flattery from long runs of one event).
	out := make([]*event.Event, 0, len(evs))
	for stride := 0; stride < 7; stride++ {
		for i := stride; i < len(evs); i += 7 {
			out = append(out, evs[i])
		}
	}
	return rs, out
}

// TestStableMixMatchesNothing guards the benchmark's premise: no event of the mix matches a stable
// rule, so the benchmark measures the non-matching path, and that path allocates nothing.
func TestStableMixMatchesNothing(t *testing.T) {
	rs, evs := stableMix(t)
	for _, e := range evs {
		rs.Process(e, func(r *engine.Rule, e *event.Event) {
			t.Fatalf("event %s (num %d) matched rule %q", event.TypeName(e.Type), e.Num, r.Name)
		})
	}
	nop := func(*engine.Rule, *event.Event) {}
	allocs := testing.AllocsPerRun(20, func() {
		for _, e := range evs {
			rs.Process(e, nop)
		}
	})
	if allocs != 0 {
		t.Fatalf("processing the mix allocates %.1f times per pass, want 0", allocs)
	}
}

// BenchmarkStableRulesetMix measures engine throughput with the stable ruleset on the mix: one op
// is one event. Reports events/s (per core: the benchmark runs on one goroutine).
func BenchmarkStableRulesetMix(b *testing.B) {
	rs, evs := stableMix(b)
	nop := func(*engine.Rule, *event.Event) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rs.Process(evs[i%len(evs)], nop)
	}
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "events/s")
	}
}

// BenchmarkStableRulesetByType measures one non-matching event of each kind in the mix, so the
// cost of the busiest rule buckets (execve: 11 stable rules; openat: 5) shows on its own.
func BenchmarkStableRulesetByType(b *testing.B) {
	rs, evs := stableMix(b)
	nop := func(*engine.Rule, *event.Event) {}
	seen := map[uint16]bool{}
	for _, e := range evs {
		if seen[e.Type] {
			continue
		}
		seen[e.Type] = true
		b.Run(event.TypeName(e.Type), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				rs.Process(e, nop)
			}
		})
	}
}
