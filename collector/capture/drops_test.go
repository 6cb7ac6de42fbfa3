package capture

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestDropMonitor(t *testing.T) {
	var buf bytes.Buffer
	m := NewDropMonitor(0.1, 1.0/30, slog.New(slog.NewTextHandler(&buf, nil)))
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		stats      Stats
		drops      uint64
		logged     bool
		ratioAbove float64
	}{
		{0, Stats{Events: 100}, 0, false, 0},                                                   // first call: baseline
		{time.Second, Stats{Events: 1100}, 0, false, 0},                                        // no drops
		{2 * time.Second, Stats{Events: 1150, DropsBuffer: 5}, 5, false, 0.08},                 // 5/55 = 0.09: under the threshold
		{3 * time.Second, Stats{Events: 1160, DropsBuffer: 55}, 50, true, 0.8},                 // 50/60: logged
		{4 * time.Second, Stats{Events: 1170, DropsBuffer: 105}, 50, false, 0.8},               // rate limited
		{40 * time.Second, Stats{Events: 1180, DropsBuffer: 150, DropsSize: 5}, 50, true, 0.8}, // 30 s later
		{41 * time.Second, Stats{Events: 10}, 0, false, 0},                                     // counters reset
	}
	for i, st := range steps {
		r := m.Observe(t0.Add(st.at), st.stats)
		if r.Drops != st.drops || r.Logged != st.logged || (st.ratioAbove > 0 && r.Ratio < st.ratioAbove) {
			t.Errorf("step %d: %+v, want drops %d logged %v ratio >= %v", i, r, st.drops, st.logged, st.ratioAbove)
		}
	}
	if n := strings.Count(buf.String(), "syscall event drop"); n != 2 {
		t.Errorf("%d log lines, want 2:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "n_drops_max_event_size=5") {
		t.Errorf("size drops not reported:\n%s", buf.String())
	}
}
