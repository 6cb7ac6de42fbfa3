package shippers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers/spool"
)

func testAlert(i int, rule string, p alert.Priority, tags ...string) *alert.Alert {
	return &alert.Alert{Time: time.Unix(1795168801, int64(i)).UTC(), Rule: rule, Priority: p, Source: event.SourceSyscall,
		Tags: tags, Output: fmt.Sprintf("t: %s out %d", p, i), Message: fmt.Sprintf("out %d", i), Hostname: "h",
		OutputFields: map[string]any{"proc.pid": int64(i), "proc.name": "sh", "evt.num": uint64(1 << 63), "x": 1.5, "l": []any{"a", int64(2)}}}
}

func TestRecordRoundTrip(t *testing.T) {
	a := testAlert(7, "R", alert.Warning, "a", "b")
	a.K8s = &alert.K8sMeta{Namespace: "ns", PodName: "p", PodUID: "u", NodeName: "n", ContainerName: "c",
		OwnerKind: "Deployment", OwnerName: "d", Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"a": "b"},
		PodIP: "10.0.0.1", ContainerID: "cid", Image: "img:1", ImageID: "img@sha256:1", ReplicaSet: "rs", Deployment: "d",
		StatefulSet: "ss", DaemonSet: "ds", Job: "j", CronJob: "cj", NamespaceLabels: map[string]string{"team": "t"}}
	a.K8sLookup = alert.K8sFoundDeleted
	a.Action = "openat"
	a.Audit = &alert.AuditTarget{User: "alice", Resource: "pods", Subresource: "exec", Namespace: "shop", Name: "web-1",
		APIGroup: "", APIVersion: "v1", SourceIP: "10.0.0.9"}
	r := NewRecord(a, "desc", "rules.yaml")
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != r.ID || got.RuleDescription != "desc" || got.Ruleset != "rules.yaml" {
		t.Fatalf("record metadata lost: %+v", got)
	}
	if AlertID(got.Alert) != r.ID {
		t.Fatal("the id recomputed from the decoded alert differs: the spooled form changed the alert")
	}
	if got.Alert.OutputFields["proc.pid"] != int64(7) || got.Alert.OutputFields["evt.num"] != uint64(1<<63) ||
		got.Alert.OutputFields["x"] != 1.5 || got.Alert.Message != "out 7" || got.Alert.K8s.Labels["app"] != "x" {
		t.Fatalf("alert changed in the round trip: %+v", got.Alert)
	}
	if string(got.Alert.AppendJSON(nil)) != string(a.AppendJSON(nil)) {
		t.Fatal("Falco JSON differs after the round trip")
	}
	// Every Kubernetes field and the lookup outcome survive the spool (they are not in the
	// Falco JSON form).
	if got.Alert.Audit == nil || *got.Alert.Audit != *a.Audit {
		t.Fatalf("audit target after the round trip %+v, want %+v", got.Alert.Audit, a.Audit)
	}
	if got.Alert.Action != "openat" {
		t.Fatalf("action %q after the round trip, want openat", got.Alert.Action)
	}
	if !reflect.DeepEqual(got.Alert.K8s, a.K8s) || got.Alert.K8sLookup != alert.K8sFoundDeleted {
		t.Fatalf("k8s metadata changed in the round trip:\n got  %+v %v\n want %+v %v", got.Alert.K8s, got.Alert.K8sLookup, a.K8s, a.K8sLookup)
	}
	for _, l := range []alert.K8sLookup{alert.K8sNotLooked, alert.K8sFound, alert.K8sUnknownContainer, alert.K8sCacheNotSynced} {
		a.K8s, a.K8sLookup = nil, l
		b, _ := NewRecord(a, "", "").MarshalBinary()
		got, err := UnmarshalRecord(b)
		if err != nil || got.Alert.K8sLookup != l || got.Alert.K8s != nil {
			t.Fatalf("lookup %v: got %+v, %v", l, got, err)
		}
	}
	if got, err := UnmarshalRecord([]byte(`{"v":1,"id":"x","alert":{"rule":"r","time":"2026-11-26T10:00:00Z","priority":"Warning","source":"syscall","output":"o"},"k8s_lookup":"from_the_future"}`)); err != nil || got.Alert.K8sLookup != alert.K8sNotLooked {
		t.Fatalf("unknown lookup outcome: %+v, %v; want read as no lookup", got, err)
	}
	for _, bad := range []string{`{`, `{"v":2,"id":"x","alert":{}}`, `{"v":1,"alert":{}}`, `{"v":1,"id":"x","alert":{"rule":"r","time":"x"}}`} {
		if _, err := UnmarshalRecord([]byte(bad)); err == nil {
			t.Errorf("UnmarshalRecord(%s) = nil error", bad)
		}
	}
}

func TestAlertIDDeterministic(t *testing.T) {
	a, b := testAlert(1, "R", alert.Notice), testAlert(1, "R", alert.Notice)
	if AlertID(a) != AlertID(b) || len(AlertID(a)) != 27 {
		t.Fatalf("ids %s %s", AlertID(a), AlertID(b))
	}
	for _, c := range []*alert.Alert{testAlert(2, "R", alert.Notice), testAlert(1, "S", alert.Notice)} {
		if AlertID(c) == AlertID(a) {
			t.Fatal("different alerts share an id")
		}
	}
}

