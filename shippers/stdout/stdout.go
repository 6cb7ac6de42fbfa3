package stdout

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/lannersec/lanner/shippers"
)

// Shipper writes batches of alerts to a writer, one line each, in one write per batch. It is a
// shippers.Preparer.
type Shipper struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	buf  []byte
}

// New returns a Shipper writing to w: Falco JSON lines when json, else Falco's text lines.
func New(w io.Writer, json bool) (*Shipper, error) {
	if w == nil {
		return nil, fmt.Errorf("stdout output: no writer")
	}
	return &Shipper{w: w, json: json}, nil
}

// Prepare appends r's line (with its newline): the output queues the line itself, so an alert
// is formatted once, when it is queued, and the worker writes queued bytes as they are.
func (s *Shipper) Prepare(dst []byte, r *shippers.Record) ([]byte, error) {
	if s.json {
		dst = r.Alert.AppendJSON(dst)
	} else {
		dst = append(dst, r.Alert.TextLine()...)
	}
	return append(dst, '\n'), nil
}

// SendPrepared writes the prepared lines in one write. A failed write (a closed pipe) is
// recoverable: the worker retries with backoff and the alerts wait in the queue; nothing is
// rejected for good.
func (s *Shipper) SendPrepared(ctx context.Context, batch []shippers.Prepared) error {
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for _, p := range batch {
		buf = append(buf, p.Data...)
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return &shippers.RecoverableError{Err: fmt.Errorf("stdout output: %w", err)}
	}
	return nil
}

// Send writes the batch (for callers that hold records rather than prepared lines).
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	prepared := make([]shippers.Prepared, len(batch))
	for i, r := range batch {
		line, _ := s.Prepare(nil, r)
		prepared[i] = shippers.Prepared{ID: r.ID, Data: line}
	}
	return s.SendPrepared(ctx, prepared)
}

// Close does nothing: standard output belongs to the process.
func (s *Shipper) Close() error { return nil }
