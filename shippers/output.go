package shippers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers/spool"
)

// Queue is the durable queue an Output drains (shippers/spool implements it). Append with a
// context that is already done must not wait: it stores the records when there is room and
// otherwise returns an error wrapping the context's error (Fanout relies on this to learn that
// a spool under the block policy is full without waiting for it).
type Queue interface {
	Append(ctx context.Context, records ...[]byte) error
	ReadFrom(ctx context.Context, from uint64, max int, maxBytes int64) ([]spool.Entry, error)
	WaitFor(ctx context.Context, from uint64, n int) error
	Ack(through uint64) error
	Close() error
}

// OutputConfig is what every output has, whatever its destination.
type OutputConfig struct {
	// Name identifies the output in logs and metrics (the `output` label).
	Name string `yaml:"name"`
	// Filter chooses the alerts the output receives.
	Filter FilterConfig `yaml:"filter"`
	// Backoff shapes retries.
	Backoff BackoffConfig `yaml:"backoff"`
	// BatchSize is the most records handed to one Send (default 500).
	BatchSize int `yaml:"batch_size"`
	// BatchBytes is the most payload bytes handed to one Send (default 5 MiB).
	BatchBytes int64 `yaml:"batch_bytes"`
	// FlushInterval: when fewer than BatchSize records wait, the worker waits up to this long
	// for the batch to fill before sending, so a trickle of alerts makes few requests (0: send
	// at once).
	FlushInterval time.Duration `yaml:"flush_interval"`
	// InFlight is how many batches may be in delivery at once (default 1). More keep a
	// destination busy while the next batch is read and encoded; acknowledgements stay in
	// spool order whatever order the batches finish in. The shipper's Send must then be safe
	// for concurrent use.
	InFlight int `yaml:"in_flight"`
	// DeadLetterFile receives records the destination rejects for good, one JSON line each
	// with the reason (default: deadletter.jsonl in the spool's directory).
	DeadLetterFile string `yaml:"dead_letter_file"`
}

// Output joins one spool to one shipper: Enqueue stores alerts durably, Run sends them, retrying
// until the destination has each one or has rejected it for good (then it is dead-lettered).
type Output struct {
	name    string
	q       Queue
	s       Shipper
	prep    Preparer // s, when it spools its own form; nil otherwise
	filter  *Filter
	backoff BackoffConfig
	batch   int
	bytes   int64
	linger  time.Duration
	flights int
	dlq     *deadLetter
	logger  *slog.Logger
	m       *outputMetrics
	rnd     func() float64
	// sleep waits d or until ctx ends; tests replace it to run without real time.
	sleep func(ctx context.Context, d time.Duration) error

	healthMu     sync.Mutex
	failingSince time.Time // zero while the last attempt succeeded
	lastErr      error
}

// Healthy reports whether the destination takes alerts: nil unless the most recent delivery
// attempt failed, then an error saying since when and why. Alerts keep being spooled either
// way; readiness probes use this to show an output that is down.
func (o *Output) Healthy() error {
	o.healthMu.Lock()
	defer o.healthMu.Unlock()
	if o.failingSince.IsZero() {
		return nil
	}
	return fmt.Errorf("output %s failing since %s: %w", o.name, o.failingSince.UTC().Format(time.RFC3339), o.lastErr)
}

func (o *Output) setHealth(err error) {
	o.healthMu.Lock()
	defer o.healthMu.Unlock()
	if err == nil {
		o.failingSince, o.lastErr = time.Time{}, nil
		return
	}
	if o.failingSince.IsZero() {
		o.failingSince = time.Now()
	}
	o.lastErr = err
}

