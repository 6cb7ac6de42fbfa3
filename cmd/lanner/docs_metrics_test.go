package main

import (
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/enrich"
)

const metricsDocPath = "../../docs/metrics.md"

// TestDocsMetrics builds every component of `lanner run` that exports metrics, each on the
// collector's registry the way run wires it (every output enabled, the audit trail, the audit
// webhook, the pod cache, the capture counters), and checks docs/metrics.md against the metric
// names they register: every name is documented, and every documented lanner_* name exists. Only
// the responder's lanner_respond_* (another process, documented in its own page) is exempt.
func TestDocsMetrics(t *testing.T) {
	m, err := newRunMetrics()
	if err != nil {
		t.Fatal(err)
	}
	rec := &descRecorder{Registerer: m.reg, names: map[string]bool{}}
	// The collector's own collectors were registered by newRunMetrics; describe them too.
	for _, c := range []prometheus.Collector{m.alerts, m.failed, m} {
		rec.describe(c)
	}
	log := slog.New(slog.DiscardHandler)

	if _, err := capture.NewMetrics(func() (capture.Stats, error) { return capture.Stats{}, nil }, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.NewWebhook(audit.WebhookConfig{AllowUnauthenticated: true}, make(chan audit.Batch, 1), log, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := enrich.New(fake.NewClientset(), enrich.Config{NodeName: "node-1"}, log, rec); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	closed := closedPort(t)
	cfg := config.Default()
	cfg.Stdout.Enabled = false
	cfg.Elasticsearch.Enabled = true
	cfg.Elasticsearch.Addresses = []string{"http://" + closed}
	noSetup := false // nothing to install on a peer that is not there
	cfg.Elasticsearch.Setup = &noSetup
	cfg.Elasticsearch.SpoolDir = filepath.Join(dir, "elasticsearch")
	host, port, _ := net.SplitHostPort(closed)
	cfg.Fluentd.Enabled = true
	cfg.Fluentd.Host = host
	if cfg.Fluentd.Port, err = strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	cfg.Fluentd.SpoolDir = filepath.Join(dir, "fluentd")
	cfg.FileOutput.Enabled = true
	cfg.FileOutput.Filename = filepath.Join(dir, "alerts.jsonl")
	cfg.FileOutput.SpoolDir = filepath.Join(dir, "file")
	cfg.HTTPOutput.Enabled = true
	cfg.HTTPOutput.URL = "http://" + closed + "/alerts"
	cfg.HTTPOutput.SpoolDir = filepath.Join(dir, "http")
	cfg.SyslogOutput.Enabled = true
	cfg.SyslogOutput.Network = "udp"
	cfg.SyslogOutput.Address = closed
	cfg.SyslogOutput.SpoolDir = filepath.Join(dir, "syslog")
	cfg.ProgramOutput.Enabled = true
	cfg.ProgramOutput.Program = "cat >/dev/null"
	cfg.ProgramOutput.SpoolDir = filepath.Join(dir, "program")
	cfg.NATSOutput.Enabled = true
	cfg.NATSOutput.URL = "nats://" + closed
	cfg.NATSOutput.SpoolDir = filepath.Join(dir, "nats")
	if ps := cfg.Validate(); len(ps) != 0 {
		t.Fatalf("configuration problems: %v", ps)
	}
	sink, failed, err := newShipperOutputs(&cfg, log, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range failed {
		t.Errorf("output %s could not be built: %v", f.name, f.err)
	}
	if sink == nil {
		t.Fatal("no output was built")
	}
	defer sink.Close()
	if got := len(sink.f.Outputs()); got != 7 {
		t.Fatalf("%d outputs built, want all 7", got)
	}
	if sink.chain == nil {
		t.Fatal("the audit trail is not open")
	}
	sink.startCommitter(commitQueue, nil)
	if err := registerCommitQueue(rec, sink.queued); err != nil {
		t.Fatal(err)
	}

	doc := readDoc(t, metricsDocPath)
	var exported []string
	for name := range rec.names {
		if !strings.HasPrefix(name, "lanner_") {
			continue // Go and process collectors
		}
		exported = append(exported, name)
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("metric %s is not documented in %s", name, metricsDocPath)
		}
	}
	sort.Strings(exported)
	if len(exported) < 40 {
		t.Fatalf("only %d lanner_* metrics registered: %v", len(exported), exported)
	}
	for _, name := range documentedMetrics(doc) {
		if !rec.names[name] && !strings.HasPrefix(name, "lanner_respond_") {
			t.Errorf("%s documents %s, which lanner run does not export", metricsDocPath, name)
		}
	}
}

// descRecorder is the collector's registry as the components see it, noting the name of every
// metric they register (from its descriptors, so that vectors without series count too).
type descRecorder struct {
	prometheus.Registerer
	names map[string]bool
}

func (r *descRecorder) Register(c prometheus.Collector) error {
	r.describe(c)
	return r.Registerer.Register(c)
}

func (r *descRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *descRecorder) describe(c prometheus.Collector) {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
}

var docMetric = regexp.MustCompile("`(lanner_[a-z0-9_]+)[`{]")

// documentedMetrics returns the lanner_* names docs/metrics.md writes as code (`name` or
// `name{labels}`), outside its PromQL examples.
func documentedMetrics(doc string) []string {
	seen := map[string]bool{}
	var out []string
	for _, text := range outsideCodeBlocks(doc) {
		for _, m := range docMetric.FindAllStringSubmatch(text, -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	return out
}

// closedPort returns a loopback address nothing listens on (it was listened on, then closed), so
// the outputs under test reach no real peer.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
