//go:build integration

package elasticsearch

// Integration tests against a real Elasticsearch node (deploy/local, `make stack-up`). They skip
// with the reason when no node answers, except in CI (CI=true), where that is a failure.
//
// Per-item 429 and 5xx answers inside a 200 _bulk response cannot be made on demand by a real
// node; they are tested with a fake server in elasticsearch_test.go (TestClassifyBulkItems).
// Mapping errors are real here (TestIntegrationMappingErrorDeadLettered).

import (
	"bufio"
	"bytes"
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
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/shippertest"
	"github.com/lannersec/lanner/shippers/spool"
)

func esURL() string {
	if u := os.Getenv("LANNER_ES_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:9200"
}

// needNode skips (or, in CI, fails) when no node answers at url.
func needNode(t testing.TB, url string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url + "/_cluster/health")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			return
		}
		err = fmt.Errorf("status %s", res.Status)
	}
	msg := fmt.Sprintf("no Elasticsearch at %s (%v): run `make stack-up`", url, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func randName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// esDo sends a request to the node and decodes the JSON answer into out (when not nil).
func esDo(t testing.TB, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, data)
		}
	}
	return res.StatusCode
}

func count(t testing.TB, url, target string) int {
	t.Helper()
	esDo(t, "POST", url+"/"+target+"/_refresh", "", nil)
	var c struct{ Count int }
	if st := esDo(t, "GET", url+"/"+target+"/_count", "", &c); st != 200 {
		t.Fatalf("count %s: status %d", target, st)
	}
	return c.Count
}

// pipeline is one output as `lanner run` wires it: spool + worker + Elasticsearch shipper.
type pipeline struct {
	out    *shippers.Output
	q      *spool.Spool
	ship   *Shipper
	dead   string
	cancel context.CancelFunc
	done   chan error
}

func newPipeline(t testing.TB, dir string, cfg Config, reg prometheus.Registerer) *pipeline {
	t.Helper()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	q, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{Name: "es"}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, nil, prometheus.WrapRegistererWith(prometheus.Labels{"output": "es"}, reg))
	if err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "deadletter.jsonl")
	oc := cfg.OutputConfig("es")
	oc.Backoff = shippers.BackoffConfig{Initial: 100 * time.Millisecond, Max: time.Second}
	oc.DeadLetterFile = dead
	o, err := shippers.NewOutput(oc, q, s, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return &pipeline{out: o, q: q, ship: s, dead: dead}
}

func (p *pipeline) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- p.out.Run(ctx) }()
}

// drain waits until the spool is empty (everything delivered or dead-lettered), then stops.
func (p *pipeline) drain(t testing.TB, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for p.q.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("spool still holds %d alerts after %s", p.q.Len(), limit)
		}
		time.Sleep(2 * time.Millisecond) // short: the benchmark's clock includes this wait
	}
	p.cancel()
	if err := <-p.done; err != nil {
		t.Fatal(err)
	}
}

// goldenRecords reads the replay corpora's golden Falco alerts (what `lanner replay` prints).
func goldenRecords(t testing.TB) []*shippers.Record {
	t.Helper()
	var out []*shippers.Record
	for _, f := range []string{"../../collector/replay/testdata/syscall/alerts.golden.jsonl", "../../collector/audit/testdata/k8s_audit_alerts.golden.jsonl"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			a, err := shippers.ParseFalcoJSON(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, shippers.NewRecord(a, "", filepath.Base(f)))
		}
	}
	return out
}

