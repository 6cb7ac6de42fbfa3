package shippers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers/spool"
)

// DefaultBacklogBytes bounds, per output, the alerts a Fanout holds in memory while that
// output's spool is full.
const DefaultBacklogBytes = 64 << 20

// Reason of lanner_shipper_alerts_dead_lettered_total for backlog records that could not be
// put back in the spool at shutdown (a Queue without AppendOverBound).
const reasonBacklogAtShutdown = "backlog_at_shutdown"

// FanoutOptions tunes a Fanout. The zero value is usable.
type FanoutOptions struct {
	// BacklogBytes bounds, per output, the spooled form of the alerts parked in memory while
	// the output's spool is full under the block policy. Default DefaultBacklogBytes.
	BacklogBytes int64
	// Logger nil discards; Registerer nil leaves the metrics unregistered.
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Fanout hands every alert to each output that wants it and runs one worker per output. Outputs
// share nothing but the producer: each has its own spool, worker and backlog, so a destination
// that is slow or down never holds the delivery to another.
//
// When an output's spool is full under the block policy, its alerts are parked in that output's
// in-memory backlog, in order, and a goroutine of that output alone moves them into the spool as
// its worker frees room; Enqueue does not wait for it. Only when the backlog also reaches
// BacklogBytes does Enqueue wait for that output (the block policy's promise: nothing is
// dropped) -- after every other output has taken the alerts; the wait is counted in
// lanner_shipper_producer_waits_total. A parked alert is in memory, not on disk: Close writes
// what is still parked into the spool beyond its bound (or, for a Queue that cannot, into the
// dead-letter file), so a clean shutdown loses nothing; a crash loses the parked alerts of an
// output that was already full (lanner_shipper_backlog_records says how many are at stake).
type Fanout struct {
	outputs []*Output
	lanes   []*lane
	limit   int64
	log     *slog.Logger
	// now is a context that is already done: Append with it stores or says "full" at once.
	now    context.Context
	ctx    context.Context // ends at Close: stops the backlog feeders
	cancel context.CancelFunc
	wg     sync.WaitGroup
	cs     []prometheus.Collector
	reg    prometheus.Registerer
}

// lane is one output's side of the fan-out.
type lane struct {
	o       *Output
	mu      sync.Mutex
	backlog [][]byte // spooled forms waiting for room in o's spool, oldest first
	bytes   int64
	feeding bool
	room    chan struct{} // closed (and replaced) whenever the backlog shrinks

	pending prometheus.Gauge
	parked  prometheus.Counter
	waits   prometheus.Counter
}

// NewFanout checks that output names are unique; it uses the default options.
func NewFanout(outputs ...*Output) (*Fanout, error) {
	return NewFanoutWith(FanoutOptions{}, outputs...)
}

// NewFanoutWith is NewFanout with options.
func NewFanoutWith(opts FanoutOptions, outputs ...*Output) (*Fanout, error) {
	if opts.BacklogBytes == 0 {
		opts.BacklogBytes = DefaultBacklogBytes
	}
	if opts.BacklogBytes < 0 {
		return nil, fmt.Errorf("fan-out: negative backlog bound %d", opts.BacklogBytes)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, o := range outputs {
		if seen[o.name] {
			return nil, fmt.Errorf("fan-out: two outputs named %q", o.name)
		}
		seen[o.name] = true
	}
	now, stop := context.WithCancel(context.Background())
	stop()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Fanout{outputs: outputs, limit: opts.BacklogBytes, log: opts.Logger.With("component", "fan-out"),
		now: now, ctx: ctx, cancel: cancel, reg: opts.Registerer}
	for _, o := range outputs {
		cl := prometheus.Labels{"output": o.name}
		l := &lane{o: o, room: make(chan struct{}),
			pending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "lanner", Subsystem: "shipper", Name: "backlog_records",
				Help: "Alerts held in memory because the output's spool is full (block policy); not yet on disk.", ConstLabels: cl}),
			parked: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper", Name: "backlog_parked_total",
				Help: "Alerts parked in the output's in-memory backlog because its spool was full.", ConstLabels: cl}),
			waits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper", Name: "producer_waits_total",
				Help: "Times the producer waited because the output's spool and backlog were both full.", ConstLabels: cl}),
		}
		f.lanes = append(f.lanes, l)
		f.cs = append(f.cs, l.pending, l.parked, l.waits)
	}
	if f.reg != nil {
		for i, c := range f.cs {
			if err := f.reg.Register(c); err != nil {
				for _, done := range f.cs[:i] {
					f.reg.Unregister(done)
				}
				cancel()
				return nil, fmt.Errorf("fan-out: register metrics: %w", err)
			}
		}
	}
	return f, nil
}

