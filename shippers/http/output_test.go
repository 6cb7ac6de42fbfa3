package http

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/shippertest"
	"github.com/lannersec/lanner/shippers/spool"
)

// TestThroughOutput runs the shipper behind a real spool and output worker: the first POST
// gets 503 with Retry-After and is retried until 200; the alert the server refuses with 400 goes
// to the dead-letter file; the others arrive once, in order.
func TestThroughOutput(t *testing.T) {
	var mu sync.Mutex
	var delivered []string
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a, err := shippers.ParseFalcoJSON(b)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			w.WriteHeader(http.StatusBadRequest)
		case first:
			first = false
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case bytes.Contains(b, []byte("record 1 of")):
			http.Error(w, "schema violation", http.StatusBadRequest)
		default:
			delivered = append(delivered, a.Output)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	sp, err := spool.Open(dir, spool.Options{Name: "http"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := New(Config{URL: srv.URL}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dlq := filepath.Join(dir, "deadletter.jsonl")
	o, err := shippers.NewOutput(shippers.OutputConfig{Name: "http", DeadLetterFile: dlq,
		Backoff: shippers.BackoffConfig{Initial: 5 * time.Millisecond, Max: 10 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond}},
		sp, sh, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		_ = o.Close()
	}()
	batch := shippertest.Records("out", 3)
	if err := o.Enqueue(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(delivered)
		mu.Unlock()
		b, _ := os.ReadFile(dlq)
		if n == 2 && bytes.Contains(b, []byte("schema violation")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, dead letters %q", n, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if delivered[0] != batch[0].Alert.Output || delivered[1] != batch[2].Alert.Output {
		t.Fatalf("delivered %q, want records 0 and 2 in order", delivered)
	}
	b, _ := os.ReadFile(dlq)
	if !bytes.Contains(b, []byte("record 1 of out")) || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("dead-letter file %q, want record 1 alone", b)
	}
}
