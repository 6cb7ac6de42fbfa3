package shippers

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers/spool"
)

// gate is a Shipper double that records what it was sent and, while closed, blocks every Send
// until it is opened. A double is used on purpose: these tests are about the fan-out's logic
// (one stalled output must not hold another), not about a destination; the real spools are
// used. The real destinations' outages are tested in the elasticsearch and fluentd packages.
type gate struct {
	mu     sync.Mutex
	open   chan struct{}
	sends  int
	got    []string // alert messages, in the order delivered
	opened bool
}

func newGate(open bool) *gate {
	g := &gate{open: make(chan struct{})}
	if open {
		g.release()
	}
	return g
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.opened {
		g.opened = true
		close(g.open)
	}
}

func (g *gate) Send(ctx context.Context, b Batch) error {
	g.mu.Lock()
	g.sends++
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range b {
		g.got = append(g.got, r.Alert.Message)
	}
	return nil
}

func (g *gate) Close() error { return nil }

func (g *gate) delivered() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.got)
}

// waitFor polls cond until it holds; the limit only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smallOutput is an output on a real spool bounded to a few records, block policy.
func smallOutput(t *testing.T, dir, name string, sh Shipper, reg prometheus.Registerer) (*Output, *spool.Spool) {
	return boundedOutput(t, dir, name, 4096, sh, reg)
}

// bigOutput has room for every alert of these tests.
func bigOutput(t *testing.T, dir, name string, sh Shipper, reg prometheus.Registerer) (*Output, *spool.Spool) {
	return boundedOutput(t, dir, name, 64<<20, sh, reg)
}

