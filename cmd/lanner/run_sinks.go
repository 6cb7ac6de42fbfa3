package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/chain"
	"github.com/lannersec/lanner/shippers/elasticsearch"
	"github.com/lannersec/lanner/shippers/fluentd"
	"github.com/lannersec/lanner/shippers/spool"
	"github.com/lannersec/lanner/shippers/stdout"
)

// alertSink is one destination of alerts. Write is called for every alert, from the syscall
// and the audit goroutines, serialized by the alertRouter. An alert is built for each match and
// no sink changes it, so a sink may keep it past Write (the fan-out's group commit does). A sink
// that forwards to a remote destination stores the alert durably (in Write, or in its group
// commit) and delivers it from its own goroutine (Run), so a slow destination never stalls
// capture beyond what its overflow policy says.
type alertSink interface {
	Name() string
	Write(ctx context.Context, a *alert.Alert, r *engine.Rule) error
	// Run delivers until ctx ends (nil at once for sinks that write synchronously).
	Run(ctx context.Context) error
	// Flush pushes what Write buffered; called at shutdown, after the sources stopped.
	Flush() error
	Close() error
}

// alertRouter hands every alert to each sink and counts it. The lock serializes the two
// producers (syscall and audit); alerts are rare next to events, so it is never contended.
type alertRouter struct {
	mu     sync.Mutex
	sinks  []alertSink
	log    *slog.Logger
	alerts *prometheus.CounterVec
	failed *prometheus.CounterVec
}

func (r *alertRouter) emit(ctx context.Context, a *alert.Alert, rule *engine.Rule) {
	r.alerts.WithLabelValues(a.Rule, a.Priority.String(), a.Source.String()).Inc()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sinks {
		if err := s.Write(ctx, a, rule); err != nil {
			r.failed.WithLabelValues(s.Name()).Inc()
			r.log.Error("alert output failed", "output", s.Name(), "rule", a.Rule, "err", err)
		}
	}
}

// stdoutSink is the standard output, behind the same Output worker, filter and metrics as every
// other output (package shippers/stdout), over an in-memory queue: a terminal has nothing to be
// delivered after a restart, so a disk spool would only cost I/O. Flush waits for the queue to
// empty, so a clean shutdown prints every alert accepted.
type stdoutSink struct {
	o       *shippers.Output
	q       *spool.Memory
	timeout time.Duration
}

// stdoutQueueBytes bounds the alerts waiting for the terminal; beyond it the producer waits
// (block), as a blocked pipe made it wait when stdout was written in line.
const stdoutQueueBytes = 16 << 20

func newStdoutSink(w io.Writer, cfg config.Stdout, json bool, timeout time.Duration, log *slog.Logger, reg prometheus.Registerer) (*stdoutSink, error) {
	sh, err := stdout.New(w, json)
	if err != nil {
		return nil, err
	}
	q, err := spool.NewMemory(stdoutQueueBytes, spool.Block, nil)
	if err != nil {
		return nil, err
	}
	// FlushInterval 0: a line is written as soon as its alert is queued. Nothing is ever
	// rejected for good (the shipper only has recoverable errors), so there is no dead letter.
	o, err := shippers.NewOutput(shippers.OutputConfig{Name: "stdout", Filter: cfg.Filter, DeadLetterFile: os.DevNull,
		Backoff: shippers.BackoffConfig{Initial: 50 * time.Millisecond, Max: time.Second}}, q, sh, log, reg)
	if err != nil {
		_ = q.Close()
		return nil, err
	}
	return &stdoutSink{o: o, q: q, timeout: timeout}, nil
}

func (s *stdoutSink) Name() string { return "stdout" }

func (s *stdoutSink) Write(ctx context.Context, a *alert.Alert, r *engine.Rule) error {
	desc, file := "", ""
	if r != nil {
		desc, file = r.Desc, filepath.Base(r.File)
	}
	return s.o.Enqueue(ctx, shippers.NewRecord(a, desc, file))
}

func (s *stdoutSink) Run(ctx context.Context) error { return s.o.Run(ctx) }

// Flush waits, up to the shutdown timeout, until every queued alert was written.
func (s *stdoutSink) Flush() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	if err := s.q.WaitEmpty(ctx); err != nil {
		return fmt.Errorf("%d alerts not written to stdout within %s: %w", s.q.Len(), s.timeout, err)
	}
	return nil
}

func (s *stdoutSink) Close() error { return s.o.Close() }

