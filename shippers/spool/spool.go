package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/wal"
)

// Policy is what Append does when the spool is full.
type Policy string

const (
	// Block makes Append wait until the worker has freed room (or its context ends). Nothing is
	// ever lost; the producer is slowed to the destination's pace.
	Block Policy = "block"
	// DropOldest removes the oldest records to make room, counts and logs them.
	DropOldest Policy = "drop_oldest"
)

// Reasons for lanner_spool_dropped_records_total.
const (
	reasonOverflow = "overflow"
)

// Options configure a spool. The zero value of each field means its default.
type Options struct {
	// Name is the output the spool belongs to: the `output` label of its metrics.
	Name string `yaml:"-"`
	// MaxBytes bounds the records held (payload bytes). Default 256 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// Overflow is the policy when MaxBytes would be exceeded. Default Block.
	Overflow Policy `yaml:"overflow"`
	// SegmentBytes is the size of one log file. An acknowledgement rewrites what remains of the
	// first segment, so small segments keep acknowledgements cheap. Default 1 MiB.
	SegmentBytes int `yaml:"segment_bytes"`
	// NoSync skips the fsync after each Append: faster, but a power cut (not a process crash)
	// can lose the last appends. Default false.
	NoSync bool `yaml:"no_sync"`
}

const (
	defaultMaxBytes     = 256 << 20
	defaultSegmentBytes = 1 << 20
	// crcLen is the CRC-32C that precedes every payload in the log: tidwall/wal frames entries
	// by length only, so a flipped bit inside a record would otherwise go unnoticed.
	crcLen = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by operations on a closed spool.
var ErrClosed = errors.New("spool closed")

// ErrTooLarge is returned by Append for a record that could never fit in the spool.
var ErrTooLarge = errors.New("record larger than the spool")

// Spool is one output's durable queue. Append may be called from any goroutine; Read and Ack
// belong to the one worker that drains the spool (a second reader would see the same records).
type Spool struct {
	dir    string
	opts   Options
	logger *slog.Logger
	m      *metrics

	mu      sync.Mutex
	log     *wal.Log
	first   uint64  // index of the oldest record held
	next    uint64  // index the next Append writes
	sizes   []int64 // payload sizes of records first..next-1
	bytes   int64
	closed  bool
	changed chan struct{} // closed and replaced whenever records are added, removed or the spool closes
	batch   wal.Batch     // reused by every Append
	rec     []byte        // checksum and record, reused by every Append
}

// Bounds of the memory an idle spool keeps for its next Append.
const (
	maxKeptBatch  = 8 << 20
	maxKeptRecord = 1 << 20
)

// Open opens (or creates) the spool in dir and recovers what a previous run left there.
func Open(dir string, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("spool: max bytes %d is negative", opts.MaxBytes)
	}
	if opts.SegmentBytes == 0 {
		opts.SegmentBytes = defaultSegmentBytes
	}
	if opts.SegmentBytes < 0 {
		return nil, fmt.Errorf("spool: segment bytes %d is negative", opts.SegmentBytes)
	}
	switch opts.Overflow {
	case "":
		opts.Overflow = Block
	case Block, DropOldest:
	default:
		return nil, fmt.Errorf("spool: overflow policy %q: want %q or %q", opts.Overflow, Block, DropOldest)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "spool", "output", opts.Name, "dir", dir)
	m, err := newMetrics(opts.Name, reg)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts, logger: logger, m: m, changed: make(chan struct{})}
	m.capacity.Set(float64(opts.MaxBytes))
	if err := os.MkdirAll(dir, 0o750); err != nil {
		m.unregister()
		return nil, fmt.Errorf("spool: create %s: %w", dir, err)
	}
	if err := s.open(); err != nil {
		m.unregister()
		return nil, err
	}
	return s, nil
}

func (s *Spool) walOptions() *wal.Options {
	// NoCopy: a read returns the log's own bytes rather than a copy of each record (Entry.Data
	// is read-only); the log never rewrites bytes it has handed out.
	return &wal.Options{NoSync: s.opts.NoSync, SegmentSize: s.opts.SegmentBytes, LogFormat: wal.Binary,
		SegmentCacheSize: 2, AllowEmpty: true, NoCopy: true, DirPerms: 0o750, FilePerms: 0o640}
}