func boundedOutput(t *testing.T, dir, name string, maxBytes int64, sh Shipper, reg prometheus.Registerer) (*Output, *spool.Spool) {
	t.Helper()
	q, err := spool.Open(filepath.Join(dir, name), spool.Options{Name: name, MaxBytes: maxBytes, Overflow: spool.Block, NoSync: true}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutput(OutputConfig{Name: name, BatchSize: 4, DeadLetterFile: filepath.Join(dir, name+".dead")}, q, sh, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return o, q
}

func fanoutRecords(n int) ([]*Record, []string) {
	var recs []*Record
	var msgs []string
	for i := range n {
		a := testAlert(i, "R", alert.Warning)
		recs = append(recs, NewRecord(a, "", ""))
		msgs = append(msgs, a.Message)
	}
	return recs, msgs
}

// TestFanoutStalledOutputDoesNotHoldOthers: output A's destination is stalled and its spool
// (block policy) fills; the producer is never held, output B delivers everything meanwhile,
// and when A's destination comes back A delivers every alert once, in order.
func TestFanoutStalledOutputDoesNotHoldOthers(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	stalled, healthy := newGate(false), newGate(true)
	a, qa := smallOutput(t, dir, "a", stalled, reg)
	b, _ := bigOutput(t, dir, "b", healthy, reg)
	fo, err := NewFanoutWith(FanoutOptions{Registerer: reg}, a, b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fo.Run(ctx) }()

	const n = 200 // about 20 times what A's spool holds
	recs, msgs := fanoutRecords(n)
	for i, r := range recs {
		// A limit far beyond what an append takes: it only turns a held producer into a failure.
		ectx, ecancel := context.WithTimeout(context.Background(), time.Minute)
		err := fo.Enqueue(ectx, r)
		ecancel()
		if err != nil {
			t.Fatalf("Enqueue %d: %v (the producer was held by the stalled output)", i, err)
		}
	}
	waitFor(t, "output b to deliver every alert", func() bool { return len(healthy.delivered()) == n })
	if got := healthy.delivered(); !slices.Equal(got, msgs) {
		t.Fatalf("output b delivered %d alerts out of order or changed", len(got))
	}
	if got := stalled.delivered(); len(got) != 0 {
		t.Fatalf("the stalled output delivered %d alerts", len(got))
	}
	parked := testutil.ToFloat64(fo.lanes[0].parked)
	if parked == 0 || testutil.ToFloat64(fo.lanes[0].pending) == 0 || qa.Len() == 0 || parked+float64(qa.Len()) < n {
		t.Fatalf("a: spool %d, parked %v, pending %v: want the spool full and the rest parked", qa.Len(), parked, testutil.ToFloat64(fo.lanes[0].pending))
	}
	if w := testutil.ToFloat64(fo.lanes[0].waits) + testutil.ToFloat64(fo.lanes[1].waits); w != 0 {
		t.Fatalf("the producer waited %v times", w)
	}
	if p := testutil.ToFloat64(fo.lanes[1].parked); p != 0 {
		t.Fatalf("output b parked %v alerts: its spool never filled", p)
	}

	stalled.release()
	waitFor(t, "output a to deliver every alert after it resumed", func() bool { return len(stalled.delivered()) >= n && qa.Len() == 0 })
	if got := stalled.delivered(); !slices.Equal(got, msgs) {
		t.Fatalf("output a delivered %d alerts (want %d, once each, in order)", len(got), n)
	}
	if p := testutil.ToFloat64(fo.lanes[0].pending); p != 0 {
		t.Fatalf("backlog still holds %v", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := fo.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFanoutBacklogFullWaitsForThatOutputOnly: with A's spool and backlog both full the
// producer waits (nothing is dropped under the block policy), but only after B has the alert;
// the wait is counted and ends with an error naming A when ctx ends.
func TestFanoutBacklogFullWaitsForThatOutputOnly(t *testing.T) {
	dir := t.TempDir()
	stalled, healthy := newGate(false), newGate(true)
	a, _ := smallOutput(t, dir, "a", stalled, nil)
	b, _ := bigOutput(t, dir, "b", healthy, nil)
	fo, err := NewFanoutWith(FanoutOptions{BacklogBytes: 1}, a, b) // one record at most
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fo.Run(ctx) }()
	recs, msgs := fanoutRecords(40)
	var last int
	for i, r := range recs {
		ectx, ecancel := context.WithCancel(context.Background())
		go func() {
			// Give up on this alert for A once the producer is seen waiting.
			for testutil.ToFloat64(fo.lanes[0].waits) == 0 {
				if ectx.Err() != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
			ecancel()
		}()
		err := fo.Enqueue(ectx, r)
		ecancel()
		if err != nil {
			last = i
			if testutil.ToFloat64(fo.lanes[0].waits) != 1 {
				t.Fatalf("waits = %v, want 1", testutil.ToFloat64(fo.lanes[0].waits))
			}
			if want := "output a: spool and backlog full, 1 alerts not taken"; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %q, want it to start %q", err, want)
			}
			break
		}
	}
	if last == 0 {
		t.Fatal("the producer never waited although A's spool and backlog were full")
	}
	waitFor(t, "output b to deliver the alert A did not take", func() bool { return len(healthy.delivered()) == last+1 })
	if got := healthy.delivered(); !slices.Equal(got, msgs[:last+1]) {
		t.Fatalf("output b delivered %v", got)
	}
	stalled.release()
	waitFor(t, "output a to deliver what it took", func() bool { return len(stalled.delivered()) == last })
	if got := stalled.delivered(); !slices.Equal(got, msgs[:last]) {
		t.Fatalf("output a delivered %v, want the %d alerts it took", got, last)
	}
	cancel()
	<-done
	if err := fo.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFanoutCloseSpoolsParkedAlerts: alerts parked in memory when lanner stops are written to
// the spool beyond its bound, so the next start delivers them: nothing accepted is lost.
func TestFanoutCloseSpoolsParkedAlerts(t *testing.T) {
	dir := t.TempDir()
	stalled := newGate(false)
	a, qa := smallOutput(t, dir, "a", stalled, nil)
	fo, err := NewFanout(a)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fo.Run(ctx) }()
	const n = 60
	recs, msgs := fanoutRecords(n)
	if err := fo.Enqueue(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stalled send", func() bool { stalled.mu.Lock(); defer stalled.mu.Unlock(); return stalled.sends > 0 })
	if qa.Len() >= n || testutil.ToFloat64(fo.lanes[0].pending) == 0 {
		t.Fatalf("spool %d, parked %v: want a full spool and parked alerts", qa.Len(), testutil.ToFloat64(fo.lanes[0].pending))
	}
	cancel()
	<-done
	if err := fo.Close(); err != nil {
		t.Fatal(err)
	}

	// The next start: a new spool on the same directory holds every alert; a worker delivers
	// them all, in order.
	resumed := newGate(true)
	q, err := spool.Open(filepath.Join(dir, "a"), spool.Options{Name: "a", MaxBytes: 4096, Overflow: spool.Block, NoSync: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != n {
		t.Fatalf("after Close the spool holds %d alerts, want %d", q.Len(), n)
	}
	o, err := NewOutput(OutputConfig{Name: "a", BatchSize: 8, DeadLetterFile: filepath.Join(dir, "a.dead")}, q, resumed, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	go func() { done <- o.Run(ctx) }()
	waitFor(t, "delivery after restart", func() bool { return q.Len() == 0 })
	cancel()
	<-done
	o.Close()
	if got := resumed.delivered(); !slices.Equal(got, msgs) {
		t.Fatalf("after restart %d alerts delivered, want all %d in order", len(got), n)
	}
}
