package program

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/program.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Config is the program output's configuration (Falco's `program_output:` block, plus the
// restart bound and a timeout).
type Config struct {
	Program         string        `yaml:"program" desc:"Command (run by /bin/sh -c) that reads Falco JSON lines on its standard input."`
	KeepAlive       *bool         `yaml:"keep_alive" desc:"One long-lived process, started again when it exits; false starts the program for every batch."`
	RestartInterval time.Duration `yaml:"restart_interval" desc:"Least time between two starts of the program."`
	Timeout         time.Duration `yaml:"timeout" desc:"Timeout of writing one batch (and, without keep_alive, of the whole run)."`
}

// DefaultConfig is what an empty block means (the program has no default).
func DefaultConfig() Config {
	t := true
	return Config{KeepAlive: &t, RestartInterval: time.Second, Timeout: 10 * time.Second}
}

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.KeepAlive == nil {
		c.KeepAlive = d.KeepAlive
	}
	if c.RestartInterval == 0 {
		c.RestartInterval = d.RestartInterval
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// shell runs the program, as Falco does, so that it may hold pipes and redirections.
const shell = "/bin/sh"

// Validate reports every problem of c (after WithDefaults), naming the key. The command's first
// word must be a program found in PATH (so a shell keyword such as exec is refused there): a
// typo fails lanner's start instead of every batch.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if f := strings.Fields(c.Program); len(f) == 0 {
		bad("program: empty")
	} else if _, err := exec.LookPath(f[0]); err != nil {
		bad("program: %q: %v", f[0], errors.Unwrap(err))
	}
	if c.RestartInterval < 0 || c.Timeout < 0 {
		bad("restart_interval and timeout must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("program output: %w", err)
	}
	return nil
}

// proc is one running program.
type proc struct {
	cmd   *exec.Cmd
	stdin *os.File
	done  chan struct{} // closed when the program exited and was reaped
	err   error         // its exit status, once done
}

// Shipper pipes alerts to a program. It implements shippers.Shipper.
type Shipper struct {
	cfg       Config
	logger    *slog.Logger
	m         *metrics
	mu        sync.Mutex // guards p against Close racing the worker's last Send
	p         *proc
	lastStart time.Time
	started   bool
	buf       []byte
}

// New validates cfg (after defaults). The program is started by the first batch, so that an
// idle output runs nothing. logger and reg may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Shipper{cfg: cfg, logger: logger, m: m}, nil
}

func (s *Shipper) start() (*proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(shell, "-c", s.cfg.Program)
	cmd.Stdin = r
	cmd.Stdout = os.Stderr // the program's output is diagnostics, never alerts
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	r.Close()
	p := &proc{cmd: cmd, stdin: w, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	if s.started {
		s.m.restarts.Inc()
	}
	s.started = true
	s.lastStart = time.Now()
	s.logger.Info("program output started its program", "program", s.cfg.Program, "pid", cmd.Process.Pid)
	return p, nil
}

// stop closes p's stdin, waits up to the timeout for it to exit, then kills it.
func (s *Shipper) stop(p *proc) error {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(s.cfg.Timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// Send writes the batch as JSON lines. A program that exited is started again, but not sooner
// than restart_interval after its last start: until then the batch fails with that wait as its
// Retry-After, so a program that dies at once costs one start per interval, not a busy loop.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	if len(batch) == 0 {
		return nil
	}
	buf := s.buf[:0]
	for _, r := range batch {
		buf = r.Alert.AppendJSON(buf)
		buf = append(buf, '\n')
	}
	s.buf = buf
	s.mu.Lock()
	defer s.mu.Unlock()
	if !*s.cfg.KeepAlive {
		return s.runOnce(ctx, buf, len(batch))
	}
	if s.p != nil {
		select {
		case <-s.p.done:
			s.logger.Warn("program output: program exited; starting it again", "program", s.cfg.Program, "status", s.p.err)
			_ = s.p.stdin.Close()
			s.p = nil
		default:
		}
	}
	if s.p == nil {
		if wait := s.cfg.RestartInterval - time.Since(s.lastStart); s.started && wait > 0 {
			return &shippers.RecoverableError{Err: fmt.Errorf("program output: %q exited; restart delayed", s.cfg.Program), RetryAfter: wait}
		}
		p, err := s.start()
		if err != nil {
			s.m.errors.Inc()
			return &shippers.RecoverableError{Err: fmt.Errorf("program output: start %q: %w", s.cfg.Program, err)}
		}
		s.p = p
	}
	if err := s.write(ctx, s.p, buf); err != nil {
		s.m.errors.Inc()
		_ = s.p.cmd.Process.Kill()
		_ = s.stop(s.p)
		s.p = nil
		return &shippers.RecoverableError{Err: fmt.Errorf("program output: write to %q: %w", s.cfg.Program, err)}
	}
	s.m.alerts.Add(float64(len(batch)))
	return nil
}

// write writes buf to p's stdin, bounded by the timeout and ctx.
func (s *Shipper) write(ctx context.Context, p *proc, buf []byte) error {
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = p.stdin.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = p.stdin.SetWriteDeadline(time.Now()) })
	defer stop()
	_, err := p.stdin.Write(buf)
	return err
}

// runOnce starts the program for one batch, writes it, closes stdin and waits for the exit.
func (s *Shipper) runOnce(ctx context.Context, buf []byte, n int) error {
	p, err := s.start()
	if err != nil {
		s.m.errors.Inc()
		return &shippers.RecoverableError{Err: fmt.Errorf("program output: start %q: %w", s.cfg.Program, err)}
	}
	werr := s.write(ctx, p, buf)
	if werr != nil {
		_ = p.cmd.Process.Kill()
	}
	exit := s.stop(p)
	if err := errors.Join(werr, exit); err != nil {
		s.m.errors.Inc()
		return &shippers.RecoverableError{Err: fmt.Errorf("program output: %q: %w", s.cfg.Program, err)}
	}
	s.m.alerts.Add(float64(n))
	return nil
}

// Close closes the program's stdin and waits (up to the timeout) for it to finish what it read.
func (s *Shipper) Close() error {
	s.m.unregister()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p == nil {
		return nil
	}
	p := s.p
	s.p = nil
	if err := s.stop(p); err != nil {
		return fmt.Errorf("program output: %q: %w", s.cfg.Program, err)
	}
	return nil
}

type metrics struct {
	registration             *shippers.Registration
	alerts, errors, restarts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: name, Help: help, ConstLabels: prometheus.Labels{"output": "program"}})
	}
	m := &metrics{
		alerts:   c("program_alerts_written_total", "Alerts written to the program's standard input."),
		errors:   c("program_errors_total", "Batches that failed: the program could not start, be written to, or exited non-zero."),
		restarts: c("program_restarts_total", "Times the program was started again after the first start."),
	}
	r, err := shippers.RegisterAll(reg, "program output", m.alerts, m.errors, m.restarts)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *metrics) unregister() { m.registration.Unregister() }

var _ shippers.Shipper = (*Shipper)(nil)
