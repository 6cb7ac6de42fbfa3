package spool

import (
	"context"
	"errors"
	"testing"
)

func TestMemoryQueue(t *testing.T) {
	m, err := NewMemory(10, Block, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Append(ctx, []byte("aaaa"), []byte("bbbb")); err != nil {
		t.Fatal(err)
	}
	// Full under Block: a context that is already done says so at once.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Append(done, []byte("cccc")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append to a full queue: %v", err)
	}
	es, err := m.ReadFrom(ctx, 0, 10, 0)
	if err != nil || len(es) != 2 || es[0].Index != 1 || string(es[1].Data) != "bbbb" {
		t.Fatalf("ReadFrom: %v %+v", err, es)
	}
	// Read ahead from index 2, byte-bounded (at least one record).
	if es, _ := m.ReadFrom(ctx, 2, 10, 1); len(es) != 1 || es[0].Index != 2 {
		t.Fatalf("ReadFrom(2): %+v", es)
	}
	if err := m.Ack(1); err != nil || m.Len() != 1 {
		t.Fatalf("Ack(1): %v, %d left", err, m.Len())
	}
	if err := m.Append(ctx, []byte("cccc")); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitFor(done, 2, 2); err != nil {
		t.Fatalf("WaitFor with two records from index 2: %v", err)
	}
	if err := m.WaitFor(done, 2, 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor beyond what is held: %v", err)
	}
	if err := m.WaitEmpty(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitEmpty with records held: %v", err)
	}
	if err := m.Ack(3); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitEmpty(done); err != nil {
		t.Fatalf("WaitEmpty once everything was acknowledged: %v", err)
	}
	if err := m.Append(ctx, make([]byte, 11)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	_ = m.Close()
	if _, err := m.ReadFrom(ctx, 0, 1, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadFrom after Close: %v", err)
	}
}

func TestMemoryQueueDropOldest(t *testing.T) {
	var dropped int
	m, err := NewMemory(8, DropOldest, func(n int) { dropped += n })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []string{"aaaa", "bbbb", "cccc"} {
		if err := m.Append(ctx, []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := m.ReadFrom(ctx, 0, 10, 0)
	if dropped != 1 || len(es) != 2 || string(es[0].Data) != "bbbb" || es[0].Index != 2 {
		t.Fatalf("dropped %d, held %+v", dropped, es)
	}
	if _, err := NewMemory(0, Block, nil); err == nil {
		t.Fatal("a zero bound accepted")
	}
	if _, err := NewMemory(1, "maybe", nil); err == nil {
		t.Fatal("an unknown policy accepted")
	}
}
