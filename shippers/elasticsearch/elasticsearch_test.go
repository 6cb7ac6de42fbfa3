package elasticsearch

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

func testRecord(i int) *shippers.Record {
	a := &alert.Alert{
		Time: time.Date(2026, 11, 26, 10, 0, 0, i, time.UTC), Rule: "Terminal shell in container",
		Priority: alert.Notice, Source: event.SourceSyscall, Tags: []string{"T1059", "container", "mitre_execution", "shell"},
		Output:   fmt.Sprintf("10:00:00.000000000: Notice A shell was spawned (n=%d)", i),
		Message:  fmt.Sprintf("A shell was spawned (n=%d)", i),
		Hostname: "node-1",
		OutputFields: map[string]any{"evt.type": "execve", "proc.name": "bash", "proc.exepath": "/usr/bin/bash",
			"proc.cmdline": "bash -i", "proc.args": "-i", "proc.pid": int64(4242), "proc.ppid": int64(1),
			"proc.pname": "runc", "user.uid": int64(0), "user.name": "root", "container.id": "abcdef012345",
			"container.name": "web", "container.image.repository": "nginx", "container.image.tag": "1.25",
			"k8s.ns.name": "default", "k8s.pod.name": "web-1", "fd.name": nil},
	}
	return shippers.NewRecord(a, "A shell was used as the entrypoint", "falco_rules.yaml")
}

// fakeES answers _bulk with the statuses of the test (and the product header go-elasticsearch
// demands). A fake is used here only for what the real node cannot be made to do on demand:
// per-item 429s, 5xx, 413 and Retry-After.
type fakeES struct {
	mu       sync.Mutex
	bodies   [][]string                        // action lines of each request
	answer   func(n int, req int) (int, []int) // request status and per-item statuses
	header   http.Header
	gzipSeen bool
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		w.WriteHeader(200)
		io.WriteString(w, `{"acknowledged":true}`)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(400)
			return
		}
		body = zr
	}
	var actions []string
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 10<<20)
	for i := 0; sc.Scan(); i++ {
		if i%2 == 0 {
			actions = append(actions, sc.Text())
		}
	}
	f.mu.Lock()
	f.gzipSeen = f.gzipSeen || r.Header.Get("Content-Encoding") == "gzip"
	f.bodies = append(f.bodies, actions)
	reqN := len(f.bodies)
	f.mu.Unlock()
	st, items := f.answer(len(actions), reqN)
	for k, v := range f.header {
		w.Header()[k] = v
	}
	if st != 200 {
		w.WriteHeader(st)
		fmt.Fprintf(w, `{"error":{"type":"x","reason":"request status %d"},"status":%d}`, st, st)
		return
	}
	var out []string
	errs := false
	for _, s := range items {
		switch {
		case s < 300:
			out = append(out, fmt.Sprintf(`{"create":{"status":%d}}`, s))
		default:
			errs = true
			typ := map[int]string{409: "version_conflict_engine_exception", 429: "es_rejected_execution_exception",
				400: "document_parsing_exception", 503: "unavailable_shards_exception"}[s]
			out = append(out, fmt.Sprintf(`{"create":{"status":%d,"error":{"type":%q,"reason":"because %d"}}}`, s, typ, s))
		}
	}
	fmt.Fprintf(w, `{"errors":%v,"items":[%s]}`, errs, strings.Join(out, ","))
}

