package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/file"
	shttp "github.com/lannersec/lanner/shippers/http"
	"github.com/lannersec/lanner/shippers/nats"
	"github.com/lannersec/lanner/shippers/program"
	"github.com/lannersec/lanner/shippers/spool"
	"github.com/lannersec/lanner/shippers/syslog"
)

// newExtraOutputs builds the enabled outputs among file, http, syslog, program and nats, each
// over its own spool. An output that cannot be built is left out and returned in failed, with
// the reason, so that the others run.
func newExtraOutputs(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (outs []*shippers.Output, failed []failedOutput) {
	type spec struct {
		name    string
		enabled bool
		q       config.Queue
		build   func() (shippers.Shipper, error)
	}
	specs := []spec{
		{"file", cfg.FileOutput.Enabled, cfg.FileOutput.Queue, func() (shippers.Shipper, error) {
			sh, err := file.New(cfg.FileOutput.Config, log, reg)
			if err != nil {
				return nil, err
			}
			return reopenOnHUP(sh, log), nil
		}},
		{"http", cfg.HTTPOutput.Enabled, cfg.HTTPOutput.Queue, func() (shippers.Shipper, error) {
			return shttp.New(cfg.HTTPOutput.Config, log, reg)
		}},
		{"syslog", cfg.SyslogOutput.Enabled, cfg.SyslogOutput.Queue, func() (shippers.Shipper, error) {
			return syslog.New(cfg.SyslogOutput.Config, log, reg)
		}},
		{"program", cfg.ProgramOutput.Enabled, cfg.ProgramOutput.Queue, func() (shippers.Shipper, error) {
			return program.New(cfg.ProgramOutput.Config, log, reg)
		}},
		{"nats", cfg.NATSOutput.Enabled, cfg.NATSOutput.Queue, func() (shippers.Shipper, error) {
			return nats.New(cfg.NATSOutput.Config, log, reg)
		}},
	}
	for _, s := range specs {
		if !s.enabled {
			continue
		}
		o, err := newSpooledOutput(s.name, s.q, shippers.OutputConfig{}, s.build, log, reg)
		if err != nil {
			failed = append(failed, failedOutput{s.name, err})
			continue
		}
		outs = append(outs, o)
	}
	return outs, failed
}

// newSpooledOutput opens name's spool, builds its shipper and joins them in an Output. base
// carries the destination's own delivery settings (batch size, flush interval, requests in
// flight); its zero value takes the Output defaults. Name, filter and dead-letter file come from
// the output's queue settings.
func newSpooledOutput(name string, q config.Queue, base shippers.OutputConfig, build func() (shippers.Shipper, error), log *slog.Logger, reg prometheus.Registerer) (*shippers.Output, error) {
	if err := os.MkdirAll(q.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s output: spool directory: %w", name, err)
	}
	sp, err := spool.Open(q.SpoolDir, spool.Options{Name: name, MaxBytes: q.SpoolMaxBytes,
		Overflow: spool.Policy(q.Overflow)}, log, reg)
	if err != nil {
		return nil, fmt.Errorf("%s output: %w", name, err)
	}
	sh, err := build()
	if err != nil {
		_ = sp.Close()
		return nil, err
	}
	ocfg := base
	ocfg.Name, ocfg.Filter, ocfg.DeadLetterFile = name, q.Filter, q.DeadLetterFile
	if ocfg.DeadLetterFile == "" {
		ocfg.DeadLetterFile = filepath.Join(q.SpoolDir, "deadletter.jsonl")
	}
	o, err := shippers.NewOutput(ocfg, sp, sh, log, reg)
	if err != nil {
		_ = sp.Close()
		_ = sh.Close()
		return nil, err
	}
	return o, nil
}

// hupFile is the file output reopening its file on every SIGHUP (logrotate's postrotate)
// until it is closed.
type hupFile struct {
	*file.Shipper
	stop func()
}

func reopenOnHUP(sh *file.Shipper, log *slog.Logger) *hupFile {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				if err := sh.Reopen(); err != nil {
					log.Error("file output: reopen on SIGHUP", "err", err)
				}
			case <-done:
				return
			}
		}
	}()
	return &hupFile{Shipper: sh, stop: func() { signal.Stop(ch); close(done) }}
}

// Close stops listening for SIGHUP, then closes the file.
func (h *hupFile) Close() error {
	h.stop()
	return h.Shipper.Close()
}
