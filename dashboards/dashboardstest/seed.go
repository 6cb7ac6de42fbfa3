package dashboardstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay"
	"github.com/lannersec/lanner/collector/replay/replaytest"
	"github.com/lannersec/lanner/enrich"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// ESURL returns the node the integration tests use: $LANNER_ES_URL, else the local stack's.
func ESURL() string {
	if u := os.Getenv("LANNER_ES_URL"); u != "" {
		return u
	}
	return "http://127.0.0.1:9200"
}

// NeedNode skips the test when no node answers at url, or fails it when CI=true (where the
// stack must be up).
func NeedNode(t testing.TB, url string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url + "/_cluster/health")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return
		}
		err = fmt.Errorf("status %s", res.Status)
	}
	msg := fmt.Sprintf("no Elasticsearch at %s (%v): run `make stack-up` or set LANNER_ES_URL", url, err)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// UniqueName returns prefix followed by 8 random hex digits, for an index or data stream that
// no other test (or engineer) uses.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// RepoRoot returns the directory holding go.mod above the working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Workload is a pod of the fake cluster that the replayed syscall events are moved into.
type Workload struct {
	Namespace string
	// Kind is the pod's controller: Deployment (through a ReplicaSet), DaemonSet or StatefulSet.
	Kind      string
	Name      string
	Container string
	Image     string
}

// DefaultWorkloads are four workloads in three namespaces, with two controller kinds.
func DefaultWorkloads() []Workload {
	return []Workload{
		{Namespace: "shop", Kind: "Deployment", Name: "web", Container: "nginx", Image: "docker.io/library/nginx:1.25"},
		{Namespace: "shop", Kind: "Deployment", Name: "cart", Container: "cart", Image: "ghcr.io/example/cart:2.3.1"},
		{Namespace: "payments", Kind: "Deployment", Name: "api", Container: "api", Image: "registry.example.com/payments/api:5.0.2"},
		{Namespace: "monitoring", Kind: "DaemonSet", Name: "node-exporter", Container: "exporter", Image: "quay.io/prometheus/node-exporter:v1.8.1"},
	}
}