func newTestShipper(t *testing.T, url string, mod func(*Config)) *Shipper {
	t.Helper()
	c := Config{Addresses: []string{url}, Setup: boolp(false)}
	if mod != nil {
		mod(&c)
	}
	s, err := New(c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func batchOf(n int) shippers.Batch {
	b := make(shippers.Batch, n)
	for i := range b {
		b[i] = testRecord(i)
	}
	return b
}

func TestClassifyBulkItems(t *testing.T) {
	for _, tc := range []struct {
		name                            string
		items                           []int
		accepted, dups, rejected, retry []int
		wantNil                         bool
	}{
		{"all created", []int{201, 201, 201}, []int{0, 1, 2}, nil, nil, nil, true},
		{"duplicate counts as delivered", []int{201, 409, 201}, []int{0, 2}, []int{1}, nil, nil, false},
		{"per-item 429 retried", []int{201, 429, 201}, []int{0, 2}, nil, nil, []int{1}, false},
		{"mapping error rejected", []int{400, 201, 201}, []int{1, 2}, nil, []int{0}, nil, false},
		{"5xx retried", []int{503, 500, 201}, []int{2}, nil, nil, []int{0, 1}, false},
		{"mixed", []int{201, 409, 429, 400, 503, 404}, []int{0}, []int{1}, []int{3, 5}, []int{2, 4}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeES{answer: func(n, _ int) (int, []int) { return 200, tc.items }}
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := newTestShipper(t, srv.URL, nil)
			err := s.Send(context.Background(), batchOf(len(tc.items)))
			if tc.wantNil {
				if err != nil {
					t.Fatalf("Send = %v, want nil", err)
				}
				return
			}
			var pe *shippers.PartialError
			if !errors.As(err, &pe) {
				t.Fatalf("Send = %v, want a *PartialError", err)
			}
			sorted := func(s []int) []int { s = slices.Clone(s); slices.Sort(s); return s }
			if !slices.Equal(sorted(pe.Accepted), tc.accepted) || !slices.Equal(sorted(pe.Duplicates), tc.dups) ||
				!slices.Equal(sorted(pe.Rejected), tc.rejected) || !slices.Equal(sorted(pe.Retry), tc.retry) {
				t.Fatalf("accepted %v dups %v rejected %v retry %v; want %v %v %v %v",
					pe.Accepted, pe.Duplicates, pe.Rejected, pe.Retry, tc.accepted, tc.dups, tc.rejected, tc.retry)
			}
			if len(pe.RejectErrs) != len(pe.Rejected) {
				t.Fatalf("%d reasons for %d rejections", len(pe.RejectErrs), len(pe.Rejected))
			}
			for _, e := range pe.RejectErrs {
				if !strings.Contains(e.Error(), "because") {
					t.Fatalf("rejection reason %q lacks the server's reason", e)
				}
			}
		})
	}
}

func TestRequestFailures(t *testing.T) {
	t.Run("429 with Retry-After is recoverable", func(t *testing.T) {
		f := &fakeES{answer: func(n, _ int) (int, []int) { return 429, nil }, header: http.Header{"Retry-After": {"7"}}}
		srv := httptest.NewServer(f)
		defer srv.Close()
		err := newTestShipper(t, srv.URL, nil).Send(context.Background(), batchOf(3))
		var re *shippers.RecoverableError
		if !errors.As(err, &re) || re.RetryAfter != 7*time.Second {
			t.Fatalf("Send = %#v, want RecoverableError with RetryAfter 7s", err)
		}
	})
	t.Run("connection refused is recoverable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		err := newTestShipper(t, url, nil).Send(context.Background(), batchOf(2))
		if !shippers.IsRecoverable(err) {
			t.Fatalf("Send = %v, want recoverable", err)
		}
	})
	t.Run("401 is not marked recoverable", func(t *testing.T) {
		f := &fakeES{answer: func(n, _ int) (int, []int) { return 401, nil }}
		srv := httptest.NewServer(f)
		defer srv.Close()
		err := newTestShipper(t, srv.URL, nil).Send(context.Background(), batchOf(2))
		if err == nil || shippers.IsRecoverable(err) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("Send = %v, want a plain error naming 401", err)
		}
	})
	t.Run("413 splits until it fits", func(t *testing.T) {
		// The fake refuses requests of more than 2 items.
		f := &fakeES{answer: func(n, _ int) (int, []int) {
			if n > 2 {
				return 413, nil
			}
			return 200, slices.Repeat([]int{201}, n)
		}}
		srv := httptest.NewServer(f)
		defer srv.Close()
		if err := newTestShipper(t, srv.URL, nil).Send(context.Background(), batchOf(7)); err != nil {
			t.Fatalf("Send = %v, want nil after splitting", err)
		}
		var ids []string
		for _, b := range f.bodies {
			if len(b) <= 2 {
				ids = append(ids, b...)
			}
		}
		if len(ids) != 7 {
			t.Fatalf("%d items reached the fake in accepted requests, want 7", len(ids))
		}
	})
	t.Run("413 for a single alert rejects it", func(t *testing.T) {
		f := &fakeES{answer: func(n, _ int) (int, []int) { return 413, nil }}
		srv := httptest.NewServer(f)
		defer srv.Close()
		err := newTestShipper(t, srv.URL, nil).Send(context.Background(), batchOf(1))
		var pe *shippers.PartialError
		if !errors.As(err, &pe) || len(pe.Rejected) != 1 {
			t.Fatalf("Send = %v, want one rejection", err)
		}
	})
}

