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
// and the audit goroutines, serialized by the alertRouter; it must not keep a past its return
// unless it copies what it needs. A sink that forwards to a remote destination stores the alert
// durably in Write and delivers it from its own goroutine (Run), so a slow destination never
// stalls capture beyond what its overflow policy says.
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
type fanoutSink struct {
	f *shippers.Fanout
	// chain links every alert into the node's audit trail before it is spooled (nil: no trail).
	// Write is serialized by the alertRouter, so links are handed out in spool order.
	chain *chain.Chainer
	log   *slog.Logger
	// unlinked counts alerts shipped without a link since the last log line about them: a
	// broken state disk fails every link, and one line per alert would flood the log.
	unlinked   int
	unlinkedAt time.Time
}

func (s *fanoutSink) Name() string { return "shippers" }

func (s *fanoutSink) Write(ctx context.Context, a *alert.Alert, r *engine.Rule) error {
	desc, file := "", ""
	if r != nil {
		desc, file = r.Desc, filepath.Base(r.File)
	}
	rec := shippers.NewRecord(a, desc, file)
	if s.chain != nil {
		// An alert the trail cannot link still ships: losing it would be worse than an unlinked
		// document, which lanner audit verify counts (and lanner_audit_trail_errors_total too).
		if err := s.chain.Link(rec); err != nil {
			s.unlinked++
			if now := time.Now(); now.Sub(s.unlinkedAt) >= 10*time.Second {
				s.log.Error("alerts shipped without an audit-trail link", "alerts", s.unlinked, "last_rule", a.Rule, "err", err)
				s.unlinked, s.unlinkedAt = 0, now
			}
		}
	}
	return s.f.Enqueue(ctx, rec)
}

func (s *fanoutSink) Run(ctx context.Context) error { return s.f.Run(ctx) }

// Flush has nothing to do: Write returned once every output had the alert in its spool or, when
// that spool was full, in the output's bounded backlog, which Close writes into the spool; what
// the workers did not deliver before shutdown is delivered after the next start.
func (s *fanoutSink) Flush() error { return nil }
func (s *fanoutSink) Close() error {
	err := s.f.Close()
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