// open opens the log, repairing it once if it does not open, and loads the record sizes.
func (s *Spool) open() error {
	l, err := wal.Open(s.dir, s.walOptions())
	if err != nil {
		s.logger.Error("spool log does not open; repairing it", "err", err)
		n, rerr := repair(s.dir, s.logger)
		s.m.corrupt.Add(float64(n))
		if rerr != nil {
			return fmt.Errorf("spool: repair %s: %w", s.dir, rerr)
		}
		l, err = wal.Open(s.dir, s.walOptions())
		if err != nil {
			// Unrepairable: keep the files for a human, start empty rather than stop lanner.
			aside, merr := moveAside(s.dir, "unopenable")
			if merr != nil {
				return fmt.Errorf("spool: open %s: %w (and moving it aside failed: %v)", s.dir, err, merr)
			}
			s.logger.Error("spool log could not be repaired: moved aside, starting empty", "moved_to", aside, "err", err)
			s.m.corrupt.Inc()
			if l, err = wal.Open(s.dir, s.walOptions()); err != nil {
				return fmt.Errorf("spool: open %s: %w", s.dir, err)
			}
		}
	}
	first, err := l.FirstIndex()
	if err == nil {
		var last uint64
		last, err = l.LastIndex()
		if err == nil {
			s.log, s.first, s.next = l, first, last+1
		}
	}
	if err != nil {
		l.Close()
		return fmt.Errorf("spool: open %s: %w", s.dir, err)
	}
	// Sizes of the records held, for the byte bound; a record that cannot be read is kept in
	// place here and moved aside when the worker reaches it.
	s.sizes = make([]int64, 0, s.next-s.first)
	for i := s.first; i < s.next; i++ {
		var n int64
		if data, err := l.Read(i); err == nil {
			n = int64(len(data))
		}
		s.sizes = append(s.sizes, n)
		s.bytes += n
	}
	s.updateGauges()
	s.logger.Info(fmt.Sprintf("recovered %d alerts from spool", s.next-s.first), "records", s.next-s.first, "bytes", s.bytes)
	s.m.recovered.Add(float64(s.next - s.first))
	return nil
}

func (s *Spool) updateGauges() {
	s.m.records.Set(float64(s.next - s.first))
	s.m.bytes.Set(float64(s.bytes))
}

// broadcast wakes every waiter; the caller holds s.mu.
func (s *Spool) broadcast() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Len returns the number of records held.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.next - s.first)
}

// Bytes returns the payload bytes held.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Append stores records durably (one log write, fsynced unless NoSync) and returns once they
// are on disk: from then on they survive a crash. When the spool is full, the overflow policy
// applies; under Block, Append waits until ctx ends (returning its error, nothing stored).
func (s *Spool) Append(ctx context.Context, records ...[]byte) error {
	if len(records) == 0 {
		return nil
	}
	var need int64
	for _, r := range records {
		need += int64(len(r))
	}
	if need > s.opts.MaxBytes {
		return fmt.Errorf("spool: %w: %d bytes, bound %d", ErrTooLarge, need, s.opts.MaxBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return ErrClosed
		}
		if s.bytes+need <= s.opts.MaxBytes {
			break
		}
		if s.opts.Overflow == DropOldest {
			if err := s.dropOldestLocked(need); err != nil {
				return err
			}
			break
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return fmt.Errorf("spool full (%d bytes): %w", s.bytes, ctx.Err())
		}
	}
	return s.writeLocked(records)
}

// AppendOverBound stores records durably like Append but ignores MaxBytes and the overflow
// policy. It is for a caller that already accepted these records and has nowhere else to keep
// them (the fan-out's in-memory backlog at shutdown): exceeding the bound by that backlog is
// better than losing it. The next Append waits (or drops) until the spool is under its bound.
func (s *Spool) AppendOverBound(records ...[]byte) error {
	if len(records) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.writeLocked(records)
}