func hash(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

// ContainerID is the 64-hex id of the workload's container.
func (w Workload) ContainerID() string { return hash("ctr/"+w.Namespace+"/"+w.Name, 64) }

// ReplicaSet is the name of a Deployment's ReplicaSet ("" for other kinds).
func (w Workload) ReplicaSet() string {
	if w.Kind != "Deployment" {
		return ""
	}
	return w.Name + "-" + hash("rs/"+w.Namespace+"/"+w.Name, 10)
}

// PodName is the name of the workload's one pod.
func (w Workload) PodName() string {
	base := w.Name
	if rs := w.ReplicaSet(); rs != "" {
		base = rs
	}
	return base + "-" + hash("pod/"+w.Namespace+"/"+w.Name, 5)
}

// Options say what Seed writes and where.
type Options struct {
	// URL of the node; "" means ESURL().
	URL string
	// DataStream, when set, makes the shipper write into this data stream (it must match
	// logs-lanner.alerts-*, the pattern of lanner's default template, which Seed then
	// (re)installs). Otherwise Seed writes dated indices (the shipper's index mode) under a
	// unique prefix with a template of its own; Elasticsearch without x-pack cannot delete a
	// data stream, so index mode is what leaves nothing behind.
	DataStream string
	// Start is the UTC day of the first replay; zero means 2026-11-21, the corpus' own day.
	Start time.Time
	// Days is how many days the corpora are replayed on (0 means 3). Day d replays the lanner
	// corpus 1+d%3 times, two hours apart, and the upstream audit corpus once.
	Days int
	// Workloads the syscall events are spread over; nil means DefaultWorkloads.
	Workloads []Workload
	// Hostname written into the alerts; "" means "lanner-seed".
	Hostname string
	// Keep leaves the indices and template in place after the test (to look at them).
	Keep bool
}

// Seeded is what Seed wrote.
type Seeded struct {
	URL string
	// Target is what to query: the data stream, or the pattern of the dated indices.
	Target string
	// Config is the shipper configuration used (with defaults).
	Config elasticsearch.Config
	// Records are the alerts shipped, in shipping order.
	Records []*shippers.Record
	// Since and Until bound every alert: the first day's midnight and the midnight after the
	// last day (UTC).
	Since, Until time.Time
}

// corpusDay is the day of rules/testdata/lanner_events.jsonl.
var corpusDay = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// Seed replays the corpora, ships the alerts and waits until they are searchable. Unless
// o.Keep, the indices (or data stream) and template are deleted when the test ends.
func Seed(t testing.TB, o Options) *Seeded {
	t.Helper()
	if o.URL == "" {
		o.URL = ESURL()
	}
	NeedNode(t, o.URL)
	if o.Start.IsZero() {
		o.Start = corpusDay
	}
	o.Start = o.Start.UTC().Truncate(24 * time.Hour)
	if o.Days <= 0 {
		o.Days = 3
	}
	if o.Workloads == nil {
		o.Workloads = DefaultWorkloads()
	}
	if o.Hostname == "" {
		o.Hostname = "lanner-seed"
	}

	cfg := elasticsearch.Config{Addresses: []string{o.URL}}
	if o.DataStream != "" {
		cfg.Mode, cfg.DataStream = elasticsearch.ModeDataStream, o.DataStream
	} else {
		prefix := UniqueName("lanner-seed")
		cfg.Mode, cfg.IndexPrefix, cfg.TemplateName = elasticsearch.ModeIndex, prefix, prefix
	}
	cfg.ILMPolicy = "none"
	cfg = cfg.WithDefaults()
	s := &Seeded{URL: o.URL, Config: cfg, Since: o.Start, Until: o.Start.AddDate(0, 0, o.Days)}
	if cfg.Mode == elasticsearch.ModeDataStream {
		s.Target = cfg.DataStream
	} else {
		s.Target = cfg.IndexPrefix + "-*"
	}
	if !o.Keep {
		t.Cleanup(func() { s.cleanup(t) })
	}

	s.Records = replayCorpora(t, o)
	ship(t, cfg, s.Records)
	if _, err := Do(o.URL, "POST", "/"+s.Target+"/_refresh", "", nil); err != nil {
		t.Fatal(err)
	}
	var c struct{ Count int }
	if _, err := Do(o.URL, "GET", "/"+s.Target+"/_count", "", &c); err != nil {
		t.Fatal(err)
	}
	if c.Count != len(s.Records) {
		t.Fatalf("%s holds %d documents after shipping %d alerts", s.Target, c.Count, len(s.Records))
	}
	return s
}

func (s *Seeded) cleanup(t testing.TB) {
	if s.Config.Mode == elasticsearch.ModeDataStream {
		if st, err := Do(s.URL, "DELETE", "/_data_stream/"+s.Config.DataStream, "", nil); err != nil || st >= 300 {
			// A node without x-pack has no data stream API: the stream stays (a throwaway node).
			t.Logf("data stream %s left in place: DELETE answered %d %v", s.Config.DataStream, st, err)
		}
		return
	}
	// The node refuses wildcard deletes (action.destructive_requires_name): name each index.
	var idx []struct{ Index string }
	if _, err := Do(s.URL, "GET", "/_cat/indices/"+s.Target+"?format=json&h=index", "", &idx); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	paths := []string{"/_index_template/" + s.Config.TemplateName}
	for _, i := range idx {
		paths = append(paths, "/"+i.Index)
	}
	for _, p := range paths {
		if _, err := Do(s.URL, "DELETE", p, "", nil); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// Do sends a request to the node at url and decodes a JSON answer into out (when not nil). It
// returns the status; an answer of 300 or more is returned with an error holding the body.
func Do(url, method, path, body string, out any) (int, error) {
	req, err := http.NewRequest(method, url+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: decoding %s: %w", method, path, data, err)
		}
	}
	return res.StatusCode, nil
}

// replayCorpora runs the corpora through the engines and the enricher as `lanner run` wires
// them, and returns the alerts.
func replayCorpora(t testing.TB, o Options) []*shippers.Record {
	t.Helper()
	root := RepoRoot(t)
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname(o.Hostname))
	builder, err := alert.NewBuilder(reg, o.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	lannerRules := filepath.Join(root, "rules", "lanner_rules.yaml")
	data, err := os.ReadFile(lannerRules)
	if err != nil {
		t.Fatal(err)
	}
	lannerRS, res := engine.Load([]engine.File{{Name: lannerRules, Data: data}}, engine.Options{Registry: reg})
	if !res.OK() {
		t.Fatalf("loading %s: %v", lannerRules, res.Err())
	}
	auditRS := replaytest.LoadUpstream(t, "k8s_audit_rules.yaml", reg, engine.MatchFirst)

	cache := startCache(t, o.Workloads)
	annot := cache.NewAnnotator()

	var recs []*shippers.Record
	emit := func(r *engine.Rule, e *event.Event) {
		a := builder.Build(e, r.Name, r.Priority, r.Tags, r.Formatter)
		if e.Source == event.SourceSyscall {
			cache.Enrich(a, enrich.ContainerIDOf(e))
		}
		recs = append(recs, shippers.NewRecord(a, r.Desc, filepath.Base(r.File)))
	}
	// play replays file with every event moved by shift from its corpus day to day, and the
	// containers of syscall events moved into the workloads, starting with workload first.
	play := func(file string, rs *engine.Ruleset, day time.Time, shift time.Duration, first int) {
		rd := replay.Open([]string{file}, replay.Options{})
		defer rd.Close()
		var move time.Duration
		moved := false
		i := first
		for {
			e, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("replaying %s: %v", file, err)
			}
			if !moved {
				// The first event's day is the corpus day: move it to day.
				move = day.Sub(time.Unix(0, e.Time).UTC().Truncate(24*time.Hour)) + shift
				moved = true
			}
			e.Time += int64(move)
			if e.Sys != nil && e.Sys.Thread != nil {
				if c := e.Sys.Thread.Container; c != nil && !c.IsHost() {
					w := o.Workloads[i%len(o.Workloads)]
					i++
					id := w.ContainerID()
					c.ID, c.FullID, c.Name, c.Pod = id[:12], id, w.Container, nil
					c.Image, c.ImageRepository, c.ImageTag = w.Image, "", ""
					if k := strings.LastIndexByte(w.Image, ':'); k > strings.LastIndexByte(w.Image, '/') {
						c.ImageRepository, c.ImageTag = w.Image[:k], w.Image[k+1:]
					}
				}
				annot.Annotate(e.Sys.Thread.Container)
			}
			rs.Process(e, emit)
		}
	}
	lannerEvents := filepath.Join(root, "rules", "testdata", "lanner_events.jsonl")
	auditEvents := filepath.Join(root, "collector", "audit", "testdata", "k8s_audit_events.jsonl")
	for d := 0; d < o.Days; d++ {
		day := o.Start.AddDate(0, 0, d)
		for p := 0; p <= d%3; p++ {
			play(lannerEvents, lannerRS, day, time.Duration(p)*2*time.Hour, d+p)
		}
		play(auditEvents, auditRS, day, 0, 0)
	}
	if len(recs) == 0 {
		t.Fatal("the corpora made no alerts")
	}
	return recs
}

// startCache runs the real enrich cache on a fake clientset holding the workloads' pods (and
// the ReplicaSets that lead from a pod to its Deployment).
func startCache(t testing.TB, ws []Workload) *enrich.Cache {
	t.Helper()
	const node = "node-seed"
	ctrl := true
	var objs []runtime.Object
	for _, w := range ws {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: w.PodName(), UID: types.UID("uid-" + w.PodName()),
				Labels: map[string]string{"app.kubernetes.io/name": w.Name}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: w.Container, Image: w.Image}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.42.0." + fmt.Sprint(len(objs)+10),
				ContainerStatuses: []corev1.ContainerStatus{{Name: w.Container, Image: w.Image,
					ImageID:     strings.SplitN(w.Image, ":", 2)[0] + "@sha256:" + hash("img/"+w.Image, 64),
					ContainerID: "containerd://" + w.ContainerID(), Ready: true}}},
		}
		switch w.Kind {
		case "Deployment":
			rs := w.ReplicaSet()
			pod.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = strings.TrimPrefix(rs, w.Name+"-")
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: types.UID("uid-" + rs), Controller: &ctrl}}
			objs = append(objs, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: w.Namespace, Name: rs, UID: types.UID("uid-" + rs),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: w.Name, UID: types.UID("uid-" + w.Name), Controller: &ctrl}}}})
		case "DaemonSet", "StatefulSet":
			pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: w.Kind, Name: w.Name, UID: types.UID("uid-" + w.Name), Controller: &ctrl}}
		default:
			t.Fatalf("workload %s/%s: kind %q: want Deployment, DaemonSet or StatefulSet", w.Namespace, w.Name, w.Kind)
		}
		objs = append(objs, pod)
	}
	c, err := enrich.New(fake.NewClientset(objs...), enrich.Config{NodeName: node}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := c.WaitForSync(wctx); err != nil {
		t.Fatalf("enrich cache: %v", err)
	}
	// The pods are seen once their ReplicaSets are: wait until every container resolves to
	// its workload, so that no alert is shipped half enriched.
	for _, w := range ws {
		for {
			m, ok := c.Container(w.ContainerID())
			if ok && (w.Kind != "Deployment" || m.Pod.Deployment == w.Name) {
				break
			}
			if wctx.Err() != nil {
				t.Fatalf("enrich cache never resolved %s/%s", w.Namespace, w.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return c
}

// ship sends the records with the real Elasticsearch shipper, in batches.
func ship(t testing.TB, cfg elasticsearch.Config, recs []*shippers.Record) {
	t.Helper()
	s, err := elasticsearch.New(cfg, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const batch = 500
	for i := 0; i < len(recs); i += batch {
		b := recs[i:min(i+batch, len(recs))]
		if err := s.Send(ctx, shippers.Batch(b)); err != nil {
			var pe *shippers.PartialError
			if errors.As(err, &pe) {
				t.Fatalf("shipping %d alerts: %d accepted, %d duplicates, %d rejected: %v", len(b), len(pe.Accepted), len(pe.Duplicates), len(pe.Rejected), errors.Join(pe.RejectErrs...))
			}
			t.Fatalf("shipping %d alerts: %v", len(b), err)
		}
	}
}
