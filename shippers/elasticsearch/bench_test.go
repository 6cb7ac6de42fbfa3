package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"path/filepath"
	"testing"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/spool"
)

// BenchmarkRecordPath measures the CPU lanner spends per alert between the engine and the bulk
// request: the spooled form written and read back, and the ECS document.
func BenchmarkRecordPath(b *testing.B) {
	r := testRecord(1)
	data, _ := r.MarshalBinary()
	b.Run("marshal", func(b *testing.B) {
		for b.Loop() {
			r.MarshalBinary()
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		for b.Loop() {
			shippers.UnmarshalRecord(data)
		}
	})
	b.Run("document", func(b *testing.B) {
		for b.Loop() {
			Document(r)
		}
	})
}

func BenchmarkGzipPerAlert(b *testing.B) {
	var body []byte
	for i := range 2000 {
		d, _ := Document(testRecord(i))
		body = append(append(body, d...), '\n')
	}
	b.ResetTimer()
	for b.Loop() {
		var buf bytes.Buffer
		w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		w.Write(body)
		w.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/alert")
}

// BenchmarkPrepare measures what the Elasticsearch output spends per alert when it spools it:
// the ECS document appended to a reused buffer, the builder taken from the shipper's pool.
func BenchmarkPrepare(b *testing.B) {
	s, err := New(Config{Setup: boolp(false)}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := testRecord(1)
	var buf []byte
	for b.Loop() {
		buf, _ = s.Prepare(buf[:0], r)
	}
}

// BenchmarkEnqueue measures the producer's side of the Elasticsearch output per alert: the ECS
// document built and written to a real spool on disk with its fsync, 500 alerts per Enqueue as
// the fan-out hands them over under load. Each iteration's spool is acknowledged afterwards
// (outside the clock) so that the log stays the size it has in steady state.
func BenchmarkEnqueue(b *testing.B) {
	s, err := New(Config{Setup: boolp(false)}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	dir := b.TempDir()
	q, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{Name: "bench"}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	oc := Config{}.WithDefaults().OutputConfig("es")
	oc.DeadLetterFile = filepath.Join(dir, "deadletter.jsonl")
	o, err := shippers.NewOutput(oc, q, s, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]*shippers.Record, 500)
	for i := range recs {
		recs[i] = testRecord(i)
	}
	ctx := context.Background()
	for b.Loop() {
		if err := o.Enqueue(ctx, recs...); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		entries, err := q.Read(ctx, len(recs), 0)
		if err != nil || len(entries) != len(recs) {
			b.Fatalf("read back %d entries, %v", len(entries), err)
		}
		if err := q.Ack(entries[len(entries)-1].Index); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/alert")
	b.ReportMetric(0, "ns/op")
}