func TestBulkRequestShape(t *testing.T) {
	f := &fakeES{answer: func(n, _ int) (int, []int) { return 200, slices.Repeat([]int{201}, n) }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s := newTestShipper(t, srv.URL, func(c *Config) { c.FlushBytes = 4096; c.Concurrency = 3 })
	b := batchOf(20)
	if err := s.Send(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if f.gzipSeen {
		t.Fatal("request bodies to a loopback address were gzipped (compress defaults to off there)")
	}
	if len(f.bodies) < 2 {
		t.Fatalf("20 alerts of ~2 KB in %d request(s) with flush_bytes 4096", len(f.bodies))
	}
	seen := map[string]bool{}
	for _, req := range f.bodies {
		for _, a := range req {
			var act struct {
				Create struct {
					Index string `json:"_index"`
					ID    string `json:"_id"`
				} `json:"create"`
			}
			if err := json.Unmarshal([]byte(a), &act); err != nil {
				t.Fatalf("action line %s: %v", a, err)
			}
			if act.Create.Index != "logs-lanner.alerts-default" || act.Create.ID == "" {
				t.Fatalf("action %s: want create into the data stream with an _id", a)
			}
			seen[act.Create.ID] = true
		}
	}
	for _, r := range b {
		if !seen[r.ID] {
			t.Fatalf("record %s not sent", r.ID)
		}
	}
}

func TestCompressDefault(t *testing.T) {
	for addrs, want := range map[string]bool{"http://127.0.0.1:9200": false, "http://localhost:9200,http://[::1]:9200": false,
		"https://es.example:9200": true, "http://127.0.0.1:9200,http://10.1.2.3:9200": true} {
		c := Config{Addresses: strings.Split(addrs, ",")}.WithDefaults()
		if *c.Compress != want {
			t.Errorf("compress for %s = %v, want %v", addrs, *c.Compress, want)
		}
	}
	if c := (Config{Compress: boolp(true)}).WithDefaults(); !*c.Compress {
		t.Error("an explicit compress: true was overridden")
	}
}

func TestGzipWhenAsked(t *testing.T) {
	f := &fakeES{answer: func(n, _ int) (int, []int) { return 200, slices.Repeat([]int{201}, n) }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	if err := newTestShipper(t, srv.URL, func(c *Config) { c.Compress = boolp(true) }).Send(context.Background(), batchOf(3)); err != nil {
		t.Fatal(err)
	}
	if !f.gzipSeen {
		t.Fatal("compress: true sent plain bodies")
	}
}

func TestIndexMode(t *testing.T) {
	c := Config{Mode: ModeIndex, IndexPrefix: "sec-alerts"}.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// The date is the event's, in UTC, so a retry days later lands in the same index.
	got := c.indexFor(time.Date(2026, 1, 2, 23, 30, 0, 0, time.FixedZone("x", -5*3600)))
	if got != "sec-alerts-2026.01.03" {
		t.Fatalf("index = %s", got)
	}
	if c.pattern() != "sec-alerts-*" {
		t.Fatalf("pattern = %s", c.pattern())
	}
	ds := DefaultConfig()
	if ds.pattern() != "logs-lanner.alerts-*" {
		t.Fatalf("data stream pattern = %s", ds.pattern())
	}
}

func TestConfigValidate(t *testing.T) {
	ca := t.TempDir() + "/ca.pem"
	os.WriteFile(ca, []byte("x"), 0o600)
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(c *Config) {}, ""},
		{"bad url", func(c *Config) { c.Addresses = []string{"127.0.0.1:9200"} }, "addresses"},
		{"two auths", func(c *Config) { c.Username, c.Password, c.APIKey = "u", "p", "k" }, "only one"},
		{"password alone", func(c *Config) { c.Password = "p" }, "without username"},
		{"insecure and CA", func(c *Config) { c.TLS.InsecureSkipVerify, c.TLS.CAFile = true, ca }, "contradicts"},
		{"missing CA", func(c *Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, "tls.ca_file"},
		{"bad fingerprint", func(c *Config) { c.TLS.Fingerprint = "abc" }, "fingerprint"},
		{"mode", func(c *Config) { c.Mode = "alias" }, "mode"},
		{"data stream name", func(c *Config) { c.DataStream = "Lanner" }, "data_stream"},
		{"index prefix", func(c *Config) { c.Mode, c.IndexPrefix = ModeIndex, "Bad Name" }, "index_prefix"},
		{"retention", func(c *Config) { c.ILMDeleteAfter = "90 days" }, "ilm_delete_after"},
		{"concurrency", func(c *Config) { c.Concurrency = 1000 }, "concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			_, err := New(c, nil, nil)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Elasticsearch Config `yaml:"elasticsearch"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.Elasticsearch.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if c.FlushInterval != time.Second || c.DataStream != "logs-lanner.alerts-default" || c.BatchSize != 2000 {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/elasticsearch.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/elasticsearch.md does not contain shippers/elasticsearch/sample.yaml verbatim")
	}
}

func TestSecretsNotLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slogTo(&buf)
	_, err := New(Config{Username: "elastic", Password: "hunter2-password"}, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{APIKey: "c2VjcmV0LWFwaS1rZXk="}, logger, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "hunter2") || strings.Contains(buf.String(), "c2VjcmV0") {
		t.Fatalf("a secret reached the log: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "<secret>") {
		t.Fatalf("log does not show that a secret is set: %s", buf.String())
	}
	out, _ := yaml.Marshal(Config{Password: "hunter2"})
	if strings.Contains(string(out), "hunter2") {
		t.Fatal("YAML dump carries the password")
	}
}
