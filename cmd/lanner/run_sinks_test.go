package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/event"
)

// fileSinkConfig is a configuration with the file output (spooled) and the audit trail, all
// under dir.
func fileSinkConfig(t testing.TB, dir string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.FileOutput.Enabled = true
	cfg.FileOutput.Filename = filepath.Join(dir, "alerts.jsonl")
	cfg.FileOutput.SpoolDir = filepath.Join(dir, "spool-file")
	cfg.AuditTrail.Enabled = true
	if ps := cfg.Validate(); len(ps) != 0 {
		t.Fatalf("config problems: %v", ps)
	}
	return cfg
}

func numbered(i int) *alert.Alert {
	return &alert.Alert{Time: time.Unix(1_790_000_000, int64(i)), Rule: fmt.Sprintf("r%05d", i),
		Priority: alert.Warning, Source: event.SourceSyscall, Hostname: "h", Output: fmt.Sprintf("alert %d", i)}
}

// With group commit, every alert written before Flush is spooled, in the order written, and
// linked into the audit trail in that order; Write after Flush is refused, not lost silently.
func TestFanoutSinkGroupCommit(t *testing.T) {
	dir := t.TempDir()
	cfg := fileSinkConfig(t, dir)
	sink, failed, err := newShipperOutputs(&cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil || len(failed) != 0 || sink == nil {
		t.Fatal(err, failed)
	}
	notTaken := prometheus.NewCounter(prometheus.CounterOpts{Name: "t"})
	sink.startCommitter(64, notTaken) // a small queue: Write must also wait for room
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()

	const n = 3000
	for i := range n {
		if err := sink.Write(ctx, numbered(i), nil); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := sink.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, seq, _ := sink.chain.Head(); seq != n {
		t.Fatalf("audit trail head at seq %d after %d alerts", seq, n)
	}
	if err := sink.Write(ctx, numbered(n), nil); err == nil {
		t.Fatal("Write after Flush: no error")
	}
	path := cfg.FileOutput.Filename
	waitFor(t, "every alert in the file", func() bool { return countLines(path) >= n })
	cancel()
	<-done
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	for sc.Scan() {
		var line struct {
			Rule string `json:"rule"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if want := fmt.Sprintf("r%05d", i); line.Rule != want {
			t.Fatalf("line %d: rule %s, want %s (out of order or lost)", i+1, line.Rule, want)
		}
		i++
	}
	if i != n {
		t.Fatalf("%d alerts in the file, want %d", i, n)
	}
	if v := testutil.ToFloat64(notTaken); v != 0 {
		t.Fatalf("%v alerts counted as not taken", v)
	}
}

func countLines(path string) int {
	b, _ := os.ReadFile(path)
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}

// BenchmarkFanoutSinkWrite measures the alert path of `lanner run` after the rule engine: Write
// to the fan-out sink of one spooled output (the file output; its spool fsyncs every append)
// and the audit trail, until the alerts are in the spool -- alert by alert as before group
// commit, and with it. The output's worker runs meanwhile, as in `lanner run`, so the spool
// never fills.
func BenchmarkFanoutSinkWrite(b *testing.B) {
	for _, mode := range []string{"per-alert", "group-commit"} {
		b.Run(mode, func(b *testing.B) {
			dir := b.TempDir()
			cfg := fileSinkConfig(b, dir)
			sink, _, err := newShipperOutputs(&cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
			if err != nil {
				b.Fatal(err)
			}
			if mode == "group-commit" {
				sink.startCommitter(commitQueue, nil)
			}
			alerts := make([]*alert.Alert, 1000)
			for i := range alerts {
				alerts[i] = numbered(i)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- sink.Run(ctx) }()
			i := 0
			for b.Loop() {
				if err := sink.Write(ctx, alerts[i%len(alerts)], nil); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if err := sink.Flush(); err != nil { // inside the clock: the last group's fsync
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
			cancel()
			<-done
			_ = sink.Close()
		})
	}
}
