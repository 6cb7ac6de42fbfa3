//go:build integration

package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// benchAlerts is the number of alerts each benchmark iteration ships.
const benchAlerts = 20000

// BenchmarkShipLocalNode measures, in one run, alerts/s that lanner's whole output path (spool
// with fsync, worker, ECS documents, bulk with per-item classification) delivers to the local
// node, and the node's own ceiling: a plain bulk loader sending the same documents, in the same
// request sizes and concurrency, straight from memory. Each iteration writes a new data stream.
func BenchmarkShipLocalNode(b *testing.B) {
	url := esURL()
	needNode(b, url)
	recs := makeAlerts("bench", 0, benchAlerts)
	base := Config{Addresses: []string{url}, FlushInterval: 0}.WithDefaults()
	// Install the template once, so neither side pays for it.
	s, err := New(base, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Setup(context.Background()); err != nil {
		b.Fatal(err)
	}
	s.Close()

	// Each iteration runs both, one after the other, so that load from anything else on the
	// machine weighs on both alike; the ratio is the figure to watch.
	var lannerTime, plainTime time.Duration
	var peak uint64
	for b.Loop() {
		b.StopTimer()
		cfg := base
		cfg.DataStream = randName("logs-lanner.alerts-bench")
		cfg.Setup = boolp(false)
		p := newPipeline(b, b.TempDir(), cfg, prometheus.NewRegistry())
		start := time.Now()
		p.start()
		for i := 0; i < len(recs); i += 500 {
			if err := p.out.Enqueue(context.Background(), recs[i:min(i+500, len(recs))]...); err != nil {
				b.Fatal(err)
			}
		}
		p.drain(b, 5*time.Minute)
		lannerTime += time.Since(start)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
		if n := count(b, url, cfg.DataStream); n != benchAlerts {
			b.Fatalf("%d documents, want %d", n, benchAlerts)
		}
		p.out.Close()

		// The plain loader: the same documents and action lines, built before its clock starts.
		ds := randName("logs-lanner.alerts-bench")
		var chunks [][]byte
		var cur bytes.Buffer
		for _, r := range recs {
			doc, _ := Document(r)
			line := fmt.Sprintf(`{"create":{"_index":%s,"_id":%s}}`+"\n", strconv.Quote(ds), strconv.Quote(r.ID))
			if cur.Len() > 0 && cur.Len()+len(line)+len(doc)+1 > base.FlushBytes {
				chunks = append(chunks, bytes.Clone(cur.Bytes()))
				cur.Reset()
			}
			cur.WriteString(line)
			cur.Write(doc)
			cur.WriteByte('\n')
		}
		chunks = append(chunks, bytes.Clone(cur.Bytes()))
		start = time.Now()
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
				res.Body.Close()
			})
		}
		wg.Wait()
		plainTime += time.Since(start)
		if n := count(b, url, ds); n != benchAlerts {
			b.Fatalf("%d documents, want %d", n, benchAlerts)
		}
		b.StartTimer()
	}
	lannerRate := float64(benchAlerts*b.N) / lannerTime.Seconds()
	plainRate := float64(benchAlerts*b.N) / plainTime.Seconds()
	b.ReportMetric(lannerRate, "lanner-alerts/s")
	b.ReportMetric(plainRate, "ceiling-alerts/s")
	b.ReportMetric(100*lannerRate/plainRate, "%-of-ceiling")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
	b.ReportMetric(0, "ns/op")
}