// NewOutput checks cfg and builds an output over q and s. The Output owns both from now on:
// Close closes them. reg may be nil (no metrics); logger may be nil (discard).
func NewOutput(cfg OutputConfig, q Queue, s Shipper, logger *slog.Logger, reg prometheus.Registerer) (*Output, error) {
	if cfg.Name == "" {
		return nil, errors.New("output: no name")
	}
	if q == nil || s == nil {
		return nil, fmt.Errorf("output %s: queue and shipper are required", cfg.Name)
	}
	f, err := NewFilter(cfg.Filter)
	if err != nil {
		return nil, fmt.Errorf("output %s: filter: %w", cfg.Name, err)
	}
	if err := cfg.Backoff.Validate(); err != nil {
		return nil, fmt.Errorf("output %s: %w", cfg.Name, err)
	}
	if cfg.BatchSize < 0 || cfg.BatchBytes < 0 {
		return nil, fmt.Errorf("output %s: negative batch_size or batch_bytes", cfg.Name)
	}
	if cfg.InFlight < 0 || cfg.InFlight > 64 {
		return nil, fmt.Errorf("output %s: in_flight %d: want 1 to 64", cfg.Name, cfg.InFlight)
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = 1
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 5 << 20
	}
	if cfg.DeadLetterFile == "" {
		return nil, fmt.Errorf("output %s: no dead_letter_file", cfg.Name)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newOutputMetrics(cfg.Name, reg)
	if err != nil {
		return nil, err
	}
	prep, _ := s.(Preparer)
	return &Output{name: cfg.Name, q: q, s: s, prep: prep, filter: f, backoff: cfg.Backoff.withDefaults(),
		batch: cfg.BatchSize, bytes: cfg.BatchBytes, linger: cfg.FlushInterval, flights: cfg.InFlight, dlq: &deadLetter{path: cfg.DeadLetterFile, output: cfg.Name},
		logger: logger.With("component", "shipper", "output", cfg.Name), m: m, rnd: defaultRand, sleep: sleepCtx}, nil
}

// Name returns the output's name.
func (o *Output) Name() string { return o.name }

// Wants reports whether the output's filter takes the record.
func (o *Output) Wants(r *Record) bool { return o.filter.Match(r.Alert) }

// Enqueue stores the records the filter accepts in the spool. When it returns nil they are on
// disk and will be delivered (or dead-lettered) even if lanner is killed now.
func (o *Output) Enqueue(ctx context.Context, recs ...*Record) error {
	data, err := o.encode(recs)
	if err != nil {
		return err
	}
	return o.enqueueRaw(ctx, data)
}

// encode returns the spooled form of the records the filter accepts.
func (o *Output) encode(recs []*Record) ([][]byte, error) {
	data := make([][]byte, 0, len(recs))
	var scratch []byte
	for _, r := range recs {
		if !o.filter.Match(r.Alert) {
			continue
		}
		if o.prep != nil {
			// The shipper's own form, framed with the id the worker needs without decoding it,
			// built in a scratch buffer and kept in one exact-size copy. An alert the shipper
			// cannot prepare is spooled in the generic form: the worker tries again and
			// dead-letters it with the reason, so it is never lost silently.
			b, err := o.prep.Prepare(appendPreparedHeader(scratch[:0], r.ID), r)
			if err == nil {
				scratch = b
				data = append(data, bytes.Clone(b))
				continue
			}
			o.logger.Warn("cannot prepare alert; spooling it as a record", "id", r.ID, "err", err)
		}
		b, err := r.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", o.name, err)
		}
		data = append(data, b)
	}
	return data, nil
}

func (o *Output) enqueueRaw(ctx context.Context, data [][]byte) error {
	if len(data) == 0 {
		return nil
	}
	if err := o.q.Append(ctx, data...); err != nil {
		return fmt.Errorf("output %s: spool: %w", o.name, err)
	}
	o.m.enqueued.Add(float64(len(data)))
	return nil
}

// Run delivers spooled records until ctx ends; it returns nil then, leaving what is not yet
// delivered in the spool for the next start. It is the only place where lanner retries: a
// batch is acknowledged (removed from the spool) only when every record in it was delivered,
// found already delivered, or dead-lettered, and only after every batch before it was.
//
// One goroutine reads batches ahead from the spool, InFlight goroutines deliver them, and this
// one acknowledges them in spool order.
func (o *Output) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type flight struct {
		seq     int
		entries []spool.Entry
		err     error
	}
	batches := make(chan *flight)
	done := make(chan *flight, o.flights)
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() { // reader
		defer close(batches)
		var next uint64
		for seq := 0; ; seq++ {
			entries, err := o.read(ctx, next)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, spool.ErrClosed) {
					readErr = err
					cancel()
				}
				return
			}
			next = entries[len(entries)-1].Index + 1
			select {
			case batches <- &flight{seq: seq, entries: entries}:
			case <-ctx.Done():
				return
			}
		}
	})
	for range o.flights { // senders
		wg.Go(func() {
			for f := range batches {
				f.err = o.deliver(ctx, f.entries)
				done <- f
				if f.err != nil {
					return
				}
			}
		})
	}
	// Acknowledge in order.
	var ackErr error
	finished := map[int]*flight{}
	want := 0
loop:
	for {
		select {
		case f := <-done:
			if f.err != nil {
				break loop // ctx ended mid-delivery: leave the batch in the spool
			}
			finished[f.seq] = f
			for g, ok := finished[want]; ok; g, ok = finished[want] {
				delete(finished, want)
				want++
				if err := o.q.Ack(g.entries[len(g.entries)-1].Index); err != nil {
					ackErr = fmt.Errorf("output %s: acknowledge: %w", o.name, err)
					break loop
				}
			}
		case <-ctx.Done():
			break loop
		}
	}
	cancel()
	go func() { // let senders blocked on done finish
		for range done {
		}
	}()
	wg.Wait()
	close(done)
	if ackErr != nil {
		return ackErr
	}
	if readErr != nil {
		return fmt.Errorf("output %s: read spool: %w", o.name, readErr)
	}
	return nil
}

