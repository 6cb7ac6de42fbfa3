package stdout

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/lannersec/lanner/shippers"
)

// Shipper writes batches of alerts to a writer, one line each, in one write per batch.
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

// Send writes the batch. A failed write (a closed pipe) is recoverable: the worker retries with
// backoff and the alerts wait in the queue; nothing is rejected for good.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for _, r := range batch {
		if s.json {
			buf = r.Alert.AppendJSON(buf)
		} else {
			buf = append(buf, r.Alert.TextLine()...)
		}
		buf = append(buf, '\n')
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return &shippers.RecoverableError{Err: fmt.Errorf("stdout output: %w", err)}
	}
	return nil
}

// Close does nothing: standard output belongs to the process.
func (s *Shipper) Close() error { return nil }
