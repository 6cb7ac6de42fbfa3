package program

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/shippertest"
)

func boolp(b bool) *bool { return &b }

func outputs(b shippers.Batch) []string {
	var s []string
	for _, r := range b {
		s = append(s, r.Alert.Output)
	}
	return s
}

// lines returns the Output of every Falco JSON alert line of path.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		a, err := shippers.ParseFalcoJSON(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q is not a Falco JSON alert: %v", sc.Text(), err)
		}
		out = append(out, a.Output)
	}
	return out
}

func TestPipesToCat(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(map[bool]string{true: "keep_alive", false: "per_batch"}[keepAlive], func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.jsonl")
			s, err := New(Config{Program: "cat >> " + out, KeepAlive: boolp(keepAlive)}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			a, b := shippertest.Records("a", 3), shippertest.Records("b", 2)
			for _, batch := range []shippers.Batch{a, b} {
				if err := s.Send(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			// Close waits for cat to read its input to the end and exit.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := lines(t, out), append(outputs(a), outputs(b)...); !reflect.DeepEqual(got, want) {
				t.Fatalf("program wrote %q, want %q", got, want)
			}
			starts := testutil.ToFloat64(s.m.restarts)
			if keepAlive && starts != 0 {
				t.Errorf("%v restarts of a program that never exited", starts)
			}
		})
	}
}

// TestRestartsAfterExit: the program is killed; the next batch starts it again and arrives.
func TestRestartsAfterExit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.jsonl")
	s, err := New(Config{Program: "cat >> " + out, RestartInterval: time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := shippertest.Records("before", 2), shippertest.Records("after", 2)
	if err := s.Send(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	first := s.p
	// Close stdin: cat writes what it read and exits, as a program that finished would.
	_ = first.stdin.Close()
	<-first.done
	// The worker's retry loop: a Send may be told to wait for restart_interval.
	for {
		err := s.Send(context.Background(), b)
		if err == nil {
			break
		}
		var re *shippers.RecoverableError
		if !errors.As(err, &re) {
			t.Fatalf("Send after the exit = %v, want nil or recoverable", err)
		}
		time.Sleep(re.RetryAfter)
	}
	if s.p == first || s.p == nil {
		t.Fatal("program not started again")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := lines(t, out), append(outputs(a), outputs(b)...); !reflect.DeepEqual(got, want) {
		t.Fatalf("program wrote %q, want %q", got, want)
	}
	if n := testutil.ToFloat64(s.m.restarts); n != 1 {
		t.Fatalf("restarts = %v, want 1", n)
	}
}

// TestRestartIsBounded: a program that exits at once is not started again within
// restart_interval; the batch fails recoverably with the remaining wait as Retry-After.
func TestRestartIsBounded(t *testing.T) {
	s, err := New(Config{Program: "true", RestartInterval: time.Hour}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := shippertest.Records("x", 1)
	// The first write may land in the pipe before true exits, or fail on the closed pipe.
	_ = s.Send(context.Background(), batch)
	if s.p != nil {
		<-s.p.done
	}
	err = s.Send(context.Background(), batch)
	var re *shippers.RecoverableError
	if !errors.As(err, &re) || re.RetryAfter < 59*time.Minute || !strings.Contains(err.Error(), "restart delayed") {
		t.Fatalf("Send = %v, want a recoverable error asking to wait about an hour", err)
	}
	if n := testutil.ToFloat64(s.m.restarts); n != 0 {
		t.Fatalf("restarts = %v, want 0 within the interval", n)
	}
}

func TestNonZeroExitFailsBatch(t *testing.T) {
	s, err := New(Config{Program: "cat > /dev/null; exit 3", KeepAlive: boolp(false)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Send(context.Background(), shippertest.Records("x", 2))
	if !shippers.IsRecoverable(err) || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("Send = %v, want a recoverable error with the exit status", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty", Config{}, "program: empty"},
		{"missing program", Config{Program: "surely-not-a-program-lanner --x"}, `program: "surely-not-a-program-lanner"`},
		{"negative interval", Config{Program: "cat", RestartInterval: -time.Second}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "program output: ") {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Program Config `yaml:"program_output"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.Program.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if !*c.KeepAlive || c.RestartInterval != time.Second || !strings.HasPrefix(c.Program, "cat ") {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/program.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/program.md does not contain shippers/program/sample.yaml verbatim")
	}
}