// read returns the next batch from index next, waiting up to FlushInterval for a full one.
func (o *Output) read(ctx context.Context, next uint64) ([]spool.Entry, error) {
	entries, err := o.q.ReadFrom(ctx, next, o.batch, o.bytes)
	if err != nil || len(entries) >= o.batch || o.linger <= 0 || bytesFull(entries, o.bytes) {
		return entries, err
	}
	// A partial batch: give the producer up to the flush interval to fill it (a fast producer
	// fills it at once). Reading does not consume, so reading again returns the same records
	// and what arrived meanwhile.
	wctx, cancel := context.WithTimeout(ctx, o.linger)
	err = o.q.WaitFor(wctx, next, o.batch)
	cancel()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	return o.q.ReadFrom(ctx, next, o.batch, o.bytes)
}

// pending is what is left to deliver of one batch, in spool order: each record's id and spooled
// bytes (for the dead-letter file), and the records in the form the shipper takes -- recs for
// Send, or preps for a Preparer's SendPrepared.
type pending struct {
	ids   []string
	raw   [][]byte
	recs  Batch
	preps []Prepared
}

// keep drops the settled records.
func (p *pending) keep(settled []bool) {
	p.ids = keepUnsettled(p.ids, settled)
	p.raw = keepUnsettled(p.raw, settled)
	if p.recs != nil {
		p.recs = keepUnsettled(p.recs, settled)
	}
	if p.preps != nil {
		p.preps = keepUnsettled(p.preps, settled)
	}
}

func keepUnsettled[T any](s []T, settled []bool) []T {
	out := s[:0]
	for i, v := range s {
		if !settled[i] {
			out = append(out, v)
		}
	}
	clear(s[len(out):])
	return out
}

// decode turns spooled entries into what the shipper sends; what cannot be read is
// dead-lettered (it would otherwise block the queue forever).
func (o *Output) decode(entries []spool.Entry) *pending {
	p := &pending{ids: make([]string, 0, len(entries)), raw: make([][]byte, 0, len(entries))}
	if o.prep != nil {
		p.preps = make([]Prepared, 0, len(entries))
	} else {
		p.recs = make(Batch, 0, len(entries))
	}
	for _, e := range entries {
		if e.Err != nil {
			o.deadLetter([]dlqItem{{raw: e.Data, reason: "damaged spool record: " + e.Err.Error()}}, reasonUndecodable)
			continue
		}
		if o.prep != nil {
			pr, err := parsePrepared(e.Data)
			if errors.Is(err, errNotPrepared) {
				// Spooled in the generic form (by an earlier lanner): prepare it now.
				pr, err = o.prepareGeneric(e.Data)
			}
			if err != nil {
				o.deadLetter([]dlqItem{{raw: e.Data, reason: "undecodable spool record: " + err.Error()}}, reasonUndecodable)
				continue
			}
			p.ids = append(p.ids, pr.ID)
			p.raw = append(p.raw, pr.Data)
			p.preps = append(p.preps, pr)
			continue
		}
		r, err := UnmarshalRecord(e.Data)
		if err != nil {
			// Written by a lanner this one cannot read (or damaged past the CRC): keep it for a
			// human, never block the queue behind it.
			o.deadLetter([]dlqItem{{raw: e.Data, reason: "undecodable spool record: " + err.Error()}}, reasonUndecodable)
			continue
		}
		p.ids = append(p.ids, r.ID)
		p.raw = append(p.raw, e.Data)
		p.recs = append(p.recs, r)
	}
	return p
}

func (o *Output) prepareGeneric(data []byte) (Prepared, error) {
	r, err := UnmarshalRecord(data)
	if err != nil {
		return Prepared{}, err
	}
	b, err := o.prep.Prepare(nil, r)
	if err != nil {
		return Prepared{}, fmt.Errorf("prepare alert %s: %w", r.ID, err)
	}
	return Prepared{ID: r.ID, Data: b}, nil
}

// bytesFull reports whether a batch is full by size: one more record of its average size would
// pass the byte bound, so waiting for more records to arrive would not make it larger.
func bytesFull(entries []spool.Entry, limit int64) bool {
	var n int64
	for _, e := range entries {
		n += int64(len(e.Data))
	}
	return limit > 0 && n+n/int64(len(entries)) > limit
}