// fanoutSink is the shippers' fan-out: each output has its own durable spool and worker
// (shippers.Output), so this sink's Write only appends to spools. Outputs other than
// Elasticsearch (Fluentd...) plug in by adding a *shippers.Output to the fan-out.
//
// By default Write returns once every output has the alert in its spool: one fsync per output
// per alert. `lanner run` turns on group commit (startCommitter): Write queues the alert and one
// goroutine spools every alert that waited, linked into the audit trail in queue order, with
// one fan-out Enqueue -- one fsync per output for the whole group. An fsync costs about 0.25 ms
// on a virtual disk: per alert, it capped a node at about 4,000 alerts/s per spooled output and
// held the capture loop for each.
type fanoutSink struct {
	f *shippers.Fanout
	// chain links every alert into the node's audit trail before it is spooled (nil: no trail).
	// Links are handed out in spool order: Write is serialized by the alertRouter, and with group
	// commit the committer links alerts in the order they were queued.
	chain *chain.Chainer
	log   *slog.Logger
	// unlinked counts alerts shipped without a link since the last log line about them: a
	// broken state disk fails every link, and one line per alert would flood the log.
	unlinked   int
	unlinkedAt time.Time

	// Group commit (nil queue: Write spools synchronously).
	queue     chan queuedAlert
	committed chan struct{}      // closed when the committer has spooled the last queued alert
	failed    prometheus.Counter // alerts the outputs did not take (run's lanner_alert_output_errors_total)
	// qmu guards the queue's closing: Write sends under the read lock, Flush closes under the
	// write lock, so no alert is sent on a closed queue.
	qmu     sync.RWMutex
	flushed bool
}

// queuedAlert is an alert waiting for the committer, with the context it was written under.
type queuedAlert struct {
	ctx context.Context
	rec *shippers.Record
}

// maxGroup bounds the alerts spooled by one fan-out Enqueue (one fsync per output), and
// commitQueue the alerts waiting for the committer: what a SIGKILL can take with it besides the
// events still in the ring buffer and the engine.
const (
	maxGroup    = 512
	commitQueue = 4096
)

func (s *fanoutSink) Name() string { return "shippers" }

// startCommitter turns on group commit with a queue of queueLen alerts; failed counts the
// alerts the outputs did not take. When the queue is full (the spools cannot keep up even a
// group at a time), Write waits, as the synchronous Write waited for each fsync.
func (s *fanoutSink) startCommitter(queueLen int, failed prometheus.Counter) {
	s.queue = make(chan queuedAlert, queueLen)
	s.committed = make(chan struct{})
	s.failed = failed
	go s.commit()
}

// queued is the number of alerts waiting for the committer (lanner_alert_commit_queue).
func (s *fanoutSink) queued() float64 { return float64(len(s.queue)) }

func (s *fanoutSink) Write(ctx context.Context, a *alert.Alert, r *engine.Rule) error {
	desc, file := "", ""
	if r != nil {
		desc, file = r.Desc, filepath.Base(r.File)
	}
	rec := shippers.NewRecord(a, desc, file)
	if s.queue == nil {
		s.link(rec)
		return s.f.Enqueue(ctx, rec)
	}
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	if s.flushed {
		return errors.New("shutting down: alert not spooled")
	}
	// The alert is kept past the return: the engine builds a new one for every match and no
	// sink changes an alert.
	select {
	case s.queue <- queuedAlert{ctx, rec}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("alert not spooled: %w", ctx.Err())
	}
}

// link links rec into the audit trail. An alert the trail cannot link still ships: losing it
// would be worse than an unlinked document, which lanner audit verify counts (and
// lanner_audit_trail_errors_total too).
func (s *fanoutSink) link(rec *shippers.Record) {
	if s.chain == nil {
		return
	}
	if err := s.chain.Link(rec); err != nil {
		s.unlinked++
		if now := time.Now(); now.Sub(s.unlinkedAt) >= 10*time.Second {
			s.log.Error("alerts shipped without an audit-trail link", "alerts", s.unlinked, "last_rule", rec.Alert.Rule, "err", err)
			s.unlinked, s.unlinkedAt = 0, now
		}
	}
}

// commit spools queued alerts a group at a time: everything that waited while the previous
// group was written, up to maxGroup. It returns when the queue is closed and empty.
func (s *fanoutSink) commit() {
	defer close(s.committed)
	group := make([]*shippers.Record, 0, maxGroup)
	for q := range s.queue {
		ctx := q.ctx
		group = append(group[:0], q.rec)
	gather:
		for len(group) < maxGroup {
			select {
			case q, ok := <-s.queue:
				if !ok {
					break gather
				}
				group = append(group, q.rec)
			default:
				break gather
			}
		}
		for _, rec := range group {
			s.link(rec)
		}
		if err := s.f.Enqueue(ctx, group...); err != nil {
			if s.failed != nil {
				s.failed.Add(float64(len(group)))
			}
			s.log.Error("alerts not spooled", "alerts", len(group), "first_rule", group[0].Alert.Rule, "err", err)
		}
		clear(group)
	}
}

func (s *fanoutSink) Run(ctx context.Context) error { return s.f.Run(ctx) }

