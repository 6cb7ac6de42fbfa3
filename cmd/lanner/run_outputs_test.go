package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/event"
)

// TestExtraOutputsThroughFanout: file and http outputs enabled in the configuration receive
// alerts written to the sink; SIGHUP makes the file output reopen a rotated file.
func TestExtraOutputsThroughFanout(t *testing.T) {
	var mu sync.Mutex
	var posted [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, b)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	cfg := config.Default()
	cfg.FileOutput.Enabled = true
	cfg.FileOutput.Filename = path
	cfg.FileOutput.SpoolDir = filepath.Join(dir, "spool-file")
	cfg.HTTPOutput.Enabled = true
	cfg.HTTPOutput.URL = srv.URL
	cfg.HTTPOutput.SpoolDir = filepath.Join(dir, "spool-http")
	if ps := cfg.Validate(); len(ps) != 0 {
		t.Fatalf("config problems: %v", ps)
	}
	sink, failed, err := newShipperOutputs(&cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil || len(failed) != 0 {
		t.Fatal(err, failed)
	}
	if sink == nil || len(sink.f.Outputs()) != 2 {
		t.Fatal("want two outputs")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		_ = sink.Close()
	}()
	write := func(rule string) {
		a := &alert.Alert{Time: time.Now(), Rule: rule, Priority: alert.Critical, Source: event.SourceSyscall,
			Hostname: "h", Output: "out " + rule}
		if err := sink.Write(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
	}
	contains := func(p, s string) bool {
		b, _ := os.ReadFile(p)
		return bytes.Contains(b, []byte(s))
	}
	write("first")
	waitFor(t, "the first alert in the file", func() bool { return contains(path, `"rule":"first"`) })
	waitFor(t, "the first alert posted", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(posted) == 1 && strings.Contains(string(posted[0]), `"rule":"first"`)
	})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The signal is handled asynchronously: alerts written before the reopen go to the rotated
	// file, and once it happened they go to a new file at path.
	for i := 0; !contains(path, `"rule":"after`); i++ {
		if i > 2000 {
			t.Fatal("no new file after SIGHUP")
		}
		write("after")
		time.Sleep(10 * time.Millisecond)
	}
	if contains(path, `"rule":"first"`) || !contains(path+".1", `"rule":"first"`) {
		t.Fatal("the first alert is not (only) in the rotated file")
	}
}

// TestBadOutputLeftOut: an output whose constructor fails is left out, named with its error,
// and the others are built.
func TestBadOutputLeftOut(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.ProgramOutput.Enabled = true
	cfg.ProgramOutput.Program = "surely-not-a-program-lanner"
	cfg.ProgramOutput.SpoolDir = filepath.Join(dir, "spool-program")
	cfg.FileOutput.Enabled = true
	cfg.FileOutput.Filename = filepath.Join(dir, "alerts.json")
	cfg.FileOutput.SpoolDir = filepath.Join(dir, "spool-file")
	sink, failed, err := newShipperOutputs(&cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	if len(failed) != 1 || failed[0].name != "program" || !strings.Contains(failed[0].err.Error(), "program output: program:") {
		t.Fatalf("failed outputs %+v, want the program output's error", failed)
	}
	if outs := sink.f.Outputs(); len(outs) != 1 || outs[0].Name() != "file" {
		t.Fatalf("built outputs %v, want the file output", outs)
	}
}
