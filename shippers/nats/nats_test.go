package nats

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

// runServer starts an embedded NATS server on a free local port.
func runServer(t *testing.T, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func record(rule string, p alert.Priority, i int) *shippers.Record {
	a := &alert.Alert{Time: time.Date(2026, 11, 26, 12, 0, 0, i, time.UTC), Rule: rule, Priority: p,
		Source: event.SourceSyscall, Hostname: "node-1", Output: fmt.Sprintf("12:00:00: %s %s %d", p, rule, i),
		OutputFields: map[string]any{"proc.name": "bash"}}
	return shippers.NewRecord(a, "", "")
}

func TestSubject(t *testing.T) {
	for _, tc := range []struct {
		tmpl, rule string
		p          alert.Priority
		want       string
	}{
		{DefaultSubjectTemplate, "Terminal shell in container", alert.Notice, "falco.notice.terminal_shell_in_container"},
		{DefaultSubjectTemplate, "  Read sensitive file (untrusted)! ", alert.Warning, "falco.warning.read_sensitive_file_untrusted"},
		{DefaultSubjectTemplate, "K8s Secret Get Successfully", alert.Emergency, "falco.emergency.k8s_secret_get_successfully"},
		{DefaultSubjectTemplate, "***", alert.Debug, "falco.debug.unknown"},
		{"alerts.<source>.<priority>", "x", alert.Critical, "alerts.syscall.critical"},
	} {
		a := &alert.Alert{Rule: tc.rule, Priority: tc.p, Source: event.SourceSyscall}
		if got := subject(tc.tmpl, a); got != tc.want {
			t.Errorf("subject(%q, %q, %s) = %q, want %q", tc.tmpl, tc.rule, tc.p, got, tc.want)
		}
	}
}

// TestWildcardSubscriber: a subscriber on falco.critical.> gets exactly the critical alerts,
// as Falco JSON, on falcosidekick's subjects.
func TestWildcardSubscriber(t *testing.T) {
	srv := runServer(t, -1)
	sub, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	critical, err := sub.SubscribeSync("falco.critical.>")
	if err != nil {
		t.Fatal(err)
	}
	all, err := sub.SubscribeSync("falco.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{URL: srv.ClientURL()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := shippers.Batch{record("Terminal shell in container", alert.Notice, 1), record("Drop and execute new binary", alert.Critical, 2),
		record("Write below etc", alert.Error, 3), record("Run shell untrusted", alert.Critical, 4)}
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	next := func(sb *natsgo.Subscription) *natsgo.Msg {
		t.Helper()
		m, err := sb.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("subscriber on %s: %v", sb.Subject, err)
		}
		return m
	}
	for _, want := range []struct{ subject, rule string }{
		{"falco.critical.drop_and_execute_new_binary", "Drop and execute new binary"},
		{"falco.critical.run_shell_untrusted", "Run shell untrusted"},
	} {
		m := next(critical)
		a, err := shippers.ParseFalcoJSON(m.Data)
		if m.Subject != want.subject || err != nil || a.Rule != want.rule || a.Priority != alert.Critical {
			t.Fatalf("critical subscriber got %s %q (%v), want %s with rule %q", m.Subject, m.Data, err, want.subject, want.rule)
		}
	}
	for i, r := range batch {
		m := next(all)
		if want := subject(DefaultSubjectTemplate, r.Alert); m.Subject != want || !bytes.Equal(m.Data, r.Alert.AppendJSON(nil)) {
			t.Fatalf("message %d: %s %q, want %s with the alert's Falco JSON", i, m.Subject, m.Data, want)
		}
	}
	// Every message was flushed before the subscriber's own round trip answered: nothing more.
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := critical.Pending(); n != 0 {
		t.Fatalf("%d more messages on falco.critical.>", n)
	}
}

// TestServerDown: with the server gone a batch fails recoverably (it stays in the spool).
func TestServerDown(t *testing.T) {
	srv := runServer(t, -1)
	url := srv.ClientURL()
	s, err := New(Config{URL: url, ReconnectWait: 20 * time.Millisecond, Timeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
	err = s.Send(context.Background(), shippers.Batch{record("R", alert.Critical, 1)})
	if !shippers.IsRecoverable(err) {
		t.Fatalf("Send with the server down = %v, want recoverable", err)
	}
}

// TestStartsWithServerDown: an unreachable server at start does not fail New.
func TestStartsWithServerDown(t *testing.T) {
	s, err := New(Config{URL: "nats://127.0.0.1:1", ReconnectWait: time.Hour, Timeout: 100 * time.Millisecond}, nil, nil)
	if err != nil {
		t.Fatalf("New with the server down = %v", err)
	}
	defer s.Close()
	if err := s.Send(context.Background(), shippers.Batch{record("R", alert.Critical, 1)}); !shippers.IsRecoverable(err) {
		t.Fatalf("Send = %v, want recoverable", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"http url", Config{URL: "http://h:4222"}, "is not a nats:// or tls:// URL"},
		{"no host", Config{URL: "nats://"}, "is not a nats:// or tls:// URL"},
		{"wildcard subject", Config{SubjectTemplate: "falco.*.<rule>"}, "subject_template"},
		{"empty token", Config{SubjectTemplate: "falco..<rule>"}, "subject_template"},
		{"two auths", Config{Auth: Auth{Token: "t", User: "u"}}, "set only one of"},
		{"password alone", Config{Auth: Auth{Password: "p"}}, "password: set without user"},
		{"cert without key", Config{Auth: Auth{ClientCert: "c.pem"}}, "set both or neither"},
		{"missing ca", Config{Auth: Auth{CACert: "/nonexistent/ca.pem"}}, "nats output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "nats output: ") {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		NATS Config `yaml:"nats_output"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.NATS.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if c.URL != "nats://127.0.0.1:4222" || c.SubjectTemplate != DefaultSubjectTemplate || c.ReconnectWait != 2*time.Second {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/nats.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/nats.md does not contain shippers/nats/sample.yaml verbatim")
	}
}

// TestReconnects: a server that comes up after lanner started (and after a batch failed) gets
// the retried batch over the same long-lived connection.
func TestReconnects(t *testing.T) {
	probe := runServer(t, -1)
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Shutdown()
	probe.WaitForShutdown()
	s, err := New(Config{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), ReconnectWait: 10 * time.Millisecond, Timeout: time.Second}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := shippers.Batch{record("Late server", alert.Critical, 1)}
	if err := s.Send(context.Background(), batch); !shippers.IsRecoverable(err) {
		t.Fatalf("Send before the server is up = %v, want recoverable", err)
	}
	srv := runServer(t, port)
	sub, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	critical, err := sub.SubscribeSync("falco.critical.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	// The output worker's retries, with its backoff.
	for i := 0; ; i++ {
		err := s.Send(context.Background(), batch)
		if err == nil {
			break
		}
		if !shippers.IsRecoverable(err) || i > 1000 {
			t.Fatalf("Send after the server came up = %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	m, err := critical.NextMsg(10 * time.Second)
	if err != nil || m.Subject != "falco.critical.late_server" {
		t.Fatalf("subscriber got %v, %v", m, err)
	}
}
