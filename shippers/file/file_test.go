package file

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/shippertest"
)

// lines reads path and returns the Output field of every alert line, failing on a line that is
// not a Falco JSON alert.
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
			t.Fatalf("%s: line %q is not a Falco JSON alert: %v", path, sc.Text(), err)
		}
		out = append(out, a.Output)
	}
	return out
}

func outputs(b shippers.Batch) []string {
	var s []string
	for _, r := range b {
		s = append(s, r.Alert.Output)
	}
	return s
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestAppendAndReopenAfterRotation(t *testing.T) {
	for _, keepAlive := range []bool{true, false} {
		t.Run(map[bool]string{true: "keep_alive", false: "open_per_batch"}[keepAlive], func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "alerts.jsonl")
			reg := prometheus.NewRegistry()
			s, err := New(Config{Filename: path, KeepAlive: &keepAlive}, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			first, second := shippertest.Records("first", 3), shippertest.Records("second", 2)
			if err := s.Send(ctx, first[:2]); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(ctx, first[2:]); err != nil {
				t.Fatal(err)
			}
			// logrotate: move the file away, then SIGHUP (Reopen).
			rotated := path + ".1"
			if err := os.Rename(path, rotated); err != nil {
				t.Fatal(err)
			}
			if keepAlive {
				if err := s.Reopen(); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Send(ctx, second); err != nil {
				t.Fatal(err)
			}
			if got := lines(t, rotated); !equal(got, outputs(first)) {
				t.Errorf("rotated file holds %q, want %q", got, outputs(first))
			}
			if got := lines(t, path); !equal(got, outputs(second)) {
				t.Errorf("new file holds %q, want %q", got, outputs(second))
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("new file mode = %v (%v), want 0600", st.Mode().Perm(), err)
			}
			if n := testutil.ToFloat64(s.m.alerts); n != 5 {
				t.Errorf("alerts written counter = %v, want 5", n)
			}
			if n, err := testutil.GatherAndCount(reg, "lanner_shipper_file_alerts_written_total"); err != nil || n != 1 {
				t.Errorf("registry holds %d series of the alerts counter (%v)", n, err)
			}
		})
	}
}

func TestAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	if err := os.WriteFile(path, []byte("earlier line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Filename: path}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), shippertest.Records("x", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !bytes.HasPrefix(b, []byte("earlier line\n{")) || bytes.Count(b, []byte("\n")) != 2 {
		t.Fatalf("file = %q, want the earlier line then one alert line", b)
	}
}

func TestWriteFailureIsRecoverable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "alerts.jsonl")
	f := false
	s, err := New(Config{Filename: path, KeepAlive: &f}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The file is replaced by a directory: opening it for writing fails.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), shippertest.Records("x", 1))
	if !shippers.IsRecoverable(err) {
		t.Fatalf("Send = %v, want a recoverable error", err)
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty filename", Config{}, "filename: empty"},
		{"missing directory", Config{Filename: filepath.Join(dir, "nope", "a.jsonl")}, "filename: directory"},
		{"bad fsync", Config{Filename: filepath.Join(dir, "a.jsonl"), Fsync: "always"}, `fsync: "always"`},
		{"unwritable", Config{Filename: dir}, "file output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		File Config `yaml:"file_output"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.File.WithDefaults()
	if c.Filename != "/var/log/lanner/alerts.jsonl" || !*c.KeepAlive || c.Fsync != FsyncBatch {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/file.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/file.md does not contain shippers/file/sample.yaml verbatim")
	}
}