func (s *Spool) writeLocked(records [][]byte) error {
	// One batch and one record buffer serve every Append (under s.mu): a batch of records is
	// hundreds of kilobytes, and growing new ones each time was most of what an Append cost.
	b := &s.batch
	b.Clear()
	for i, r := range records {
		s.rec = binary.LittleEndian.AppendUint32(s.rec[:0], crc32.Checksum(r, castagnoli))
		s.rec = append(s.rec, r...)
		b.Write(s.next+uint64(i), s.rec)
	}
	err := s.log.WriteBatch(b)
	if len(s.rec) > maxKeptRecord {
		s.rec = nil
	}
	var n int64
	for _, r := range records {
		n += int64(len(r))
	}
	if n > maxKeptBatch {
		s.batch = wal.Batch{} // keep no more than a usual batch's memory between Appends
	}
	if err != nil {
		return fmt.Errorf("spool: append %d records: %w", len(records), err)
	}
	for _, r := range records {
		s.sizes = append(s.sizes, int64(len(r)))
		s.bytes += int64(len(r))
	}
	s.next += uint64(len(records))
	s.updateGauges()
	s.broadcast()
	return nil
}

// dropOldestLocked removes records from the front until need more bytes fit.
func (s *Spool) dropOldestLocked(need int64) error {
	var n uint64
	var freed int64
	for s.bytes-freed+need > s.opts.MaxBytes && n < uint64(len(s.sizes)) {
		freed += s.sizes[n]
		n++
	}
	if err := s.truncateLocked(s.first + n); err != nil {
		return fmt.Errorf("spool: drop %d oldest records: %w", n, err)
	}
	s.m.dropped.WithLabelValues(reasonOverflow).Add(float64(n))
	s.logger.Warn("spool full: dropped oldest alerts", "dropped", n, "bytes", freed, "max_bytes", s.opts.MaxBytes)
	return nil
}

// truncateLocked removes records before index upto.
func (s *Spool) truncateLocked(upto uint64) error {
	if upto <= s.first {
		return nil
	}
	if upto > s.next {
		upto = s.next
	}
	if err := s.log.TruncateFront(upto); err != nil {
		return err
	}
	n := upto - s.first
	for _, sz := range s.sizes[:n] {
		s.bytes -= sz
	}
	s.sizes = s.sizes[n:]
	s.first = upto
	s.updateGauges()
	s.broadcast()
	return nil
}

// Entry is one record read from the spool.
type Entry struct {
	// Index is the record's position in the spool; acknowledge through the last one read.
	Index uint64
	// Data is the record; it may share memory with the spool's log and must not be modified.
	Data []byte
	// Err is set on a damaged record handed out only so that it can be acknowledged in
	// order (see ReadFrom); Data then holds its raw bytes.
	Err error
}

// Read returns up to max records (and at most maxBytes of payload, but always at least one)
// from the front of the spool, waiting until there is one or ctx ends. Records stay in the
// spool until acknowledged, so reading twice without Ack returns the same records. A record
// that fails its checksum or cannot be read is moved to corrupt/ and counted, and is not
// returned.
func (s *Spool) Read(ctx context.Context, max int, maxBytes int64) ([]Entry, error) {
	return s.ReadFrom(ctx, 0, max, maxBytes)
}

// ReadFrom is Read starting at index from (or at the front, when from is before it), so that a
// worker can read ahead of batches it has not acknowledged yet. A damaged record that is not
// at the front is returned with Err set (and counted, and copied into corrupt/): it cannot be
// cut out of the middle of the log, so the worker disposes of it and acknowledges it in order.
func (s *Spool) ReadFrom(ctx context.Context, from uint64, max int, maxBytes int64) ([]Entry, error) {
	if max <= 0 {
		max = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil, ErrClosed
		}
		if s.next > max64(from, s.first) {
			out, err := s.readLocked(max64(from, s.first), max, maxBytes)
			if err != nil || len(out) > 0 {
				return out, err
			}
			continue // everything at the front was corrupt and moved aside
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return nil, ctx.Err()
		}
	}
}

