package http

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/shippertest"
)

// peer is a real HTTP server that answers each POST with the next status of a script (200 when
// the script is exhausted) and keeps what it received.
type peer struct {
	mu       sync.Mutex
	script   []int
	retry    string
	received []*http.Request
	bodies   [][]byte
}

func (p *peer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.received = append(p.received, r)
	p.bodies = append(p.bodies, body)
	code := http.StatusOK
	if len(p.script) > 0 {
		code, p.script = p.script[0], p.script[1:]
	}
	if code == http.StatusServiceUnavailable && p.retry != "" {
		w.Header().Set("Retry-After", p.retry)
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte("answer " + http.StatusText(code)))
}

// rules returns the rule of every alert the peer received, parsed as Falco JSON.
func (p *peer) outputs(t *testing.T) []string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, b := range p.bodies {
		a, err := shippers.ParseFalcoJSON(b)
		if err != nil {
			t.Fatalf("body %q is not a Falco JSON alert: %v", b, err)
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

func newShipper(t *testing.T, cfg Config) *Shipper {
	t.Helper()
	s, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestPostsFalcoJSONWithHeaders(t *testing.T) {
	p := &peer{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	s := newShipper(t, Config{URL: srv.URL + "/falco", Headers: []string{"X-Tenant: blue", "Authorization:Bearer t0k"}})
	batch := shippertest.Records("post", 3)
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if got := p.outputs(t); !reflect.DeepEqual(got, outputs(batch)) {
		t.Fatalf("peer received %q, want %q", got, outputs(batch))
	}
	for i, r := range p.received {
		if !bytes.Equal(p.bodies[i], batch[i].Alert.AppendJSON(nil)) {
			t.Errorf("body %d is not Falco's JSON alert bytes", i)
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "lanner",
			"X-Tenant": "blue", "Authorization": "Bearer t0k"} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("request %d: %s = %q, want %q", i, k, got, want)
			}
		}
		if r.Method != http.MethodPost || r.URL.Path != "/falco" {
			t.Errorf("request %d: %s %s", i, r.Method, r.URL.Path)
		}
	}
}

func TestStatusOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		script     []int
		retryAfter string
		// want: nil error, or a recoverable whole-batch error, or a PartialError.
		wantRecoverable bool
		wantRetryAfter  time.Duration
		wantPartial     *shippers.PartialError
	}{
		{name: "all 2xx", script: []int{200, 201, 204}},
		{name: "503 first, with Retry-After", script: []int{503}, retryAfter: "7", wantRecoverable: true, wantRetryAfter: 7 * time.Second},
		{name: "429 first", script: []int{429}, wantRecoverable: true},
		{name: "503 after one delivered", script: []int{200, 503}, retryAfter: "3",
			wantPartial: &shippers.PartialError{Accepted: []int{0}, Retry: []int{1, 2}, RetryAfter: 3 * time.Second}},
		{name: "400 rejects one", script: []int{200, 400, 200},
			wantPartial: &shippers.PartialError{Accepted: []int{0, 2}, Rejected: []int{1}}},
		{name: "404 on all", script: []int{404, 404, 404},
			wantPartial: &shippers.PartialError{Rejected: []int{0, 1, 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &peer{script: tc.script, retry: tc.retryAfter}
			srv := httptest.NewServer(p)
			defer srv.Close()
			s := newShipper(t, Config{URL: srv.URL})
			err := s.Send(context.Background(), shippertest.Records("status", 3))
			var pe *shippers.PartialError
			var re *shippers.RecoverableError
			switch {
			case tc.wantPartial != nil:
				if !errors.As(err, &pe) {
					t.Fatalf("Send = %v, want a PartialError", err)
				}
				if !reflect.DeepEqual(pe.Accepted, tc.wantPartial.Accepted) || !reflect.DeepEqual(pe.Rejected, tc.wantPartial.Rejected) ||
					!reflect.DeepEqual(pe.Retry, tc.wantPartial.Retry) || pe.RetryAfter != tc.wantPartial.RetryAfter {
					t.Fatalf("PartialError = %+v, want %+v", pe, tc.wantPartial)
				}
				if len(pe.RejectErrs) != len(pe.Rejected) {
					t.Fatalf("%d rejections with %d reasons", len(pe.Rejected), len(pe.RejectErrs))
				}
				for _, e := range pe.RejectErrs {
					if !strings.Contains(e.Error(), "answer ") {
						t.Errorf("rejection %q lacks the server's answer", e)
					}
				}
			case tc.wantRecoverable:
				if !errors.As(err, &re) {
					t.Fatalf("Send = %v, want a RecoverableError", err)
				}
				if re.RetryAfter != tc.wantRetryAfter {
					t.Fatalf("RetryAfter = %v, want %v", re.RetryAfter, tc.wantRetryAfter)
				}
				if len(p.received) != 1 {
					t.Fatalf("%d requests after a transient failure, want 1 (the rest waits for the retry)", len(p.received))
				}
			default:
				if err != nil {
					t.Fatalf("Send = %v", err)
				}
			}
		})
	}
}

// TestRetryThen200 is the retry the output worker makes: the same batch again after a 503.
func TestRetryThen200(t *testing.T) {
	p := &peer{script: []int{503}}
	srv := httptest.NewServer(p)
	defer srv.Close()
	s := newShipper(t, Config{URL: srv.URL})
	batch := shippertest.Records("retry", 2)
	if err := s.Send(context.Background(), batch); !shippers.IsRecoverable(err) {
		t.Fatalf("first Send = %v, want recoverable", err)
	}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("second Send = %v", err)
	}
	if got := p.outputs(t); !reflect.DeepEqual(got, append(outputs(batch[:1]), outputs(batch)...)) {
		t.Fatalf("peer received %q", got)
	}
}

