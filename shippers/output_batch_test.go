package shippers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers/spool"
)

// A batch that is full by bytes is sent at once, even when it holds fewer records than
// batch_size and the flush interval is long: waiting could not make it larger.
func TestOutputSendsBatchFullByBytesWithoutLinger(t *testing.T) {
	dir := t.TempDir()
	q, err := spool.Open(dir, spool.Options{Name: "t"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh := &scripted{}
	for range 10 {
		sh.script = append(sh.script, func(Batch) error { return nil })
	}
	o, err := NewOutput(OutputConfig{Name: "t", BatchSize: 1000, BatchBytes: 2000, FlushInterval: time.Hour,
		DeadLetterFile: filepath.Join(dir, "dead.jsonl")}, q, sh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*Record
	for i := range 6 {
		recs = append(recs, NewRecord(testAlert(i, "R", alert.Error), "", ""))
	}
	if err := o.Enqueue(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	// Records of ~500 bytes: batches of 3 fill 2000 bytes. The last one is partial and waits
	// for its flush interval; the full ones must not.
	deadline := time.Now().Add(30 * time.Second)
	for q.Len() > 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := q.Len(); n > 3 {
		t.Fatalf("%d records still spooled: batches full by bytes waited for the flush interval (sends %v)", n, sh.calls)
	}
	o.Close()
}