// deliver sends entries until none is left to retry, or ctx ends (error).
func (o *Output) deliver(ctx context.Context, entries []spool.Entry) error {
	p := o.decode(entries)
	for attempt := 0; len(p.ids) > 0; attempt++ {
		if attempt > 0 {
			o.m.retried.Add(float64(len(p.ids)))
		}
		start := time.Now()
		var err error
		if o.prep != nil {
			err = o.prep.SendPrepared(ctx, p.preps)
		} else {
			err = o.s.Send(ctx, p.recs)
		}
		o.m.latency.Observe(time.Since(start).Seconds())
		var pe0 *PartialError
		if err == nil || (errors.As(err, &pe0) && len(pe0.Retry) == 0) {
			o.setHealth(nil)
		} else if ctx.Err() == nil {
			o.setHealth(err)
		}
		if err == nil {
			o.m.sent.Add(float64(len(p.ids)))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var retryAfter time.Duration
		var pe *PartialError
		var re *RecoverableError
		switch {
		case errors.As(err, &pe):
			o.applyPartial(p, pe)
			retryAfter = pe.RetryAfter
			if len(p.ids) == 0 {
				return nil
			}
			o.m.failed.Add(float64(len(p.ids)))
			o.logger.Warn("some alerts not delivered; retrying them", "retry", len(p.ids), "attempt", attempt+1, "err", err)
		case errors.As(err, &re):
			retryAfter = re.RetryAfter
			o.m.failed.Add(float64(len(p.ids)))
			o.logger.Warn("delivery failed; retrying", "alerts", len(p.ids), "attempt", attempt+1, "err", err)
		default:
			// Not known to be transient (authentication, a bad request): alerts have no TTL, so
			// keep trying, but say it loudly -- a person probably has to act.
			o.m.failed.Add(float64(len(p.ids)))
			o.logger.Error("delivery failed; retrying", "alerts", len(p.ids), "attempt", attempt+1, "err", err)
		}
		d := o.backoff.wait(attempt+1, retryAfter, o.rnd)
		if err := o.sleep(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// applyPartial counts and removes what the destination settled, dead-letters the rejected, and
// leaves in p the records still to send, in order.
func (o *Output) applyPartial(p *pending, pe *PartialError) {
	n := len(p.ids)
	settled := make([]bool, n)
	mark := func(idx []int) int {
		k := 0
		for _, i := range idx {
			if i >= 0 && i < n && !settled[i] {
				settled[i] = true
				k++
			}
		}
		return k
	}
	o.m.sent.Add(float64(mark(pe.Accepted)))
	o.m.duplicates.Add(float64(mark(pe.Duplicates)))
	var dl []dlqItem
	for k, i := range pe.Rejected {
		if i < 0 || i >= n || settled[i] {
			continue
		}
		settled[i] = true
		reason := "rejected"
		if k < len(pe.RejectErrs) && pe.RejectErrs[k] != nil {
			reason = pe.RejectErrs[k].Error()
		}
		dl = append(dl, dlqItem{id: p.ids[i], raw: p.raw[i], reason: reason})
	}
	if len(dl) > 0 {
		o.deadLetter(dl, reasonRejected)
	}
	p.keep(settled)
}

func (o *Output) deadLetter(items []dlqItem, reason string) {
	if err := o.dlq.write(items); err != nil {
		// The dead-letter file is the last resort: if it cannot be written, the records are
		// gone; say so with their ids so a person can find them at the destination's side.
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.id
		}
		o.logger.Error("could not write the dead-letter file; alerts lost", "path", o.dlq.path, "ids", ids, "err", err)
	}
	o.m.deadLettered.WithLabelValues(reason).Add(float64(len(items)))
	for _, it := range items {
		o.logger.Error("alert rejected by the destination: written to the dead-letter file",
			"id", it.id, "reason", it.reason, "path", o.dlq.path)
	}
}

// Close closes the shipper and the spool. Call it after Run has returned.
func (o *Output) Close() error {
	err := errors.Join(o.s.Close(), o.q.Close())
	o.m.unregister()
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deadLetter appends rejected records to a JSON-lines file: what was rejected, when, and why.
type deadLetter struct {
	mu     sync.Mutex
	path   string
	output string
}

type dlqItem struct {
	id     string
	raw    []byte
	reason string
}

func (d *deadLetter) write(items []dlqItem) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
		return err
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	var buf []byte
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, it := range items {
		rec := json.RawMessage(it.raw)
		if !json.Valid(it.raw) {
			b, _ := json.Marshal(string(it.raw))
			rec = b
		}
		line, err := json.Marshal(struct {
			Time   string          `json:"time"`
			Output string          `json:"output"`
			ID     string          `json:"id,omitempty"`
			Reason string          `json:"reason"`
			Record json.RawMessage `json:"record"`
		}{now, d.output, it.id, it.reason, rec})
		if err != nil {
			f.Close()
			return err
		}
		buf = append(append(buf, line...), '\n')
	}
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
