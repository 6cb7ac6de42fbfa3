package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"testing"

	"github.com/lannersec/lanner/shippers"
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
