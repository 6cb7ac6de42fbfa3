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