// Outputs returns the outputs in configuration order.
func (f *Fanout) Outputs() []*Output { return f.outputs }

// Enqueue gives recs to every output that wants them (each applies its filter). It returns once
// each such output has them in its spool, or parked in its backlog because the spool is full;
// it waits only for an output whose backlog is full too, and only after every other output has
// taken recs. The error names the outputs that did not take them (ctx ended while waiting, a
// spool error).
func (f *Fanout) Enqueue(ctx context.Context, recs ...*Record) error {
	var errs []error
	type rest struct {
		l    *lane
		data [][]byte
	}
	var waiting []rest
	for _, l := range f.lanes {
		data, err := l.o.encode(recs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left, err := f.offer(l, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(left) > 0 {
			waiting = append(waiting, rest{l, left})
		}
	}
	for _, w := range waiting {
		if err := f.wait(ctx, w.l, w.data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// offer stores data in l's spool when nothing is parked and the spool has room; otherwise it
// parks what fits in the backlog and returns the rest. It never waits.
func (f *Fanout) offer(l *lane, data [][]byte) ([][]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.backlog) == 0 {
		err := l.o.enqueueRaw(f.now, data)
		if err == nil {
			return nil, nil
		}
		// Full under the block policy, or more records at once than the spool ever holds (the
		// feeder moves them in smaller writes): park them, behind nothing, so order is kept.
		if !errors.Is(err, context.Canceled) && !(errors.Is(err, spool.ErrTooLarge) && len(data) > 1) {
			return nil, err
		}
	}
	return f.parkLocked(l, data), nil
}

// parkLocked appends to l's backlog what fits under the bound (at least one record when the
// backlog is empty, however large) and starts l's feeder. It returns what did not fit.
func (f *Fanout) parkLocked(l *lane, data [][]byte) [][]byte {
	n := 0
	for n < len(data) && (len(l.backlog) == 0 || l.bytes+int64(len(data[n])) <= f.limit) {
		l.backlog = append(l.backlog, data[n])
		l.bytes += int64(len(data[n]))
		n++
	}
	if n > 0 {
		l.parked.Add(float64(n))
		l.pending.Set(float64(len(l.backlog)))
		if !l.feeding && f.ctx.Err() == nil {
			l.feeding = true
			f.wg.Add(1)
			go f.feed(l)
		}
	}
	return data[n:]
}

// wait parks data in l's backlog as room appears, until all of it is parked or ctx ends.
func (f *Fanout) wait(ctx context.Context, l *lane, data [][]byte) error {
	l.waits.Inc()
	f.log.Warn("spool and backlog of an output are full: the producer waits for it", "output", l.o.name,
		"backlog_bytes", f.limit)
	for {
		l.mu.Lock()
		data = f.parkLocked(l, data)
		room := l.room
		l.mu.Unlock()
		if len(data) == 0 {
			return nil
		}
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("output %s: spool and backlog full, %d alerts not taken: %w", l.o.name, len(data), ctx.Err())
		}
	}
}

// feedChunk bounds one move from the backlog into the spool (one fsynced write).
const feedChunk = 64

// feed moves l's backlog into its spool, oldest first, waiting for room there; it ends when the
// backlog is empty or the fan-out is closed.
func (f *Fanout) feed(l *lane) {
	defer f.wg.Done()
	one := false // the last chunk was too large for the spool: move one record at a time
	for {
		l.mu.Lock()
		if len(l.backlog) == 0 || f.ctx.Err() != nil {
			l.feeding = false
			l.mu.Unlock()
			return
		}
		n := min(len(l.backlog), feedChunk)
		if one {
			n = 1
		}
		chunk := l.backlog[:n:n]
		l.mu.Unlock()

		err := l.o.enqueueRaw(f.ctx, chunk)
		switch {
		case err == nil:
			one = false
		case f.ctx.Err() != nil:
			l.mu.Lock()
			l.feeding = false
			l.mu.Unlock()
			return
		case errors.Is(err, spool.ErrTooLarge) && n > 1:
			one = true
			continue
		case errors.Is(err, spool.ErrTooLarge):
			// One record larger than the whole spool can never be spooled: it goes where
			// records the destination refuses go, with the reason.
			f.deadLetter(l, chunk, "larger_than_spool")
		default:
			// The spool is closed or failing: leave the backlog for Close.
			f.log.Error("cannot move parked alerts into the spool", "output", l.o.name, "parked", len(l.backlog), "err", err)
			l.mu.Lock()
			l.feeding = false
			l.mu.Unlock()
			return
		}
		l.mu.Lock()
		for i := range n {
			l.bytes -= int64(len(l.backlog[i]))
			l.backlog[i] = nil
		}
		l.backlog = l.backlog[n:]
		l.pending.Set(float64(len(l.backlog)))
		close(l.room)
		l.room = make(chan struct{})
		l.mu.Unlock()
	}
}

func (f *Fanout) deadLetter(l *lane, raw [][]byte, reason string) {
	items := make([]dlqItem, 0, len(raw))
	for _, b := range raw {
		id, shown := spooledForHuman(b)
		items = append(items, dlqItem{id: id, raw: shown, reason: reason})
	}
	l.o.deadLetter(items, reason)
}

// Run runs every output's worker until ctx ends, and returns their errors joined.
func (f *Fanout) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(f.outputs))
	for i, o := range f.outputs {
		wg.Go(func() { errs[i] = o.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// overBound is a Queue that can store records beyond its bound (spool.Spool).
type overBound interface {
	AppendOverBound(records ...[]byte) error
}

// Close stops the backlog feeders, puts what is still parked into each output's spool beyond
// its bound (the next start delivers it; a Queue that cannot gets it in the dead-letter file
// instead), then closes every output. Call it after Run has returned.
func (f *Fanout) Close() error {
	f.cancel()
	f.wg.Wait()
	var errs []error
	for _, l := range f.lanes {
		l.mu.Lock()
		parked := l.backlog
		l.backlog, l.bytes = nil, 0
		l.pending.Set(0)
		l.mu.Unlock()
		if len(parked) == 0 {
			continue
		}
		if q, ok := l.o.q.(overBound); ok {
			if err := q.AppendOverBound(parked...); err == nil {
				l.o.m.enqueued.Add(float64(len(parked)))
				f.log.Warn("output's spool was full at shutdown: parked alerts written beyond its bound", "output", l.o.name, "alerts", len(parked))
				continue
			} else {
				errs = append(errs, fmt.Errorf("output %s: spool %d parked alerts: %w", l.o.name, len(parked), err))
			}
		}
		f.deadLetter(l, parked, reasonBacklogAtShutdown)
		f.log.Error("output's spool could not take its parked alerts at shutdown: dead-lettered", "output", l.o.name, "alerts", len(parked))
	}
	for _, o := range f.outputs {
		errs = append(errs, o.Close())
	}
	if f.reg != nil {
		for _, c := range f.cs {
			f.reg.Unregister(c)
		}
	}
	return errors.Join(errs...)
}
