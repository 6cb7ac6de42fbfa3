//go:build integration

package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers"
)

// benchAlerts is the number of alerts each benchmark iteration ships.
const benchAlerts = 20000

// BenchmarkShipLocalNode measures, in one run, alerts/s that lanner's whole output path (alerts
// enqueued 500 at a time into the spool with fsync -- the groups `lanner run`'s group commit
// hands over under load --, the worker, bulk requests with per-item
// classification) delivers to the local node, and the node's own ceiling: a plain bulk loader
// sending the same documents in the same requests (batch_size documents, at most flush_bytes)
// with the same concurrency, built once before any clock starts. Each iteration runs both, in
// alternating order and each once the node has no cluster task pending, into new indices it
// deletes afterwards (dated-index mode: the node here has no API to delete a data stream, and every
// one left behind holds shards until the node refuses more).
//
// It reports both rates, their ratio, lanner's CPU time per alert (user+system of the whole
// process while lanner ships: the spool, the worker, the HTTP client, the garbage collector) and
// the heap in use once the spool is drained.
func BenchmarkShipLocalNode(b *testing.B) {
	url := esURL()
	needNode(b, url)
	var health struct {
		ActiveShards int `json:"active_shards"`
	}
	esDo(b, "GET", url+"/_cluster/health", "", &health)
	if health.ActiveShards > 300 {
		// Seen here: with 600 data streams left by tests, the ceiling fell from 37k to 20-25k.
		b.Logf("WARNING: the node holds %d shards; its ceiling is lower than a fresh node's (deploy/local/es.sh wipe resets it)", health.ActiveShards)
	}
	prefix := randName("lanner-bench-")
	base := Config{Addresses: []string{url}, Mode: ModeIndex, IndexPrefix: prefix, TemplateName: prefix,
		FlushInterval: 0}.WithDefaults()
	// Install the template (for prefix-*) once, so neither side pays for it.
	s, err := New(base, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Setup(context.Background()); err != nil {
		b.Fatal(err)
	}
	s.Close()
	b.Cleanup(func() {
		esDo(b, "DELETE", url+"/"+prefix+"-*", "", nil)
		esDo(b, "DELETE", url+"/_index_template/"+prefix, "", nil)
	})

	// The plain loader's requests, built once: the same documents and action lines, cut as
	// lanner cuts them, into an index deleted after each run.
	plainIndex := prefix + "-plain"
	chunks := plainChunks(makeAlerts("bench", 0, benchAlerts), plainIndex, base.BatchSize, base.FlushBytes)

	var lannerTime, plainTime, lannerCPU time.Duration
	var lannerRuns, plainRuns []time.Duration // per iteration, for the median of the pairs' ratios
	var peak uint64
	shipLanner := func(i int) {
		cfg := base
		cfg.IndexPrefix = fmt.Sprintf("%s-l%d", prefix, i)
		cfg.Setup = boolp(false)
		p := newPipeline(b, b.TempDir(), cfg, prometheus.NewRegistry())
		// Alerts of their own, let go of once enqueued as the collector lets go of them: the
		// garbage collector does not keep marking 20,000 alerts no collector would hold.
		alerts := makeAlerts("bench", 0, benchAlerts)
		target := cfg.indexFor(alerts[0].Alert.Time)
		settle(b, url)
		cpu0 := processCPU()
		start := time.Now()
		p.start()
		for i := 0; i < len(alerts); i += 500 {
			chunk := alerts[i:min(i+500, len(alerts))]
			if err := p.out.Enqueue(context.Background(), chunk...); err != nil {
				b.Fatal(err)
			}
			clear(chunk)
		}
		p.drain(b, 5*time.Minute)
		lannerTime += time.Since(start)
		lannerRuns = append(lannerRuns, time.Since(start))
		lannerCPU += processCPU() - cpu0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if n := count(b, url, target); n != benchAlerts {
			b.Fatalf("%d documents, want %d", n, benchAlerts)
		}
		p.out.Close()
		esDo(b, "DELETE", url+"/"+target, "", nil)
	}
	shipPlain := func() {
		settle(b, url)
		start := time.Now()
		sem := make(chan struct{}, base.Concurrency)
		var wg sync.WaitGroup
		for _, c := range chunks {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				res, err := http.Post(url+"/_bulk?filter_path=errors", "application/x-ndjson", bytes.NewReader(c))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		wg.Wait()
		plainTime += time.Since(start)
		plainRuns = append(plainRuns, time.Since(start))
		if n := count(b, url, plainIndex); n != benchAlerts {
			b.Fatalf("%d documents, want %d", n, benchAlerts)
		}
		esDo(b, "DELETE", url+"/"+plainIndex, "", nil)
	}
	// Each iteration runs both, one after the other, so that load from anything else on the
	// machine weighs on both alike, and in alternating order, so that neither always follows
	// the other's index deletion; the ratio is the figure to watch.
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if i%2 == 0 {
			shipLanner(i)
			shipPlain()
		} else {
			shipPlain()
			shipLanner(i)
		}
		b.StartTimer()
	}
	n := float64(benchAlerts * b.N)
	lannerRate := n / lannerTime.Seconds()
	plainRate := n / plainTime.Seconds()
	b.ReportMetric(lannerRate, "lanner-alerts/s")
	b.ReportMetric(plainRate, "ceiling-alerts/s")
	b.ReportMetric(100*lannerRate/plainRate, "%-of-ceiling")
	// The node alone varies by up to half from one run to the next (its garbage collector,
	// merges): the median of the iterations' ratios is less moved by one such run than the
	// ratio of the totals above.
	var ratios []float64
	for i := range min(len(lannerRuns), len(plainRuns)) {
		ratios = append(ratios, plainRuns[i].Seconds()/lannerRuns[i].Seconds())
	}
	slices.Sort(ratios)
	if n := len(ratios); n > 0 {
		b.ReportMetric(100*(ratios[(n-1)/2]+ratios[n/2])/2, "median-%-of-ceiling")
	}
	b.ReportMetric(float64(lannerCPU.Microseconds())/n, "lanner-cpu-µs/alert")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
	b.ReportMetric(0, "ns/op")
}

// plainChunks returns the bodies of the bulk requests lanner makes for recs: batches of at most
// batchSize documents, cut at flushBytes.
func plainChunks(recs []*shippers.Record, index string, batchSize, flushBytes int) [][]byte {
	var chunks [][]byte
	var cur bytes.Buffer
	n := 0
	for _, r := range recs {
		doc, _ := Document(r)
		line := `{"create":{"_index":` + strconv.Quote(index) + `,"_id":` + strconv.Quote(r.ID) + "}}\n"
		if n == batchSize || (n > 0 && cur.Len()+len(line)+len(doc)+1 > flushBytes) {
			chunks = append(chunks, bytes.Clone(cur.Bytes()))
			cur.Reset()
			n = 0
		}
		cur.WriteString(line)
		cur.Write(doc)
		cur.WriteByte('\n')
		n++
	}
	return append(chunks, bytes.Clone(cur.Bytes()))
}

// settle waits until the node has no cluster task pending (the index the run before deleted,
// the one this run creates), so that neither side starts while the other's are in the queue.
// It does not wait longer: on this VM a node left idle answers its next requests more slowly,
// which would weigh on both alike but lower the ceiling.
func settle(b *testing.B, url string) {
	esDo(b, "GET", url+"/_cluster/health?wait_for_events=languid&timeout=30s", "", nil)
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
