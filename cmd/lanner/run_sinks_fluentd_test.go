package main

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/config"
)

// TestFluentdOutputStartsWithFluentdDown: a Fluentd that does not answer at start is not a
// configuration error; the output is built and its spool keeps the alerts.
func TestFluentdOutputStartsWithFluentdDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now

	cfg := config.Default()
	cfg.Fluentd.Enabled = true
	cfg.Fluentd.Port = port
	cfg.Fluentd.SpoolDir = filepath.Join(t.TempDir(), "fluentd")
	if ps := cfg.Validate(); len(ps) != 0 {
		t.Fatalf("config problems: %v", ps)
	}
	sink, _, err := newShipperOutputs(&cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("newShipperOutputs: %v", err)
	}
	if sink == nil {
		t.Fatal("no sink for an enabled fluentd output")
	}
	defer sink.Close()
	outs := sink.f.Outputs()
	if len(outs) != 1 || outs[0].Name() != "fluentd" {
		t.Fatalf("outputs %v, want one named fluentd", outs)
	}
}
