//go:build integration

package fluentd

// Integration tests against the local Forward server (deploy/local/forward-server, a Java
// implementation of the protocol that shares no code with the Go client). Each test runs its
// own server on free ports with its own records file, so ack modes and outages touch no one
// else. Without the server's jar and a Java they skip, except in CI (CI=true), where that is a
// failure: run `make stack-up` (or deploy/local/forward.sh build) and
// `eval "$(deploy/local/stack.sh env)"`.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/spool"
)

// forwardServer is one private Forward server process.
type forwardServer struct {
	t       *testing.T
	jar     string
	java    string
	out     string
	port    string
	control string
	cmd     *exec.Cmd
	done    chan struct{}
}

// javaAndJar finds the server as deploy/local/forward.sh builds it.
func javaAndJar(t testing.TB) (java, jar string) {
	t.Helper()
	java = os.Getenv("LANNER_JAVA")
	if java == "" {
		java = "/usr/lib/jvm/java-17-openjdk-amd64/bin/java"
	}
	jar = os.Getenv("LANNER_FORWARD_JAR")
	if jar == "" {
		cache := os.Getenv("LANNER_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "lanner")
		}
		jar = filepath.Join(cache, "forward", "build", "lanner-forward-server-0.1.0.jar")
	}
	for _, f := range []string{java, jar} {
		if _, err := os.Stat(f); err != nil {
			msg := fmt.Sprintf("no Forward server (%v): run `make stack-up` or deploy/local/forward.sh build", err)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	return java, jar
}

// startForward starts a private server; port "0" picks a free one. out is the records file.
func startForward(t *testing.T, port, out string) *forwardServer {
	t.Helper()
	java, jar := javaAndJar(t)
	s := &forwardServer{t: t, java: java, jar: jar, out: out, port: port}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *forwardServer) start() {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.java, "-Xmx128m", "-XX:+UseSerialGC", "-jar", s.jar, "--host", "127.0.0.1",
		"--port", s.port, "--control-port", "0", "--out", s.out)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Forward server: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("Forward server said nothing: %v", err)
	}
	// listening forward=127.0.0.1:40843 control=127.0.0.1:39957 records=...
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "forward="); ok {
			s.port = v[strings.LastIndexByte(v, ':')+1:]
		}
		if v, ok := strings.CutPrefix(f, "control="); ok {
			s.control = "http://" + v
		}
	}
	if s.control == "" || s.port == "0" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("unexpected first line from the Forward server: %q", line)
	}
	go io.Copy(io.Discard, stdout)
	s.cmd = cmd
	s.done = make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(s.done)
}

// stop kills the server (an outage, not a clean shutdown) and waits for it.
func (s *forwardServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *forwardServer) config(tag string) Config {
	var port int
	fmt.Sscan(s.port, &port)
	return Config{Host: "127.0.0.1", Port: port, Tag: tag, AckTimeout: 500 * time.Millisecond, DialTimeout: time.Second}
}

func (s *forwardServer) mode(q string) {
	s.t.Helper()
	resp, err := http.Post(s.control+"/mode?"+q, "", nil)
	if err != nil {
		s.t.Fatalf("mode %s: %v", q, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		s.t.Fatalf("mode %s: %s", q, resp.Status)
	}
}

func (s *forwardServer) status() map[string]any {
	s.t.Helper()
	resp, err := http.Get(s.control + "/status")
	if err != nil {
		s.t.Fatalf("status: %v", err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		s.t.Fatalf("status: %v", err)
	}
	return m
}

// stored is one line of the records file.
type stored struct {
	Tag      string         `json:"tag"`
	Time     string         `json:"time"`
	TimeSec  int64          `json:"time_sec"`
	TimeNsec int64          `json:"time_nsec"`
	TimeType string         `json:"time_type"`
	Mode     string         `json:"mode"`
	Record   map[string]any `json:"record"`
}

// records reads the records file, keeping the lines of tag.
func records(t *testing.T, path, tag string) []stored {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []stored
	for _, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var s stored
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("records file line %q: %v", line, err)
		}
		if s.Tag == tag {
			out = append(out, s)
		}
	}
	return out
}