func TestIntegrationReplayedAlertsAsECS(t *testing.T) {
	url := esURL()
	needNode(t, url)
	ds := randName("logs-lanner.alerts-it")
	cfg := Config{Addresses: []string{url}, DataStream: ds}
	recs := goldenRecords(t)
	// One enriched alert, so the node indexes every kubernetes.*/orchestrator.*/container.* field.
	enriched := testRecord(77)
	enriched.Alert.K8s, enriched.Alert.K8sLookup = &alert.K8sMeta{Namespace: "shop", PodName: "web-7d9c-x2x",
		PodUID: "uid-1", NodeName: "node-a", ContainerName: "nginx", OwnerKind: "Deployment", OwnerName: "web",
		Labels: map[string]string{"app.kubernetes.io/name": "web"}, PodIP: "10.244.1.7",
		ContainerID: "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
		Image:       "nginx:1.25.3", ImageID: "docker.io/library/nginx@sha256:1111", ReplicaSet: "web-7d9c", Deployment: "web",
		NamespaceLabels: map[string]string{"team": "payments"}}, alert.K8sFoundDeleted
	unknown := testRecord(78)
	unknown.Alert.K8sLookup = alert.K8sUnknownContainer
	recs = append(recs, enriched, unknown)
	reg := prometheus.NewRegistry()
	p := newPipeline(t, t.TempDir(), cfg, reg)
	defer p.out.Close()
	if err := p.out.Enqueue(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.drain(t, 2*time.Minute)
	if n := count(t, url, ds); n != len(recs) {
		t.Fatalf("%d documents in %s, want %d", n, ds, len(recs))
	}

	// The data stream exists (this distribution has no _data_stream API: ask _resolve/index).
	var resolved struct {
		DataStreams []struct {
			Name           string   `json:"name"`
			BackingIndices []string `json:"backing_indices"`
		} `json:"data_streams"`
	}
	esDo(t, "GET", url+"/_resolve/index/"+ds, "", &resolved)
	if len(resolved.DataStreams) != 1 || resolved.DataStreams[0].Name != ds {
		t.Fatalf("_resolve/index/%s: %+v, want the data stream", ds, resolved)
	}

	// _mapping shows the intended ECS types.
	var mapping map[string]struct {
		Mappings struct{ Properties map[string]any } `json:"mappings"`
	}
	esDo(t, "GET", url+"/"+ds+"/_mapping", "", &mapping)
	if len(mapping) != 1 {
		t.Fatalf("mapping of %d indices", len(mapping))
	}
	for _, m := range mapping {
		props := map[string]any{"properties": m.Mappings.Properties}
		for path, want := range map[string]string{"@timestamp": "date", "event.severity": "long", "process.pid": "long",
			"source.ip": "ip", "destination.ip": "ip", "rule.name": "keyword", "event.kind": "keyword",
			"orchestrator.namespace": "keyword", "falco.output_fields": "flattened", "message": "text",
			"orchestrator.resource.ip": "ip", "kubernetes.pod.ip": "ip", "kubernetes.pod.uid": "keyword",
			"kubernetes.namespace": "keyword", "kubernetes.node.name": "keyword", "kubernetes.container.name": "keyword",
			"kubernetes.replicaset.name": "keyword", "kubernetes.deployment.name": "keyword",
			"kubernetes.statefulset.name": "keyword", "kubernetes.daemonset.name": "keyword",
			"kubernetes.job.name": "keyword", "kubernetes.cronjob.name": "keyword",
			"kubernetes.labels": "flattened", "kubernetes.namespace_labels": "flattened",
			"orchestrator.resource.parent.type": "keyword", "container.id": "keyword",
			"container.image.name": "keyword", "container.image.hash.all": "keyword", "lanner.k8s.lookup": "keyword"} {
			cur := props
			for _, part := range strings.Split(path, ".") {
				next, _ := cur["properties"].(map[string]any)[part].(map[string]any)
				cur = next
			}
			if cur == nil || cur["type"] != want {
				t.Errorf("_mapping: %s is %v, want %s", path, cur, want)
			}
		}
	}

	// One document read back: ECS fields from a syscall alert.
	var hits struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	esDo(t, "POST", url+"/"+ds+"/_search", `{"size":1,"query":{"bool":{"filter":[{"term":{"event.provider":"syscall"}},{"exists":{"field":"process.name"}}]}}}`, &hits)
	if len(hits.Hits.Hits) != 1 {
		t.Fatal("no syscall alert with process.name")
	}
	h := hits.Hits.Hits[0]
	if h.Source["event"].(map[string]any)["kind"] != "alert" || h.Source["event"].(map[string]any)["id"] != h.ID {
		t.Fatalf("document %s: event %v", h.ID, h.Source["event"])
	}
	for _, r := range recs {
		if r.ID == h.ID && h.Source["rule"].(map[string]any)["name"] != r.Alert.Rule {
			t.Fatalf("document %s has rule %v, want %s", h.ID, h.Source["rule"], r.Alert.Rule)
		}
	}

	// The enriched alert is searchable by its Kubernetes fields with their types (a term on an
	// ip field, a flattened label), and the miss by its lookup outcome.
	for _, q := range []struct {
		query string
		id    string
	}{
		{`{"term":{"kubernetes.pod.ip":"10.244.1.7"}}`, enriched.ID},
		{`{"term":{"orchestrator.resource.ip":"10.244.0.0/16"}}`, enriched.ID},
		{`{"term":{"kubernetes.namespace_labels.team":"payments"}}`, enriched.ID},
		{`{"term":{"kubernetes.deployment.name":"web"}}`, enriched.ID},
		{`{"term":{"lanner.k8s.lookup":"found_deleted_pod"}}`, enriched.ID},
		{`{"term":{"container.image.hash.all":"sha256:1111"}}`, enriched.ID},
		{`{"term":{"lanner.k8s.lookup":"unknown_container"}}`, unknown.ID},
	} {
		var res struct {
			Hits struct {
				Hits []struct {
					ID string `json:"_id"`
				} `json:"hits"`
			} `json:"hits"`
		}
		esDo(t, "POST", url+"/"+ds+"/_search", `{"query":`+q.query+`}`, &res)
		if len(res.Hits.Hits) != 1 || res.Hits.Hits[0].ID != q.id {
			t.Errorf("query %s: hits %+v, want only %s", q.query, res.Hits.Hits, q.id)
		}
	}

	// Replaying the same alerts again creates no duplicates: every create meets 409.
	reg2 := prometheus.NewRegistry()
	p2 := newPipeline(t, t.TempDir(), cfg, reg2)
	defer p2.out.Close()
	again := goldenRecords(t)
	if err := p2.out.Enqueue(context.Background(), again...); err != nil {
		t.Fatal(err)
	}
	p2.start()
	p2.drain(t, 2*time.Minute)
	if n := count(t, url, ds); n != len(recs) {
		t.Fatalf("after replaying twice: %d documents, want %d", n, len(recs))
	}
	if d := metricValue(t, reg2, "lanner_shipper_alerts_duplicate_total"); d != float64(len(again)) {
		t.Fatalf("second replay counted %v duplicates, want %d", d, len(again))
	}
	t.Logf("%d replayed alerts indexed into %s; second replay: all %d were 409 duplicates", len(recs), ds, len(again))
}

func TestIntegrationMappingErrorDeadLettered(t *testing.T) {
	url := esURL()
	needNode(t, url)
	ds := randName("logs-lanner.alerts-it")
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	p := newPipeline(t, dir, Config{Addresses: []string{url}, DataStream: ds}, reg)
	defer p.out.Close()
	good := goldenRecords(t)[:3]
	// process.pid is a long in the template; a custom output format that prints a name there
	// is refused by the real node with a document_parsing_exception.
	bad := goldenRecords(t)[3]
	bad.Alert.OutputFields["proc.pid"] = "not-a-number"
	bad.Alert.Output += " (bad)"
	bad.ID = shippers.AlertID(bad.Alert)
	if err := p.out.Enqueue(context.Background(), good[0], bad, good[1], good[2]); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.drain(t, time.Minute)
	if n := count(t, url, ds); n != 3 {
		t.Fatalf("%d documents, want the 3 good ones", n)
	}
	data, err := os.ReadFile(p.dead)
	if err != nil {
		t.Fatalf("no dead-letter file: %v", err)
	}
	var line struct{ ID, Reason string }
	if err := json.Unmarshal(bytes.TrimSpace(data), &line); err != nil {
		t.Fatalf("dead-letter file %s: %v", data, err)
	}
	if line.ID != bad.ID || !strings.Contains(line.Reason, "400") || !strings.Contains(line.Reason, "process.pid") {
		t.Fatalf("dead letter %+v: want the bad alert with the node's reason", line)
	}
	n, _ := testutil.GatherAndCount(reg, "lanner_shipper_alerts_dead_lettered_total")
	if n == 0 {
		t.Fatal("dead-letter metric missing")
	}
	t.Logf("mapping error from the real node: %s", line.Reason)
}

func metricValue(t testing.TB, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// makeAlerts returns n distinct alerts of one test run.
func makeAlerts(run string, from, to int) []*shippers.Record {
	var out []*shippers.Record
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		a := &alert.Alert{Time: base.Add(time.Duration(i) * time.Microsecond), Rule: "Outage test", Priority: alert.Warning,
			Tags: []string{"test"}, Hostname: "it-" + run, Output: fmt.Sprintf("12:00:00: Warning alert %d of %s", i, run),
			Message: fmt.Sprintf("alert %d of %s", i, run), OutputFields: map[string]any{"n": int64(i), "proc.name": "sh", "proc.pid": int64(1000 + i)}}
		out = append(out, shippers.NewRecord(a, "test rule", "it"))
	}
	return out
}

// ids returns the falco.output_fields.n of every document in target, and the total hits.
func numbers(t testing.TB, url, target string) (map[int]int, int) {
	t.Helper()
	esDo(t, "POST", url+"/"+target+"/_refresh", "", nil)
	seen := map[int]int{}
	total := 0
	var res struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				Source struct {
					Falco struct {
						OutputFields map[string]any `json:"output_fields"`
					} `json:"falco"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	esDo(t, "POST", url+"/"+target+"/_search?scroll=1m", `{"size":5000,"_source":["falco.output_fields.n"]}`, &res)
	for len(res.Hits.Hits) > 0 {
		for _, h := range res.Hits.Hits {
			seen[int(h.Source.Falco.OutputFields["n"].(float64))]++
			total++
		}
		id := res.ScrollID
		res.Hits.Hits = nil
		esDo(t, "POST", url+"/_search/scroll", fmt.Sprintf(`{"scroll":"1m","scroll_id":%q}`, id), &res)
	}
	return seen, total
}

// TestIntegrationOutage stops a node of its own (own port, own data folder, started with
// deploy/local/es.sh) while 10,000 alerts are produced, starts it again, and checks that all
// 10,000 are stored exactly once.
func TestIntegrationOutage(t *testing.T) {
	needNode(t, esURL()) // the scripts and the distribution are those of the local stack
	script, _ := filepath.Abs("../../deploy/local/es.sh")
	shared := os.Getenv("LANNER_CACHE")
	if shared == "" {
		home, _ := os.UserHomeDir()
		shared = filepath.Join(home, ".cache", "lanner")
	}
	cache := filepath.Join(shared, "outage-test")
	port := 9251
	env := append(os.Environ(), "LANNER_CACHE="+cache, "LANNER_M2="+filepath.Join(shared, "m2"),
		"LANNER_ES_PORT="+strconv.Itoa(port), "LANNER_ES_TRANSPORT_PORT="+strconv.Itoa(port+100), "LANNER_ES_HEAP=512m",
		"LANNER_ES_STOP_WAIT=30")
	es := func(cmd string) {
		t.Helper()
		c := exec.Command(script, cmd)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("es.sh %s: %v\n%s", cmd, err, out)
		}
		t.Logf("es.sh %s: %s", cmd, bytes.TrimSpace(out))
	}
	es("start")
	t.Cleanup(func() { es("wipe") }) // stop the node and delete its data: nothing of this test outlives it
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ds := randName("logs-lanner.alerts-outage")
	run := ds[len(ds)-8:]
	p := newPipeline(t, t.TempDir(), Config{Addresses: []string{url}, DataStream: ds, FlushInterval: 0}, nil)
	defer p.out.Close()
	p.start()
	const total = 10000
	produce := func(from, to int) {
		for i := from; i < to; i += 100 {
			if err := p.out.Enqueue(context.Background(), makeAlerts(run, i, min(i+100, to))...); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 2000)
	for deadline := time.Now().Add(time.Minute); p.q.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond) // the first 2,000 reach the node
	}
	es("stop") // the node goes away mid-stream
	produce(2000, total)
	time.Sleep(2 * time.Second) // the worker meets the outage and backs off
	held := p.q.Len()
	es("start")
	p.drain(t, 3*time.Minute)
	seen, hits := numbers(t, url, ds)
	if hits != total || len(seen) != total {
		t.Fatalf("after the outage: %d documents, %d distinct alerts; want %d exactly once", hits, len(seen), total)
	}
	for i := range total {
		if seen[i] != 1 {
			t.Fatalf("alert %d stored %d times", i, seen[i])
		}
	}
	t.Logf("10,000 alerts, node stopped after 2,000 and restarted with %d held in the spool: all stored exactly once", held)
}

// TestIntegrationCrash kills (SIGKILL) a child process that produces alerts and ships them,
// then ships what its spool held: every alert the child had accepted is stored exactly once.
func TestIntegrationCrash(t *testing.T) {
	if dir := os.Getenv("LANNER_CRASH_CHILD"); dir != "" {
		crashChild(t, dir)
		return
	}
	url := esURL()
	needNode(t, url)
	dir := t.TempDir()
	ds := randName("logs-lanner.alerts-crash")
	cmd := exec.Command(os.Args[0], "-test.run=^TestIntegrationCrash$")
	cmd.Env = append(os.Environ(), "LANNER_CRASH_CHILD="+dir, "LANNER_CRASH_DS="+ds)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	accepted := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "accepted "); ok {
			accepted, _ = strconv.Atoi(n)
			if accepted >= 6000 {
				break
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if accepted < 6000 {
		t.Fatalf("child stopped after accepting %d alerts", accepted)
	}
	before := count(t, url, ds)
	// Restart: the same spool, a new process's worth of pipeline.
	p := newPipeline(t, dir, Config{Addresses: []string{url}, DataStream: ds, FlushInterval: 0}, nil)
	defer p.out.Close()
	held := p.q.Len()
	if before == 0 {
		t.Fatal("nothing was stored before the kill: the test did not kill mid-stream")
	}
	p.start()
	p.drain(t, 3*time.Minute)
	seen, hits := numbers(t, url, ds)
	for i := 0; i <= accepted; i++ {
		if seen[i] != 1 {
			t.Fatalf("accepted alert %d stored %d times", i, seen[i])
		}
	}
	if hits != len(seen) {
		t.Fatalf("%d documents for %d distinct alerts: duplicates", hits, len(seen))
	}
	t.Logf("child killed after accepting %d alerts (%d stored before the kill, %d in its spool): %d stored, each once",
		accepted+1, before, held, hits)
}

func crashChild(t *testing.T, dir string) {
	ds := os.Getenv("LANNER_CRASH_DS")
	p := newPipeline(t, dir, Config{Addresses: []string{esURL()}, DataStream: ds, FlushInterval: 0, BatchSize: 500}, nil)
	p.start()
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i += 50 {
		if err := p.out.Enqueue(context.Background(), makeAlerts("crash", i, i+50)...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "accepted %d\n", i+49)
		w.Flush()
		// About 5,000 alerts/s: slower than the worker ships, so the kill finds alerts stored,
		// alerts in flight and alerts waiting in the spool.
		time.Sleep(10 * time.Millisecond)
	}
}

// esPeer reads what a data stream holds, by record id.
type esPeer struct{ url string }

func (p esPeer) Stored(t *testing.T, run string) map[string]int {
	ds := "logs-lanner.alerts-" + run
	esDo(t, "POST", p.url+"/"+ds+"/_refresh", "", nil)
	var res struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	esDo(t, "POST", p.url+"/"+ds+"/_search", `{"size":10000,"_source":false}`, &res)
	out := map[string]int{}
	for _, h := range res.Hits.Hits {
		out[h.ID]++
	}
	return out
}

func TestIntegrationShipperConformance(t *testing.T) {
	url := esURL()
	needNode(t, url)
	prefix := randName("conf")
	shippertest.Run(t, prefix, func(t *testing.T, run string) shippers.Shipper {
		s, err := New(Config{Addresses: []string{url}, DataStream: "logs-lanner.alerts-" + run}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, esPeer{url})
}
