package spool

import (
	"context"
	"fmt"
	"sync"
)

// Memory is a queue with the Spool's semantics (bounded by bytes, the same overflow policies,
// read ahead, acknowledge in order) held in memory only. It is for outputs whose destination
// has no meaning across a restart, such as the collector's standard output: a terminal or a
// pipe cannot be "down for an hour", so a disk spool would only cost I/O. What it holds is lost
// when the process ends without draining it.
type Memory struct {
	mu       sync.Mutex
	max      int64
	overflow Policy
	first    uint64 // index of recs[0]
	recs     [][]byte
	bytes    int64
	closed   bool
	changed  chan struct{}
	dropped  func(n int) // called with the records DropOldest removed (metrics, logs)
}

// NewMemory returns an empty Memory queue bounded by maxBytes. onDrop (may be nil) is told how
// many records the drop_oldest policy removed.
func NewMemory(maxBytes int64, overflow Policy, onDrop func(n int)) (*Memory, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("memory queue: bound %d: must be positive", maxBytes)
	}
	switch overflow {
	case "":
		overflow = Block
	case Block, DropOldest:
	default:
		return nil, fmt.Errorf("memory queue: overflow policy %q: want %q or %q", overflow, Block, DropOldest)
	}
	if onDrop == nil {
		onDrop = func(int) {}
	}
	return &Memory{max: maxBytes, overflow: overflow, first: 1, changed: make(chan struct{}), dropped: onDrop}, nil
}

func (m *Memory) broadcast() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// wait releases the lock until the queue changes or ctx ends; it returns with the lock held.
func (m *Memory) wait(ctx context.Context) error {
	ch := m.changed
	m.mu.Unlock()
	defer m.mu.Lock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Append queues copies of records. When they do not fit, Block waits for room until ctx ends;
// DropOldest removes the oldest records.
func (m *Memory) Append(ctx context.Context, records ...[]byte) error {
	var need int64
	for _, r := range records {
		need += int64(len(r))
	}
	if need > m.max {
		return fmt.Errorf("memory queue: %w: %d bytes, bound %d", ErrTooLarge, need, m.max)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closed {
			return ErrClosed
		}
		if m.bytes+need <= m.max {
			break
		}
		if m.overflow == DropOldest {
			n := 0
			for m.bytes+need > m.max && len(m.recs) > 0 {
				m.bytes -= int64(len(m.recs[0]))
				m.recs[0] = nil
				m.recs = m.recs[1:]
				m.first++
				n++
			}
			m.dropped(n)
			break
		}
		if err := m.wait(ctx); err != nil {
			return fmt.Errorf("memory queue full (%d bytes): %w", m.bytes, err)
		}
	}
	m.appendLocked(records)
	return nil
}

// AppendOverBound queues records whatever the bound (see Spool.AppendOverBound).
func (m *Memory) AppendOverBound(records ...[]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.appendLocked(records)
	return nil
}

func (m *Memory) appendLocked(records [][]byte) {
	for _, r := range records {
		m.recs = append(m.recs, append([]byte(nil), r...))
		m.bytes += int64(len(r))
	}
	if len(records) > 0 {
		m.broadcast()
	}
}

// ReadFrom returns up to max records (at most maxBytes of them, but at least one) from index
// from on (or the front), waiting until there is one or ctx ends.
func (m *Memory) ReadFrom(ctx context.Context, from uint64, max int, maxBytes int64) ([]Entry, error) {
	if max <= 0 {
		max = 1
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closed {
			return nil, ErrClosed
		}
		start := max64(from, m.first)
		if next := m.first + uint64(len(m.recs)); next > start {
			var out []Entry
			var total int64
			for i := start; i < next && len(out) < max; i++ {
				d := m.recs[i-m.first]
				if len(out) > 0 && maxBytes > 0 && total+int64(len(d)) > maxBytes {
					break
				}
				out = append(out, Entry{Index: i, Data: d})
				total += int64(len(d))
			}
			return out, nil
		}
		if err := m.wait(ctx); err != nil {
			return nil, err
		}
	}
}

// WaitFor returns once at least n records are held from index from on, when ctx ends or when
// the queue closes.
func (m *Memory) WaitFor(ctx context.Context, from uint64, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closed {
			return ErrClosed
		}
		if m.first+uint64(len(m.recs)) >= max64(from, m.first)+uint64(n) {
			return nil
		}
		if err := m.wait(ctx); err != nil {
			return err
		}
	}
}

// Ack removes every record up to and including index through.
func (m *Memory) Ack(through uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for len(m.recs) > 0 && m.first <= through {
		m.bytes -= int64(len(m.recs[0]))
		m.recs[0] = nil
		m.recs = m.recs[1:]
		m.first++
	}
	m.broadcast()
	return nil
}

// WaitEmpty returns once every record was acknowledged, when ctx ends (its error) or when the
// queue closes (ErrClosed, if records are left).
func (m *Memory) WaitEmpty(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.recs) > 0 {
		if m.closed {
			return ErrClosed
		}
		if err := m.wait(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of records held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs)
}

// Close wakes every waiter with ErrClosed; what is held is discarded.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		m.broadcast()
	}
	return nil
}