// countByID counts stored records per lanner_id.
func countByID(recs []stored) map[string]int {
	n := map[string]int{}
	for _, r := range recs {
		id, _ := r.Record["lanner_id"].(string)
		n[id]++
	}
	return n
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// alerts returns n distinct records with sub-second times and Kubernetes metadata.
func alerts(run string, n int) shippers.Batch {
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b := make(shippers.Batch, n)
	for i := range b {
		a := &alert.Alert{Time: base.Add(time.Duration(i)*time.Second + time.Duration(123456789+i)),
			Rule: "Terminal shell in container", Priority: alert.Notice, Source: event.SourceSyscall,
			Tags: []string{"container", "shell"}, Hostname: "node-" + run,
			Output:       fmt.Sprintf("12:00:00: Notice shell %d of %s", i, run),
			OutputFields: map[string]any{"proc.name": "bash", "proc.pid": int64(1000 + i), "container.id": "abc123"},
			K8s: &alert.K8sMeta{Namespace: "prod", PodName: fmt.Sprintf("web-%d", i), NodeName: "node-1",
				ContainerName: "web", Labels: map[string]string{"app": "web"}},
			K8sLookup: alert.K8sFound}
		b[i] = shippers.NewRecord(a, "", "")
	}
	return b
}

// eventually polls cond every 50 ms for up to limit; the limit is a hang guard, not a speed
// assertion.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRecordsArriveWithTagTimeAndFields(t *testing.T) {
	srv := startForward(t, "0", filepath.Join(t.TempDir(), "records.jsonl"))
	run := runID()
	tag := "lanner.test." + run
	s, err := New("fluentd", srv.config(tag), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b := alerts(run, 20)
	if err := s.Send(context.Background(), b); err != nil {
		t.Fatalf("Send: %v", err)
	}
	// The server acks after writing the file: what was acked is there now.
	got := records(t, srv.out, tag)
	if len(got) != len(b) {
		t.Fatalf("%d records stored with tag %s, want %d", len(got), tag, len(b))
	}
	byID := map[string]stored{}
	for _, g := range got {
		byID[g.Record["lanner_id"].(string)] = g
	}
	for i, r := range b {
		g, ok := byID[r.ID]
		if !ok {
			t.Fatalf("record %d (%s) not stored", i, r.ID)
		}
		a := r.Alert
		k, _ := g.Record["kubernetes"].(map[string]any)
		of, _ := g.Record["output_fields"].(map[string]any)
		for _, c := range []struct {
			name      string
			got, want any
		}{
			{"mode", g.Mode, "message"},
			{"time_type", g.TimeType, "eventtime"},
			{"time_sec", g.TimeSec, a.Time.Unix()},
			{"time_nsec", g.TimeNsec, int64(a.Time.Nanosecond())},
			{"rule", g.Record["rule"], a.Rule},
			{"priority", g.Record["priority"], "Notice"},
			{"source", g.Record["source"], "syscall"},
			{"hostname", g.Record["hostname"], a.Hostname},
			{"output", g.Record["output"], a.Output},
			{"time field", g.Record["time"], string(alert.AppendTime(nil, a.Time))},
			{"proc.pid", of["proc.pid"], float64(1000 + i)},
			{"proc.name", of["proc.name"], "bash"},
			{"k8s namespace", k["namespace_name"], "prod"},
			{"k8s pod", k["pod_name"], fmt.Sprintf("web-%d", i)},
			{"k8s_lookup", g.Record["k8s_lookup"], alert.K8sFound.String()},
		} {
			if c.got != c.want {
				t.Errorf("record %d: %s = %#v, want %#v", i, c.name, c.got, c.want)
			}
		}
		if tags, _ := g.Record["tags"].([]any); len(tags) != 2 || tags[0] != "container" {
			t.Errorf("record %d: tags = %v", i, g.Record["tags"])
		}
	}
	if a := b[0].Alert; a.Time.Nanosecond() == 0 {
		t.Fatal("test data has no sub-second part")
	}
}

// newOutput builds an Output over a fresh spool in dir, with quick retries.
func newOutput(t *testing.T, name, dir string, sh shippers.Shipper) (*shippers.Output, *spool.Spool) {
	t.Helper()
	sp, err := spool.Open(dir, spool.Options{Name: name, NoSync: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, err := shippers.NewOutput(shippers.OutputConfig{Name: name, BatchSize: 50,
		Backoff:        shippers.BackoffConfig{Initial: 50 * time.Millisecond, Max: 300 * time.Millisecond},
		DeadLetterFile: filepath.Join(dir, "deadletter.jsonl")}, sp, sh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o, sp
}

// runningOutput starts a Forward server in ack mode mode and a Fluentd output (over its own
// spool) with n alerts of a new run enqueued, delivering until the test ends.
func runningOutput(t *testing.T, mode string, n int) (srv *forwardServer, tag string, o *shippers.Output, sp *spool.Spool, b shippers.Batch) {
	t.Helper()
	srv = startForward(t, "0", filepath.Join(t.TempDir(), "records.jsonl"))
	srv.mode(mode)
	run := runID()
	tag = "lanner.test." + run
	s, err := New("fluentd", srv.config(tag), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, sp = newOutput(t, "fluentd", t.TempDir(), s)
	b = alerts(run, n)
	if err := o.Enqueue(context.Background(), b...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = o.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); _ = o.Close() })
	return srv, tag, o, sp, b
}

func asFloat(v any) float64 { f, _ := v.(float64); return f }

func TestAckWithheldIsRetriedUntilAcknowledged(t *testing.T) {
	srv, tag, o, sp, b := runningOutput(t, "ack=withhold", 10)

	// At least two attempts went unacknowledged: the output retried.
	eventually(t, 30*time.Second, "two withheld acks", func() bool { return asFloat(srv.status()["acks_withheld"]) >= 2 })
	if n := len(records(t, srv.out, tag)); n != 0 {
		t.Fatalf("%d records stored while acks are withheld", n)
	}
	if sp.Len() != len(b) {
		t.Fatalf("spool holds %d records while Fluentd acknowledges nothing, want %d", sp.Len(), len(b))
	}
	if o.Healthy() == nil {
		t.Fatal("output reports healthy while no ack arrives")
	}
	srv.mode("ack=ack&delay_ms=0")
	eventually(t, 30*time.Second, "spool empty after the server acknowledges", func() bool { return sp.Len() == 0 })
	counts := countByID(records(t, srv.out, tag))
	dups := 0
	for _, r := range b {
		if counts[r.ID] < 1 {
			t.Fatalf("record %s never arrived", r.ID)
		}
		dups += counts[r.ID] - 1
	}
	// Forward is at-least-once: a withheld ack stores nothing on this server, so duplicates
	// are not expected here, but are reported rather than asserted away.
	t.Logf("withheld acks %v, records refused %v; %d alerts arrived, %d duplicates",
		srv.status()["acks_withheld"], srv.status()["records_refused"], len(b), dups)
}

// memShipper is the second output of the outage test: it keeps every id it is sent.
type memShipper struct {
	mu  sync.Mutex
	ids map[string]int
}

func (m *memShipper) Send(_ context.Context, b shippers.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b {
		m.ids[r.ID]++
	}
	return nil
}
func (m *memShipper) Close() error { return nil }
func (m *memShipper) has(b shippers.Batch) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range b {
		if m.ids[r.ID] == 0 {
			return false
		}
	}
	return true
}

func TestServerDownThenUpLosesNothingAndOtherOutputKeepsDelivering(t *testing.T) {
	srv := startForward(t, "0", filepath.Join(t.TempDir(), "records.jsonl"))
	run := runID()
	tag := "lanner.test." + run
	s, err := New("fluentd", srv.config(tag), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fo, fsp := newOutput(t, "fluentd", t.TempDir(), s)
	mem := &memShipper{ids: map[string]int{}}
	mo, _ := newOutput(t, "memory", t.TempDir(), mem)
	f, err := shippers.NewFanout(fo, mo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.Run(ctx) }()
	defer func() {
		cancel()
		wg.Wait()
		if err := f.Close(); err != nil {
			t.Errorf("fan-out Close: %v", err)
		}
	}()

	all := alerts(run, 60)
	before, during, after := all[:20], all[20:40], all[40:]
	if err := f.Enqueue(ctx, before...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "first alerts delivered to Fluentd", func() bool { return fsp.Len() == 0 })

	srv.stop() // Fluentd is down
	for _, r := range during {
		if err := f.Enqueue(ctx, r); err != nil {
			t.Fatalf("Enqueue while Fluentd is down: %v", err)
		}
	}
	// The other output delivers everything while Fluentd is down.
	eventually(t, 30*time.Second, "memory output got the alerts of the outage", func() bool { return mem.has(during) })
	eventually(t, 30*time.Second, "fluentd output reports the outage", func() bool { return o2err(fo) != nil })
	// Down "for a while": the output has failed and backed off several times.
	eventually(t, 30*time.Second, "three failed attempts", func() bool {
		return testutil.ToFloat64(s.m.records.WithLabelValues("failed")) >= 3
	})
	if fsp.Len() != len(during) {
		t.Fatalf("fluentd spool holds %d records during the outage, want %d", fsp.Len(), len(during))
	}
	t.Logf("during the outage: %v", o2err(fo))

	srv.start() // same port, same records file
	if err := f.Enqueue(ctx, after...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "fluentd spool drained after the server came back", func() bool { return fsp.Len() == 0 })
	eventually(t, 30*time.Second, "memory output got everything", func() bool { return mem.has(all) })
	counts := countByID(records(t, srv.out, tag))
	dups := 0
	for i, r := range all {
		if counts[r.ID] < 1 {
			t.Fatalf("alert %d (%s) lost: not in the records file", i, r.ID)
		}
		dups += counts[r.ID] - 1
	}
	t.Logf("%d alerts, all stored by the Forward server, %d duplicates; %v failed attempts during the outage",
		len(all), dups, testutil.ToFloat64(s.m.records.WithLabelValues("failed")))
}

func o2err(o *shippers.Output) error { return o.Healthy() }

// benchShipper returns a shipper to the local Forward server (the shared one of `make stack-up`,
// LANNER_FORWARD_ADDR) and n alerts of run, once one of them was delivered: without a server the
// benchmark is skipped, or fails in CI, where the stack must be up.
func benchShipper(b *testing.B, run string, n int) (*Shipper, shippers.Batch) {
	b.Helper()
	addr := os.Getenv("LANNER_FORWARD_ADDR")
	if addr == "" {
		addr = "127.0.0.1:24224"
	}
	host, port, _ := strings.Cut(addr, ":")
	var p int
	fmt.Sscan(port, &p)
	s, err := New("fluentd", Config{Host: host, Port: p, Tag: "lanner.bench." + runID()}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := alerts(run, n)
	if err := s.Send(context.Background(), recs[:1]); err != nil {
		s.Close()
		msg := fmt.Sprintf("no Forward server at %s: %v (make stack-up)", addr, err)
		if os.Getenv("CI") == "true" {
			b.Fatal(msg)
		}
		b.Skip(msg)
	}
	return s, recs
}

// BenchmarkFluentdLocalServer measures alerts/s through the shipper against the local Forward
// server (the shared one of `make stack-up`, LANNER_FORWARD_ADDR), each alert acknowledged.
func BenchmarkFluentdLocalServer(b *testing.B) {
	const batch = 500
	s, recs := benchShipper(b, "bench", batch)
	defer s.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := s.Send(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "alerts/s")
}

// TestStoredButUnacknowledgedIsDuplicated documents Forward's at-least-once delivery: a server
// that stores a record but never acks it (store-noack) gets it again on every retry. The
// duplicates carry the same lanner_id, so a reader can drop them; nothing is lost.
func TestStoredButUnacknowledgedIsDuplicated(t *testing.T) {
	srv, tag, _, sp, b := runningOutput(t, "ack=store-noack", 3)

	eventually(t, 30*time.Second, "the first alert stored twice", func() bool {
		return countByID(records(t, srv.out, tag))[b[0].ID] >= 2
	})
	if sp.Len() != len(b) {
		t.Fatalf("spool holds %d records although nothing was acknowledged, want %d", sp.Len(), len(b))
	}
	srv.mode("ack=ack&delay_ms=0")
	eventually(t, 30*time.Second, "spool empty after the server acknowledges", func() bool { return sp.Len() == 0 })
	counts := countByID(records(t, srv.out, tag))
	dups := 0
	for _, r := range b {
		if counts[r.ID] < 1 {
			t.Fatalf("record %s never arrived", r.ID)
		}
		dups += counts[r.ID] - 1
	}
	if dups < 1 {
		t.Fatal("no duplicates although the server stored records it did not acknowledge")
	}
	t.Logf("%d alerts, %d stored copies in all (%d duplicates, same lanner_id)", len(b), len(b)+dups, dups)
}

// TestShutdownWhileAcksWithheld: stopping the output while Fluentd holds back its acks returns
// (the wait for an ack is bounded by ack_timeout, and Close has no queue to drain), and the
// unacknowledged alerts are still in the spool for the next start.
func TestShutdownWhileAcksWithheld(t *testing.T) {
	srv := startForward(t, "0", filepath.Join(t.TempDir(), "records.jsonl"))
	srv.mode("ack=withhold")
	run := runID()
	s, err := New("fluentd", srv.config("lanner.test."+run), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o, _ := newOutput(t, "fluentd", dir, s)
	b := alerts(run, 7)
	if err := o.Enqueue(context.Background(), b...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	eventually(t, 30*time.Second, "a withheld ack", func() bool { return asFloat(srv.status()["acks_withheld"]) >= 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("Run did not return after its context ended while acks were withheld")
	}
	closed := make(chan error, 1)
	go func() { closed <- o.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("Close hung while Fluentd withholds acks")
	}
	sp, err := spool.Open(dir, spool.Options{Name: "reopened"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if sp.Len() != len(b) {
		t.Fatalf("after shutdown the spool holds %d alerts, want the %d never acknowledged", sp.Len(), len(b))
	}
}

// BenchmarkFluentdOutputLocalServer measures alerts/s end to end: spooled (fsync per append
// batch), read back, posted and acknowledged one by one, and removed from the spool.
func BenchmarkFluentdOutputLocalServer(b *testing.B) {
	const n = 2000
	s, recs := benchShipper(b, "bench-output", n)
	dir := b.TempDir()
	sp, err := spool.Open(dir, spool.Options{Name: "fluentd"}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	o, err := shippers.NewOutput(shippers.OutputConfig{Name: "fluentd", BatchSize: 500,
		DeadLetterFile: filepath.Join(dir, "deadletter.jsonl")}, sp, s, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = o.Run(ctx) }()
	defer func() { cancel(); <-done }()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := o.Enqueue(ctx, recs...); err != nil {
			b.Fatal(err)
		}
		for sp.Len() > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "alerts/s")
}