func TestFilter(t *testing.T) {
	a := testAlert(1, "Shell", alert.Warning, "container", "mitre_execution")
	for _, tc := range []struct {
		name string
		cfg  FilterConfig
		want bool
	}{
		{"empty", FilterConfig{}, true},
		{"priority met", FilterConfig{MinimumPriority: "warning"}, true},
		{"priority not met", FilterConfig{MinimumPriority: "error"}, false},
		{"rule listed", FilterConfig{Rules: []string{"Shell"}}, true},
		{"rule not listed", FilterConfig{Rules: []string{"Other"}}, false},
		{"rule excluded", FilterConfig{ExcludeRules: []string{"Shell"}}, false},
		{"tag any", FilterConfig{Tags: []string{"x", "container"}}, true},
		{"tag none", FilterConfig{Tags: []string{"k8s"}}, false},
		{"tag excluded", FilterConfig{ExcludeTags: []string{"mitre_execution"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFilter(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(a); got != tc.want {
				t.Fatalf("Match = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := NewFilter(FilterConfig{MinimumPriority: "loud"}); err == nil {
		t.Fatal("bad priority accepted")
	}
	if _, err := NewFilter(FilterConfig{Rules: []string{"a"}, ExcludeRules: []string{"a"}}); err == nil {
		t.Fatal("contradictory filter accepted")
	}
}

func TestBackoffWait(t *testing.T) {
	b := BackoffConfig{}.withDefaults()
	mid := func() float64 { return 0.5 } // no jitter at the midpoint
	for _, tc := range []struct {
		attempt int
		ra      time.Duration
		want    time.Duration
	}{
		{1, 0, 500 * time.Millisecond}, {2, 0, time.Second}, {3, 0, 2 * time.Second},
		{20, 0, 60 * time.Second}, {1, 10 * time.Second, 10 * time.Second}, {1, time.Hour, 5 * time.Minute},
	} {
		if got := b.wait(tc.attempt, tc.ra, mid); got != tc.want {
			t.Errorf("wait(%d, %s) = %s, want %s", tc.attempt, tc.ra, got, tc.want)
		}
	}
	if lo, hi := b.wait(1, 0, func() float64 { return 0 }), b.wait(1, 0, func() float64 { return 0.999 }); lo != 400*time.Millisecond || hi <= 590*time.Millisecond {
		t.Errorf("jitter bounds %s..%s, want 400ms..600ms", lo, hi)
	}
	if err := (BackoffConfig{Jitter: 1}).Validate(); err == nil {
		t.Error("jitter 1 accepted")
	}
}

// scripted is a recording Shipper double: it answers each Send with the next scripted
// function and records what it was sent. Used only to test the worker's own logic.
type scripted struct {
	mu     sync.Mutex
	calls  [][]string
	script []func(b Batch) error
	closed bool
}

func (s *scripted) Send(ctx context.Context, b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, r := range b {
		ids = append(ids, r.Alert.Message)
	}
	s.calls = append(s.calls, ids)
	if len(s.script) == 0 {
		return nil
	}
	f := s.script[0]
	s.script = s.script[1:]
	return f(b)
}

func (s *scripted) Close() error { s.closed = true; return nil }

func newTestOutput(t *testing.T, sh Shipper, reg prometheus.Registerer) (*Output, *[]time.Duration, string) {
	t.Helper()
	dir := t.TempDir()
	q, err := spool.Open(dir, spool.Options{Name: "t"}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutput(OutputConfig{Name: "t", BatchSize: 10, DeadLetterFile: filepath.Join(dir, "dead.jsonl")}, q, sh, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	o.rnd = func() float64 { return 0.5 }
	o.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	return o, &waits, filepath.Join(dir, "dead.jsonl")
}

// runUntilEmpty runs the worker until the spool is drained.
func runUntilEmpty(t *testing.T, o *Output) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	for o.q.(*spool.Spool).Len() > 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestOutputPartialRetryAndDeadLetter(t *testing.T) {
	sh := &scripted{script: []func(Batch) error{
		// 0 stored, 1 duplicate, 2 rejected, 3 per-item 429, 4 not mentioned.
		func(b Batch) error {
			return &PartialError{Accepted: []int{0}, Duplicates: []int{1}, Rejected: []int{2},
				RejectErrs: []error{errors.New("status 400: document_parsing_exception: bad pid")}, Retry: []int{3}, RetryAfter: 3 * time.Second}
		},
		func(b Batch) error { return &RecoverableError{Err: errors.New("connection refused")} },
		func(b Batch) error { return nil },
	}}
	reg := prometheus.NewRegistry()
	o, waits, dead := newTestOutput(t, sh, reg)
	var recs []*Record
	for i := range 5 {
		recs = append(recs, NewRecord(testAlert(i, "R", alert.Error), "", ""))
	}
	if err := o.Enqueue(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	runUntilEmpty(t, o)
	if err := o.Healthy(); err != nil {
		t.Fatalf("Healthy after a successful attempt: %v", err)
	}
	if len(sh.calls) != 3 || fmt.Sprint(sh.calls[1]) != "[out 3 out 4]" || fmt.Sprint(sh.calls[2]) != "[out 3 out 4]" {
		t.Fatalf("sends %v: want the whole batch, then records 3 and 4 twice", sh.calls)
	}
	if fmt.Sprint(*waits) != "[3s 1s]" {
		t.Fatalf("waits %v: want Retry-After 3s, then the second backoff step 1s", *waits)
	}
	data, err := os.ReadFile(dead)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), "\n"); n != 1 || !strings.Contains(string(data), "document_parsing_exception") || !strings.Contains(string(data), recs[2].ID) {
		t.Fatalf("dead-letter file: %s", data)
	}
	for name, want := range map[string]float64{"sent": 3, "dup": 1, "dead": 1, "retried": 4, "failed": 4} {
		var got float64
		switch name {
		case "sent":
			got = testutil.ToFloat64(o.m.sent)
		case "dup":
			got = testutil.ToFloat64(o.m.duplicates)
		case "dead":
			got = testutil.ToFloat64(o.m.deadLettered.WithLabelValues(reasonRejected))
		case "retried":
			got = testutil.ToFloat64(o.m.retried)
		case "failed":
			got = testutil.ToFloat64(o.m.failed)
		}
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if err := o.Close(); err != nil || !sh.closed {
		t.Fatalf("Close: %v, shipper closed %v", err, sh.closed)
	}
}

func TestOutputStopsOnCancelWithoutAck(t *testing.T) {
	sh := &scripted{}
	for range 100 {
		sh.script = append(sh.script, func(Batch) error { return errors.New("401 unauthorized") })
	}
	o, _, _ := newTestOutput(t, sh, nil)
	ctx, cancel := context.WithCancel(context.Background())
	o.sleep = func(context.Context, time.Duration) error { cancel(); return context.Canceled }
	o.Enqueue(context.Background(), NewRecord(testAlert(1, "R", alert.Error), "", ""))
	if err := o.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if n := o.q.(*spool.Spool).Len(); n != 1 {
		t.Fatalf("spool holds %d after a cancelled retry, want the 1 undelivered record", n)
	}
	if err := o.Healthy(); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Healthy after a failed attempt = %v, want the failure", err)
	}
}

func TestFanoutFiltersPerOutput(t *testing.T) {
	mk := func(name string, f FilterConfig) (*Output, *spool.Spool) {
		dir := t.TempDir()
		q, err := spool.Open(dir, spool.Options{Name: name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := NewOutput(OutputConfig{Name: name, Filter: f, DeadLetterFile: dir + "/d"}, q, &scripted{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return o, q
	}
	all, qa := mk("all", FilterConfig{})
	crit, qc := mk("crit", FilterConfig{MinimumPriority: "critical"})
	fo, err := NewFanout(all, crit)
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	if _, err := NewFanout(all, all); err == nil {
		t.Fatal("duplicate output names accepted")
	}
	fo.Enqueue(context.Background(), NewRecord(testAlert(1, "R", alert.Warning), "", ""),
		NewRecord(testAlert(2, "R", alert.Critical), "", ""))
	if qa.Len() != 2 || qc.Len() != 1 {
		t.Fatalf("spools hold %d and %d, want 2 and 1", qa.Len(), qc.Len())
	}
}

func TestSecret(t *testing.T) {
	s := Secret("hunter2")
	if fmt.Sprint(s) != "<secret>" || fmt.Sprintf("%v", s) != "<secret>" || s.Reveal() != "hunter2" || Secret("").String() != "" {
		t.Fatal("Secret leaks or loses its value")
	}
}

// FuzzRecord checks that any alert text survives the spooled form: written by hand, read by the
// hand-written parser, with the same id and the same Falco JSON.
func FuzzRecord(f *testing.F) {
	f.Add("Shell", "out \"q\" \n\x01 \xff é", "desc", "cmd --x=1")
	f.Fuzz(func(t *testing.T, rule, output, desc, field string) {
		if rule == "" {
			return
		}
		a := testAlert(1, rule, alert.Warning, "t1", field)
		a.Output, a.Message = output, output
		a.OutputFields["proc.cmdline"] = field
		r := NewRecord(a, desc, field)
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := UnmarshalRecord(b)
		if err != nil {
			t.Fatalf("UnmarshalRecord(%s): %v", b, err)
		}
		if got.ID != r.ID || got.RuleDescription != string([]rune(desc)) {
			t.Fatalf("metadata changed: %+v", got)
		}
		if string(got.Alert.AppendJSON(nil)) != string(a.AppendJSON(nil)) {
			t.Fatalf("Falco JSON changed:\n%s\n%s", got.Alert.AppendJSON(nil), a.AppendJSON(nil))
		}
	})
}
