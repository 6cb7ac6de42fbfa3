// Package spooltest is the conformance suite every spool implementation passes: order, reads
// that do not consume, acknowledgement of a prefix (partial accept), reopen after a clean close,
// and recovery after the process abandons the spool without closing it (what a crash leaves).
package spooltest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lannersec/lanner/shippers/spool"
)

// Spool is the part of a spool the suite exercises.
type Spool interface {
	Append(ctx context.Context, records ...[]byte) error
	Read(ctx context.Context, max int, maxBytes int64) ([]spool.Entry, error)
	ReadFrom(ctx context.Context, from uint64, max int, maxBytes int64) ([]spool.Entry, error)
	Ack(through uint64) error
	Len() int
	Close() error
}

// Factory opens the spool stored in dir (creating it when empty). Opening a dir a previous
// spool used must recover what that spool held.
type Factory func(t *testing.T, dir string) Spool

func rec(i int) []byte { return fmt.Appendf(nil, `{"n":%d,"pad":"%032d"}`, i, i) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// readAll reads and acknowledges every record, returning their payloads in order.
func readAll(t *testing.T, s Spool, batch int) []string {
	t.Helper()
	var out []string
	for s.Len() > 0 {
		es, err := s.Read(ctxT(t), batch, 0)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for _, e := range es {
			out = append(out, string(e.Data))
		}
		if err := s.Ack(es[len(es)-1].Index); err != nil {
			t.Fatalf("Ack: %v", err)
		}
	}
	return out
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, string(rec(i)))
	}
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d = %s, want %s", i, got[i], want[i])
		}
	}
}

func appendRange(t *testing.T, s Spool, from, to, per int) {
	t.Helper()
	for i := from; i < to; i += per {
		var rs [][]byte
		for j := i; j < min(i+per, to); j++ {
			rs = append(rs, rec(j))
		}
		if err := s.Append(ctxT(t), rs...); err != nil {
			t.Fatalf("Append %d..%d: %v", i, min(i+per, to), err)
		}
	}
}

// Run runs the suite against open.
func Run(t *testing.T, open Factory) {
	t.Run("Order", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		appendRange(t, s, 0, 1000, 7)
		if s.Len() != 1000 {
			t.Fatalf("Len = %d, want 1000", s.Len())
		}
		equal(t, readAll(t, s, 64), want(0, 1000))
		if s.Len() != 0 {
			t.Fatalf("Len after acks = %d, want 0", s.Len())
		}
	})
	t.Run("ReadDoesNotConsume", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		appendRange(t, s, 0, 10, 10)
		a, err := s.Read(ctxT(t), 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.Read(ctxT(t), 5, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 5 || len(b) != 5 || a[0].Index != b[0].Index || string(a[4].Data) != string(b[4].Data) {
			t.Fatalf("two reads without Ack differ: %d/%d records", len(a), len(b))
		}
	})
	t.Run("ReadMaxBytes", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		appendRange(t, s, 0, 10, 10)
		es, err := s.Read(ctxT(t), 10, int64(len(rec(0))*3))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 3 {
			t.Fatalf("Read with a 3-record byte budget returned %d", len(es))
		}
		// A budget smaller than one record still returns one, or the spool would stall.
		es, err = s.Read(ctxT(t), 10, 1)
		if err != nil || len(es) != 1 {
			t.Fatalf("Read with a 1-byte budget: %d records, %v", len(es), err)
		}
	})
	t.Run("PartialAccept", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		appendRange(t, s, 0, 20, 20)
		es, err := s.Read(ctxT(t), 20, 0)
		if err != nil {
			t.Fatal(err)
		}
		// The destination took the first 8: acknowledge them only.
		if err := s.Ack(es[7].Index); err != nil {
			t.Fatal(err)
		}
		if s.Len() != 12 {
			t.Fatalf("Len after acknowledging 8 of 20 = %d", s.Len())
		}
		// A stale acknowledgement (already removed) changes nothing.
		if err := s.Ack(es[3].Index); err != nil {
			t.Fatalf("stale Ack: %v", err)
		}
		equal(t, readAll(t, s, 5), want(8, 20))
	})
	t.Run("ReadAheadAckInOrder", func(t *testing.T) {
		// A worker with two batches in delivery reads the second past the first, then
		// acknowledges both in order.
		s := open(t, t.TempDir())
		defer s.Close()
		appendRange(t, s, 0, 30, 30)
		a, err := s.Read(ctxT(t), 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		b, err := s.ReadFrom(ctxT(t), a[len(a)-1].Index+1, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if string(b[0].Data) != string(rec(10)) || len(b) != 10 {
			t.Fatalf("read-ahead starts at %s (%d records), want record 10 and 10 records", b[0].Data, len(b))
		}
		if err := s.Ack(a[len(a)-1].Index); err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(b[len(b)-1].Index); err != nil {
			t.Fatal(err)
		}
		// Reading from before the front starts at the front.
		c, err := s.ReadFrom(ctxT(t), 0, 100, 0)
		if err != nil || string(c[0].Data) != string(rec(20)) || len(c) != 10 {
			t.Fatalf("ReadFrom(0) after acks: %d records, %v", len(c), err)
		}
	})
	t.Run("ReopenAfterClose", func(t *testing.T) {
		dir := t.TempDir()
		s := open(t, dir)
		appendRange(t, s, 0, 300, 10)
		es, err := s.Read(ctxT(t), 100, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(es[99].Index); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		defer s.Close()
		if s.Len() != 200 {
			t.Fatalf("reopened spool holds %d records, want 200", s.Len())
		}
		appendRange(t, s, 300, 350, 10)
		equal(t, readAll(t, s, 33), want(100, 350))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir)
		if s.Len() != 0 {
			t.Fatalf("reopened drained spool holds %d", s.Len())
		}
	})
	t.Run("ReadWaitsForAppend", func(t *testing.T) {
		s := open(t, t.TempDir())
		defer s.Close()
		got := make(chan []spool.Entry, 1)
		go func() {
			es, _ := s.Read(ctxT(t), 10, 0)
			got <- es
		}()
		appendRange(t, s, 0, 1, 1)
		es := <-got
		if len(es) != 1 || string(es[0].Data) != string(rec(0)) {
			t.Fatalf("waiting Read returned %d records", len(es))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Ack(es[0].Index); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(ctx, 1, 0); err == nil {
			t.Fatal("Read on an empty spool with a cancelled context returned no error")
		}
	})
	t.Run("AbandonedWithoutClose", func(t *testing.T) {
		// What a crash leaves: the process stops holding the spool open. Everything appended
		// and not acknowledged is there for the next open; nothing acknowledged comes back.
		dir := t.TempDir()
		s := open(t, dir)
		appendRange(t, s, 0, 500, 50)
		es, err := s.Read(ctxT(t), 120, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(es[len(es)-1].Index); err != nil {
			t.Fatal(err)
		}
		// no Close
		s2 := open(t, dir)
		defer s2.Close()
		equal(t, readAll(t, s2, 100), want(120, 500))
	})
}