func max64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

func (s *Spool) readLocked(from uint64, max int, maxBytes int64) ([]Entry, error) {
	var out []Entry
	var total int64
	for i := from; i < s.next && len(out) < max; i++ {
		raw, err := s.log.Read(i)
		var data []byte
		if err == nil {
			if len(raw) < crcLen {
				err = fmt.Errorf("record of %d bytes has no checksum", len(raw))
			} else if sum := crc32.Checksum(raw[crcLen:], castagnoli); sum != binary.LittleEndian.Uint32(raw) {
				err = errors.New("checksum mismatch")
			} else {
				data = raw[crcLen:]
			}
		}
		if err != nil {
			if len(out) > 0 {
				break // hand over what is good; the bad one comes first next time
			}
			if i == s.first {
				if qerr := s.quarantineLocked(i, raw, err); qerr != nil {
					return nil, qerr
				}
				continue
			}
			s.saveCorruptLocked(i, raw, err)
			return []Entry{{Index: i, Data: raw, Err: err}}, nil
		}
		if len(out) > 0 && maxBytes > 0 && total+int64(len(data)) > maxBytes {
			break
		}
		out = append(out, Entry{Index: i, Data: data})
		total += int64(len(data))
	}
	return out, nil
}

// saveCorruptLocked copies a damaged record into corrupt/ and counts it.
func (s *Spool) saveCorruptLocked(i uint64, raw []byte, why error) string {
	dir := filepath.Join(s.dir, "corrupt")
	path := filepath.Join(dir, fmt.Sprintf("record-%020d-%d", i, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o750); err == nil {
		if werr := os.WriteFile(path, raw, 0o640); werr != nil {
			s.logger.Error("could not save a corrupt record", "index", i, "err", werr)
		}
	}
	s.m.corrupt.Inc()
	s.logger.Error("corrupt record moved aside", "index", i, "reason", why, "path", path)
	return path
}

// quarantineLocked moves the unreadable record at the front (index i) into corrupt/ with the
// reason, and removes it from the log.
func (s *Spool) quarantineLocked(i uint64, raw []byte, why error) error {
	s.saveCorruptLocked(i, raw, why)
	if err := s.truncateLocked(i + 1); err != nil {
		return fmt.Errorf("spool: drop corrupt record %d: %w", i, err)
	}
	return nil
}

// Ack removes every record up to and including index through: the destination has them. Acks
// of records already removed (dropped on overflow, acknowledged before) are ignored.
func (s *Spool) Ack(through uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if err := s.truncateLocked(through + 1); err != nil {
		return fmt.Errorf("spool: acknowledge through %d: %w", through, err)
	}
	return nil
}

// Close closes the log. Records not acknowledged stay on disk for the next Open. Waiters in
// Append and Read return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.broadcast()
	s.m.unregister()
	if err := s.log.Close(); err != nil && !errors.Is(err, wal.ErrClosed) {
		return fmt.Errorf("spool: close %s: %w", s.dir, err)
	}
	return nil
}

var _ io.Closer = (*Spool)(nil)

// DroppedCounter and CorruptCounter expose the counters for tests of this package and its
// users (testutil.ToFloat64).
func (s *Spool) DroppedCounter() prometheus.Counter {
	return s.m.dropped.WithLabelValues(reasonOverflow)
}

// CorruptCounter returns lanner_spool_corrupt_records_total of this spool.
func (s *Spool) CorruptCounter() prometheus.Counter { return s.m.corrupt }

// WaitFor returns once at least n records are held from index from on (or the front), when ctx
// ends (its error), or when the spool closes: a worker with a partial batch uses it to wait,
// up to its flush interval, for the batch to fill.
func (s *Spool) WaitFor(ctx context.Context, from uint64, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return ErrClosed
		}
		if s.next >= max64(from, s.first)+uint64(n) {
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
			s.mu.Lock()
		case <-ctx.Done():
			s.mu.Lock()
			return ctx.Err()
		}
	}
}