// Flush spools what waits in the group-commit queue. What Write handed over is then in each
// output's spool or, when that spool was full, in the output's bounded backlog, which Close
// writes into the spool; what the workers did not deliver before shutdown is delivered after
// the next start.
func (s *fanoutSink) Flush() error {
	if s.queue == nil {
		return nil
	}
	s.qmu.Lock()
	if !s.flushed {
		s.flushed = true
		close(s.queue)
	}
	s.qmu.Unlock()
	<-s.committed
	return nil
}

func (s *fanoutSink) Close() error {
	err := s.Flush()
	err = errors.Join(err, s.f.Close())
	if s.chain != nil {
		err = errors.Join(err, s.chain.Close())
	}
	return err
}

// failedOutput is an output left out at start: its configuration was invalid (config.Load
// disabled it) or it could not be built (an unreadable CA file, a spool directory that cannot be
// created). The collector runs with the others and reports it on /readyz.
type failedOutput struct {
	name string
	err  error
}

// newShipperOutputs builds the configured remote outputs (Elasticsearch, Fluentd, file, http,
// syslog, program, nats). An output that cannot be built is returned in failed and the others
// run; the sink is nil when no output was built. The error is for what concerns them all (the
// fan-out, the audit trail).
func newShipperOutputs(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*fanoutSink, []failedOutput, error) {
	var outs []*shippers.Output
	var failed []failedOutput
	if es := cfg.Elasticsearch; es.Enabled {
		if o, err := newESOutput(es, log, reg); err != nil {
			failed = append(failed, failedOutput{"elasticsearch", err})
		} else {
			outs = append(outs, o)
		}
	}
	if fd := cfg.Fluentd; fd.Enabled {
		if o, err := newFluentdOutput(fd, log, reg); err != nil {
			failed = append(failed, failedOutput{"fluentd", err})
		} else {
			outs = append(outs, o)
		}
	}
	extra, bad := newExtraOutputs(cfg, log, reg) // file, http, syslog, program, nats (run_outputs.go)
	outs, failed = append(outs, extra...), append(failed, bad...)
	if len(outs) == 0 {
		return nil, failed, nil
	}
	closeAll := func() {
		for _, o := range outs {
			_ = o.Close()
		}
	}
	// The fan-out's own metrics (backlog, producer waits) and its log go with run's, so an output
	// whose spool is full shows up on /metrics and in the log, not only in its own counters.
	f, err := shippers.NewFanoutWith(shippers.FanoutOptions{Logger: log.With("component", "fanout"), Registerer: reg}, outs...)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	sink := &fanoutSink{f: f, log: log}
	if t := cfg.AuditTrail; t.Enabled {
		sink.chain, err = chain.Open(chain.Options{Dir: cfg.TrailDir(), Key: []byte(t.Key.Reveal()),
			Logger: log, Registerer: reg})
		if err != nil {
			_ = f.Close()
			return nil, nil, err
		}
	}
	return sink, failed, nil
}

func newESOutput(es config.Elasticsearch, log *slog.Logger, reg prometheus.Registerer) (*shippers.Output, error) {
	ecfg := es.Config.WithDefaults()
	q := config.Queue{SpoolDir: es.SpoolDir, SpoolMaxBytes: es.SpoolMaxBytes, Overflow: es.Overflow,
		DeadLetterFile: es.DeadLetterFile, Filter: es.Filter}
	return newSpooledOutput("elasticsearch", q, ecfg.OutputConfig("elasticsearch"), func() (shippers.Shipper, error) {
		// The shipper's own series (bulk requests, items) carry output="elasticsearch" like the
		// worker's, so one label selects everything about the output.
		return elasticsearch.New(ecfg, log, prometheus.WrapRegistererWith(prometheus.Labels{"output": "elasticsearch"}, reg))
	}, log, reg)
}

// newFluentdOutput builds the Fluentd output over its own spool. A Fluentd that is down at start
// is logged by the shipper, not an error: the spool keeps the alerts until it is up.
func newFluentdOutput(fd config.Fluentd, log *slog.Logger, reg prometheus.Registerer) (*shippers.Output, error) {
	fcfg := fd.Config.WithDefaults()
	q := config.Queue{SpoolDir: fd.SpoolDir, SpoolMaxBytes: fd.SpoolMaxBytes, Overflow: fd.Overflow,
		DeadLetterFile: fd.DeadLetterFile, Filter: fd.Filter}
	return newSpooledOutput("fluentd", q, fcfg.OutputConfig("fluentd"), func() (shippers.Shipper, error) {
		return fluentd.New("fluentd", fcfg, log, reg)
	}, log, reg)
}

// closeSinks flushes then closes every sink, returning every error.
func closeSinks(sinks []alertSink) error {
	var errs []error
	for _, s := range sinks {
		if err := s.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: flush: %w", s.Name(), err))
		}
	}
	for _, s := range sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: close: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}
