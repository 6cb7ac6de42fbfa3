// Package shippertest is the delivery-contract suite every shipper passes against its real peer
// (an Elasticsearch node, a Forward server): a batch is delivered whole, a batch sent again is
// stored once (the peer deduplicates by record id, or the shipper reports duplicates), an empty
// batch is a no-op, a cancelled context makes Send return, and every index a PartialError names
// is inside the batch.
package shippertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

// Peer is the destination as the test sees it.
type Peer interface {
	// Stored returns how many times each record id of the run is stored at the peer, once
	// everything sent has become visible.
	Stored(t *testing.T, run string) map[string]int
}

// Factory returns a shipper that delivers to the peer's place for run (an index, a tag...).
type Factory func(t *testing.T, run string) shippers.Shipper

// Records returns n distinct records of run.
func Records(run string, n int) shippers.Batch {
	b := make(shippers.Batch, n)
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for i := range b {
		a := &alert.Alert{Time: base.Add(time.Duration(i) * time.Millisecond), Rule: "Shipper conformance", Priority: alert.Notice,
			Source: event.SourceSyscall, Tags: []string{"conformance"}, Hostname: "conformance-" + run,
			Output:       fmt.Sprintf("12:00:00: Notice record %d of %s", i, run),
			Message:      fmt.Sprintf("record %d of %s", i, run),
			OutputFields: map[string]any{"proc.name": "conformance", "proc.pid": int64(i + 1), "evt.type": "execve"}}
		b[i] = shippers.NewRecord(a, "conformance", "shippertest")
	}
	return b
}

// settled checks a Send result: nil, or a PartialError whose indices are in range, with every
// record accepted or duplicate (a conformant peer rejects none of Records' records).
func settled(t *testing.T, err error, n int) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *shippers.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Send: %v", err)
	}
	seen := map[int]bool{}
	for _, l := range [][]int{pe.Accepted, pe.Duplicates, pe.Rejected, pe.Retry} {
		for _, i := range l {
			if i < 0 || i >= n {
				t.Fatalf("PartialError names index %d of a %d-record batch", i, n)
			}
			seen[i] = true
		}
	}
	if len(pe.Rejected) > 0 || len(pe.Retry) > 0 || len(pe.Accepted)+len(pe.Duplicates) != n {
		t.Fatalf("batch not settled: %v", pe)
	}
}

// Run runs the suite. run names are unique per subtest (prefix + subtest).
func Run(t *testing.T, prefix string, newShipper Factory, peer Peer) {
	t.Run("DeliversBatch", func(t *testing.T) {
		run := prefix + "deliver"
		s := newShipper(t, run)
		defer s.Close()
		b := Records(run, 250)
		settled(t, s.Send(context.Background(), b), len(b))
		got := peer.Stored(t, run)
		for _, r := range b {
			if got[r.ID] != 1 {
				t.Fatalf("record %s stored %d times, want 1", r.ID, got[r.ID])
			}
		}
	})
	t.Run("ResendStoresOnce", func(t *testing.T) {
		run := prefix + "resend"
		s := newShipper(t, run)
		defer s.Close()
		b := Records(run, 50)
		settled(t, s.Send(context.Background(), b[:30]), 30)
		// The same records again (a retry after a lost answer, a restart after a crash),
		// mixed with new ones.
		settled(t, s.Send(context.Background(), b), len(b))
		got := peer.Stored(t, run)
		if len(got) != len(b) {
			t.Fatalf("%d distinct records stored, want %d", len(got), len(b))
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("record %s stored %d times", id, n)
			}
		}
	})
	t.Run("EmptyBatch", func(t *testing.T) {
		s := newShipper(t, prefix+"empty")
		defer s.Close()
		if err := s.Send(context.Background(), nil); err != nil {
			t.Fatalf("Send(empty) = %v", err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		s := newShipper(t, prefix+"cancel")
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Send(ctx, Records(prefix+"cancel", 5)); err == nil {
			t.Fatal("Send with a cancelled context reported delivery")
		}
	})
}
