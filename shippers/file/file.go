package file

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/file.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Fsync policies of Config.Fsync.
const (
	FsyncBatch = "batch"
	FsyncNever = "never"
)

// Config is the file output's configuration (Falco's `file_output:` block, plus fsync).
type Config struct {
	Filename  string `yaml:"filename" desc:"File alerts are appended to, one Falco JSON line each (created 0600; its directory must exist)."`
	KeepAlive *bool  `yaml:"keep_alive" desc:"Keep the file open between batches (reopened on SIGHUP); false opens it for every batch."`
	Fsync     string `yaml:"fsync" desc:"batch: fsync after every batch; never: leave flushing to the kernel."`
}

// DefaultConfig is what an empty block means.
func DefaultConfig() Config {
	t := true
	return Config{KeepAlive: &t, Fsync: FsyncBatch}
}

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.KeepAlive == nil {
		c.KeepAlive = d.KeepAlive
	}
	if c.Fsync == "" {
		c.Fsync = d.Fsync
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	if c.Filename == "" {
		errs = append(errs, errors.New("filename: empty"))
	} else if st, err := os.Stat(filepath.Dir(c.Filename)); err != nil {
		errs = append(errs, fmt.Errorf("filename: directory: %w", err))
	} else if !st.IsDir() {
		errs = append(errs, fmt.Errorf("filename: %s is not a directory", filepath.Dir(c.Filename)))
	}
	if c.Fsync != FsyncBatch && c.Fsync != FsyncNever {
		errs = append(errs, fmt.Errorf("fsync: %q: want %s or %s", c.Fsync, FsyncBatch, FsyncNever))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("file output: %w", err)
	}
	return nil
}

// Shipper appends alerts to a file. It implements shippers.Shipper.
type Shipper struct {
	cfg    Config
	logger *slog.Logger
	m      *metrics

	// mu guards f: Send runs on the output's worker, Reopen on the signal handler's goroutine.
	mu  sync.Mutex
	f   *os.File
	buf []byte
}

// New validates cfg (after defaults) and opens the file, so that a path lanner cannot write
// fails the start with a clear message rather than the first alert. logger and reg may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := open(cfg.Filename)
	if err != nil {
		return nil, fmt.Errorf("file output: %w", err)
	}
	if !*cfg.KeepAlive {
		_ = f.Close()
		f = nil
	}
	m, err := newMetrics(reg)
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return nil, err
	}
	return &Shipper{cfg: cfg, logger: logger, m: m, f: f}, nil
}

func open(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
}

// Send appends the batch as JSON lines in one write: O_APPEND makes that write land after
// whatever else appended meanwhile. A failed write is retried whole, so a write that failed
// halfway (disk full) can leave a partial line followed by the batch again.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	buf := s.buf[:0]
	for _, r := range batch {
		buf = r.Alert.AppendJSON(buf)
		buf = append(buf, '\n')
	}
	s.buf = buf
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		f, err := open(s.cfg.Filename)
		if err != nil {
			s.m.errors.Inc()
			return &shippers.RecoverableError{Err: fmt.Errorf("file output: %w", err)}
		}
		s.f = f
	}
	_, err := s.f.Write(buf)
	if err == nil && s.cfg.Fsync == FsyncBatch {
		err = s.f.Sync()
	}
	if err != nil || !*s.cfg.KeepAlive {
		if cerr := s.f.Close(); err == nil {
			err = cerr
		}
		s.f = nil
	}
	if err != nil {
		s.m.errors.Inc()
		// Reopened on the next attempt: the file may have been removed or its disk replaced.
		return &shippers.RecoverableError{Err: fmt.Errorf("file output: %s: %w", s.cfg.Filename, err)}
	}
	s.m.alerts.Add(float64(len(batch)))
	s.m.bytes.Add(float64(len(buf)))
	return nil
}

// Reopen closes the file so that the next batch opens cfg.Filename anew: after logrotate moved
// the file away, alerts go to a new file of that name. Safe to call from any goroutine.
func (s *Shipper) Reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.reopens.Inc()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	s.logger.Info("file output reopens its file", "filename", s.cfg.Filename)
	if err != nil {
		return fmt.Errorf("file output: close %s: %w", s.cfg.Filename, err)
	}
	return nil
}

// Close closes the file.
func (s *Shipper) Close() error {
	s.m.unregister()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

type metrics struct {
	registration                   *shippers.Registration
	alerts, bytes, errors, reopens prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: name, Help: help, ConstLabels: prometheus.Labels{"output": "file"}})
	}
	m := &metrics{
		alerts:  c("file_alerts_written_total", "Alerts appended to the output file."),
		bytes:   c("file_bytes_written_total", "Bytes appended to the output file."),
		errors:  c("file_write_errors_total", "Batches that failed to open, write or fsync the output file."),
		reopens: c("file_reopens_total", "Reopen requests (SIGHUP)."),
	}
	r, err := shippers.RegisterAll(reg, "file output", m.alerts, m.bytes, m.errors, m.reopens)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *metrics) unregister() { m.registration.Unregister() }

var _ shippers.Shipper = (*Shipper)(nil)
