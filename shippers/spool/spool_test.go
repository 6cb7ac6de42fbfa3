package spool_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/shippers/spool"
	"github.com/lannersec/lanner/shippers/spool/spooltest"
)

func TestConformance(t *testing.T) {
	spooltest.Run(t, func(t *testing.T, dir string) spooltest.Spool {
		// Small segments so the suite crosses segment boundaries.
		s, err := spool.Open(dir, spool.Options{Name: "t", SegmentBytes: 4 << 10}, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func TestOpenRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		dir  string
		opts spool.Options
		want string
	}{
		{"no dir", "", spool.Options{}, "no directory"},
		{"policy", t.TempDir(), spool.Options{Overflow: "drop_newest"}, `overflow policy "drop_newest"`},
		{"negative bound", t.TempDir(), spool.Options{MaxBytes: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := spool.Open(tc.dir, tc.opts, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func rec(i int) []byte { return fmt.Appendf(nil, `{"n":%05d}`, i) }

func TestOverflowBlock(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := spool.Open(t.TempDir(), spool.Options{Name: "b", MaxBytes: int64(len(rec(0)) * 10)}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Full: an Append waits; with a context that ends, it fails and stores nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Append(ctx, rec(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append into a full blocking spool with a done context = %v, want its error (Fanout tells full from failed by it)", err)
	}
	if s.Len() != 10 {
		t.Fatalf("Len = %d after a refused append", s.Len())
	}
	// AppendOverBound stores beyond the bound (the fan-out's backlog at shutdown); the next
	// Append still waits.
	if err := s.AppendOverBound(rec(100), rec(101)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 12 || s.Bytes() <= int64(len(rec(0))*10) {
		t.Fatalf("after AppendOverBound: Len %d, Bytes %d", s.Len(), s.Bytes())
	}
	if err := s.Append(ctx, rec(10)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append over the bound = %v, want a wait", err)
	}
	for range 2 {
		es, err := s.Read(context.Background(), 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Ack(es[0].Index); err != nil {
			t.Fatal(err)
		}
	}
	// A waiting Append proceeds once the worker acknowledges.
	done := make(chan error, 1)
	go func() { done <- s.Append(context.Background(), rec(10)) }()
	es, err := s.Read(context.Background(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(es[0].Index); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("blocked Append: %v", err)
	}
	if got := testutil.ToFloat64(s.DroppedCounter()); got != 0 {
		t.Fatalf("dropped = %v under block", got)
	}
	if _, err := spool.Open(t.TempDir(), spool.Options{MaxBytes: 4}, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOverflowDropOldest(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := spool.Open(t.TempDir(), spool.Options{Name: "d", MaxBytes: int64(len(rec(0)) * 10), Overflow: spool.DropOldest}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 25 {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 10 {
		t.Fatalf("Len = %d, want the bound of 10", s.Len())
	}
	es, err := s.Read(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if string(es[0].Data) != string(rec(15)) || string(es[9].Data) != string(rec(24)) {
		t.Fatalf("kept %s..%s, want the newest 15..24", es[0].Data, es[9].Data)
	}
	if got := testutil.ToFloat64(s.DroppedCounter()); got != 15 {
		t.Fatalf("lanner_spool_dropped_records_total = %v, want 15", got)
	}
	if err := s.Append(context.Background(), make([]byte, len(rec(0))*11)); err == nil {
		t.Fatal("a record larger than the whole spool was accepted")
	}
}

func TestMetricsNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := spool.Open(t.TempDir(), spool.Options{Name: "es"}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(context.Background(), rec(1), rec(2)); err != nil {
		t.Fatal(err)
	}
	n, err := testutil.GatherAndCount(reg, "lanner_spool_records", "lanner_spool_bytes", "lanner_spool_capacity_bytes",
		"lanner_spool_dropped_records_total", "lanner_spool_corrupt_records_total", "lanner_spool_recovered_records_total")
	if err != nil || n != 6 {
		t.Fatalf("gathered %d series (%v), want 6", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP lanner_spool_records Alerts held in the output's spool, waiting for delivery.
# TYPE lanner_spool_records gauge
lanner_spool_records{output="es"} 2
`), "lanner_spool_records"); err != nil {
		t.Fatal(err)
	}
}

// segments returns the spool's log files.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "0000*"))
	if err != nil || len(m) == 0 {
		t.Fatalf("no segments in %s", dir)
	}
	return m
}

func TestCorruptRecordMovedAside(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, spool.Options{Name: "c"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// Flip one byte inside the third record's payload.
	seg := segments(t, dir)[0]
	data, _ := os.ReadFile(seg)
	idx := strings.Index(string(data), string(rec(2)))
	if idx < 0 {
		t.Fatal("record 2 not found in the segment")
	}
	data[idx+3] ^= 0x20
	os.WriteFile(seg, data, 0o640)

	reg := prometheus.NewRegistry()
	s, err = spool.Open(dir, spool.Options{Name: "c"}, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for s.Len() > 0 {
		es, err := s.Read(context.Background(), 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got = append(got, string(e.Data))
		}
		s.Ack(es[len(es)-1].Index)
	}
	want := []string{string(rec(0)), string(rec(1)), string(rec(3)), string(rec(4))}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("read %v, want %v", got, want)
	}
	if c := testutil.ToFloat64(s.CorruptCounter()); c != 1 {
		t.Fatalf("corrupt records = %v, want 1", c)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "corrupt", "record-*")); len(m) != 1 {
		t.Fatalf("corrupt/ holds %v, want one record file", m)
	}
}

func TestTornTailRepaired(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, spool.Options{Name: "r"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := s.Append(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// A power cut in the middle of the last write: its length says more than the file holds.
	seg := segments(t, dir)[0]
	data, _ := os.ReadFile(seg)
	os.WriteFile(seg, data[:len(data)-4], 0o640)

	reg := prometheus.NewRegistry()
	s, err = spool.Open(dir, spool.Options{Name: "r"}, nil, reg)
	if err != nil {
		t.Fatalf("Open of a torn log: %v", err)
	}
	defer s.Close()
	if s.Len() != 4 {
		t.Fatalf("kept %d records, want the 4 whole ones", s.Len())
	}
	if c := testutil.ToFloat64(s.CorruptCounter()); c != 1 {
		t.Fatalf("corrupt = %v, want 1", c)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "corrupt", "0*")); len(m) != 1 {
		t.Fatalf("corrupt/ holds %v, want the damaged segment's copy", m)
	}
	// The spool is usable after the repair.
	if err := s.Append(context.Background(), rec(5)); err != nil {
		t.Fatal(err)
	}
	es, _ := s.Read(context.Background(), 10, 0)
	if len(es) != 5 || string(es[4].Data) != string(rec(5)) {
		t.Fatalf("after repair read %d records", len(es))
	}
}

// TestCrashRecovery kills (SIGKILL) a child process that appends, reads and acknowledges
// records as fast as it can, then reopens its spool: every record whose Append had returned
// and whose Ack had not is there, in order; none acknowledged comes back.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv("SPOOL_CRASH_CHILD") != "" {
		crashChild(os.Getenv("SPOOL_CRASH_CHILD"))
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashRecovery$", "-test.v=false")
	cmd.Env = append(os.Environ(), "SPOOL_CRASH_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	appended, acked := -1, -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		n, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "appended":
			appended = n
		case "acked":
			acked = n
		}
		if appended >= 3000 && acked >= 500 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if appended < 3000 || acked < 500 {
		t.Fatalf("child stopped early: appended %d, acked %d", appended, acked)
	}
	s, err := spool.Open(dir, spool.Options{Name: "crash", SegmentBytes: 16 << 10}, nil, nil)
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	prev := -1
	seen := map[int]bool{}
	for s.Len() > 0 {
		es, err := s.Read(context.Background(), 500, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			var v struct{ N int }
			if err := json.Unmarshal(e.Data, &v); err != nil {
				t.Fatalf("recovered record %q: %v", e.Data, err)
			}
			if v.N <= acked {
				t.Fatalf("record %d was acknowledged (through %d) yet came back", v.N, acked)
			}
			if prev >= 0 && v.N != prev+1 {
				t.Fatalf("recovered records jump from %d to %d", prev, v.N)
			}
			prev = v.N
			seen[v.N] = true
		}
		s.Ack(es[len(es)-1].Index)
	}
	for i := acked + 1; i <= appended; i++ {
		if !seen[i] {
			t.Fatalf("record %d was appended (Append returned) and not acknowledged, but is lost", i)
		}
	}
	t.Logf("child appended %d, acknowledged %d; recovered %d records", appended+1, acked+1, len(seen))
}

func crashChild(dir string) {
	s, err := spool.Open(dir, spool.Options{Name: "crash", SegmentBytes: 16 << 10}, nil, nil)
	if err != nil {
		fmt.Println("open", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	go func() {
		for {
			es, err := s.Read(context.Background(), 37, 0)
			if err != nil {
				return
			}
			if err := s.Ack(es[len(es)-1].Index); err != nil {
				return
			}
			var v struct{ N int }
			json.Unmarshal(es[len(es)-1].Data, &v)
			fmt.Printf("acked %d\n", v.N)
			time.Sleep(5 * time.Millisecond) // let the backlog grow so the kill finds records held
		}
	}()
	for i := 0; ; i += 3 {
		if err := s.Append(context.Background(), rec(i), rec(i+1), rec(i+2)); err != nil {
			os.Exit(1)
		}
		fmt.Fprintf(w, "appended %d\n", i+2)
		w.Flush()
	}
}