func TestConnectionRefusedIsRecoverable(t *testing.T) {
	srv := httptest.NewServer(&peer{})
	url := srv.URL
	srv.Close()
	s := newShipper(t, Config{URL: url})
	if err := s.Send(context.Background(), shippertest.Records("down", 1)); !shippers.IsRecoverable(err) {
		t.Fatalf("Send to a closed port = %v, want recoverable", err)
	}
}

func TestRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"": 0, "0": 0, "12": 12 * time.Second, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Hour).Format(http.TimeFormat): 0} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func writeCAPEM(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLS(t *testing.T) {
	p := &peer{}
	srv := httptest.NewTLSServer(p)
	defer srv.Close()
	ca := writeCAPEM(t, srv)
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"ca_cert trusts the server", Config{URL: srv.URL, CACert: ca}, true},
		{"insecure skips verification", Config{URL: srv.URL, Insecure: true}, true},
		{"system roots do not know the server", Config{URL: srv.URL}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newShipper(t, tc.cfg)
			err := s.Send(context.Background(), shippertest.Records("tls", 1))
			if tc.ok && err != nil {
				t.Fatalf("Send = %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("Send = %v, want a certificate error", err)
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{}, "url: empty"},
		{"not a url", Config{URL: "://x"}, "is not an http(s) URL"},
		{"ftp", Config{URL: "ftp://h/x"}, "is not an http(s) URL"},
		{"no host", Config{URL: "http:///x"}, "is not an http(s) URL"},
		{"insecure and ca", Config{URL: "https://h", Insecure: true, CACert: notPEM}, "insecure: contradicts ca_cert"},
		{"cert without key", Config{URL: "https://h", ClientCert: "c.pem"}, "set both or neither"},
		{"bad header name", Config{URL: "https://h", Headers: []string{"X Bad: v"}}, `headers: "X Bad: v"`},
		{"header without colon", Config{URL: "https://h", Headers: []string{"X-Tenant blue"}}, `headers: "X-Tenant blue"`},
		{"missing ca", Config{URL: "https://h", CACert: filepath.Join(dir, "none.pem")}, "ca_cert:"},
		{"ca not pem", Config{URL: "https://h", CACert: notPEM}, "holds no PEM certificate"},
		{"missing client cert", Config{URL: "https://h", ClientCert: filepath.Join(dir, "c"), ClientKey: filepath.Join(dir, "k")}, "client_cert/client_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "http output: ") {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		HTTP Config `yaml:"http_output"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.HTTP.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if c.URL != "http://127.0.0.1:2801/" || c.Timeout != 10*time.Second || len(c.Headers) != 1 || c.Headers[0] != "X-Lanner-Source: collector" {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/http.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/http.md does not contain shippers/http/sample.yaml verbatim")
	}
}
