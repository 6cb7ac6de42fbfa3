package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

// syncBuffer is a bytes.Buffer the collector writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a 127.0.0.1 address nothing listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitFor polls cond until it holds or the test's patience (not a timing assertion: only how
// long to wait before failing) runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunConfigErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("json_output: true\ncolour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badRules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(badRules, []byte("- rule: x\n  desc: d\n  condition: evt.type = nope\n  output: o\n  priority: WARNING\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown key", []string{"run", "-c", bad}, "bad.yaml:2: unknown key \"colour\""},
		{"bad flag value", []string{"run", "--log.level", "loud"}, "log.level"},
		{"unknown flag", []string{"run", "--no-such-flag"}, "unknown flag"},
		{"missing config", []string{"run", "-c", filepath.Join(dir, "missing.yaml")}, "missing.yaml"},
		{"rules that do not load", []string{"run", "-r", badRules, "--http.enabled=false"}, "rules do not load"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := newRootCmd()
			var out, errOut bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&errOut)
			root.SetArgs(c.args)
			err := root.Execute()
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("want a usage error (exit 2), got %v", err)
			}
			if !strings.Contains(ue.msg, c.want) {
				t.Errorf("message %q lacks %q", ue.msg, c.want)
			}
		})
	}
}

func TestRunHelpHasExampleAndEveryKey(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"run", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Examples:", "lanner run -c deploy/local/lanner.yaml", "-r, --rules",
		"--capture.poll-interval", "--elasticsearch.addresses", "--audit.bearer-token-file", "SIGTERM"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

// TestRunAuditSource runs the whole command in-process without eBPF: the audit webhook source
// feeds the engine, alerts reach stdout as Falco JSON, the metrics move, and cancelling (what
// SIGTERM does) ends it cleanly.
// testdataEvent returns the line of rules/testdata/lanner_events.jsonl whose auditID is id.
func testdataEvent(t *testing.T, id string) []byte {
	t.Helper()
	events, err := os.ReadFile("../../rules/testdata/lanner_events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(events) {
		if bytes.Contains(line, []byte(`"auditID":"`+id+`"`)) {
			return bytes.TrimSpace(line)
		}
	}
	t.Fatalf("the %s audit event is not in the testdata", id)
	return nil
}

// httpGetter returns a GET of a path on addr that answers the status and body (0 and the error
// when the request fails, so that it can be polled before the server listens).
func httpGetter(addr string) func(path string) (int, string) {
	return func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

func TestRunAuditSource(t *testing.T) {
	privPod := testdataEvent(t, "k-priv-pos")
	auditAddr, httpAddr := freeAddr(t), freeAddr(t)
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("LANNER_HOSTNAME", "test-node")
	root := newRootCmd()
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs([]string{"run", "-r", "../../rules/lanner_rules.yaml", "--capture.enabled=false",
		"--audit.enabled", "--audit.plaintext", "--audit.allow-unauthenticated", "--audit.listen", auditAddr,
		"--http.listen", httpAddr})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	get := httpGetter(httpAddr)
	waitFor(t, "/readyz", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	waitFor(t, "the webhook to accept", func() bool {
		resp, err := http.Post("http://"+auditAddr+"/k8s-audit", "application/json", bytes.NewReader(privPod))
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %s", resp.Status)
		}
		return true
	})
	waitFor(t, "the alert on stdout", func() bool { return strings.Contains(stdout.String(), "\n") })

	var a struct {
		Rule, Priority, Source, Hostname, Output string
		OutputFields                             map[string]any `json:"output_fields"`
	}
	line, _, _ := bufio.NewReader(strings.NewReader(stdout.String())).ReadLine()
	if err := json.Unmarshal(line, &a); err != nil {
		t.Fatalf("stdout is not a Falco JSON line: %v: %s", err, line)
	}
	checks := []struct{ name, got, want string }{
		{"rule", a.Rule, "Lanner Privileged Pod Created"},
		{"priority", a.Priority, "Warning"},
		{"source", a.Source, "k8s_audit"},
		{"hostname", a.Hostname, "test-node"},
		{"ka.user.name", a.OutputFields["ka.user.name"].(string), "kubernetes-admin"},
		{"ka.target.namespace", a.OutputFields["ka.target.namespace"].(string), "dev"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !strings.Contains(a.Output, "Privileged pod created (user=kubernetes-admin pod=tools ns=dev") {
		t.Errorf("output = %q", a.Output)
	}

	_, metrics := get("/metrics")
	for _, want := range []string{
		`lanner_alerts_total{priority="Warning",rule="Lanner Privileged Pod Created",source="k8s_audit"} 1`,
		`lanner_events_total{source="k8s_audit"} 1`,
		`lanner_events_dropped_total{reason="buffer"} 0`,
		"go_goroutines", "process_cpu_seconds_total",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run ended with %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown line in the log:\n%s", stderr.String())
	}
	if strings.Count(stdout.String(), "\n") != 1 {
		t.Errorf("want exactly one alert, got:\n%s", stdout.String())
	}
}

func TestRunMetricsLint(t *testing.T) {
	m, err := newRunMetrics()
	if err != nil {
		t.Fatal(err)
	}
	m.alerts.WithLabelValues("r", "Warning", "syscall").Inc()
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "lanner_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func TestStdoutSinkFormats(t *testing.T) {
	a := &alert.Alert{Time: time.Unix(0, 1795723529028066729).UTC(), Rule: "R", Priority: alert.Warning,
		Source: event.SourceSyscall, Hostname: "h", Output: "12:00:00.000000000: Warning bad\nforged line",
		OutputFields: map[string]any{"proc.name": "x"}}
	low := *a
	low.Priority, low.Output = alert.Informational, "12:00:00.000000000: Informational quiet"
	cases := []struct {
		json bool
		want string
	}{
		{false, `12:00:00.000000000: Warning bad\nforged line` + "\n"},
		{true, string(a.AppendJSON(nil)) + "\n"},
	}
	for _, c := range cases {
		out := &syncBuffer{}
		// The filter is the one every output has: Informational stays off the terminal.
		s, err := newStdoutSink(out, config.Stdout{Enabled: true, Filter: shippers.FilterConfig{MinimumPriority: "notice"}},
			c.json, 10*time.Second, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		for _, x := range []*alert.Alert{&low, a} {
			if err := s.Write(context.Background(), x, nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
		if out.String() != c.want {
			t.Errorf("json=%v: wrote %q, want %q", c.json, out.String(), c.want)
		}
	}
}

// fakeAPIServer answers the lists and watches of the enrich cache with nothing (watches stay open
// until the client leaves), which is all an informer needs to sync. It stands in for an API
// server because none runs here; the cache itself is tested against client-go's fake clientset
// in enrich/. pods are JSON Pod objects the pod list holds.
func fakeAPIServer(t *testing.T, pods ...string) (url string, requests func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	type res struct{ kind, apiVersion string }
	kinds := map[string]res{"/api/v1/pods": {"Pod", "v1"}, "/api/v1/namespaces": {"Namespace", "v1"},
		"/apis/apps/v1/replicasets": {"ReplicaSet", "apps/v1"}, "/apis/batch/v1/jobs": {"Job", "batch/v1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		kind, ok := kinds[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") == "true" {
			w.WriteHeader(http.StatusOK)
			if r.URL.Query().Get("sendInitialEvents") == "true" {
				// client-go's streaming list: the initial state, then a bookmark ends it
				if kind.kind == "Pod" {
					for _, p := range pods {
						fmt.Fprintf(w, `{"type":"ADDED","object":%s}`+"\n", p)
					}
				}
				fmt.Fprintf(w, `{"type":"BOOKMARK","object":{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n",
					kind.kind, kind.apiVersion)
			}
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		items := ""
		if kind.kind == "Pod" {
			items = strings.Join(pods, ",")
		}
		fmt.Fprintf(w, `{"kind":%q,"apiVersion":%q,"metadata":{"resourceVersion":"1"},"items":[%s]}`, kind.kind+"List", kind.apiVersion, items)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// TestRunKubernetesCache: kubernetes.enabled starts the pod cache on the configured node, and
// /readyz reports it once the informers have listed.
func TestRunKubernetesCache(t *testing.T) {
	apiURL, requests := fakeAPIServer(t)
	kubeconfig := writeKubeconfig(t, apiURL)
	httpAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	stderr := &syncBuffer{}
	root.SetOut(io.Discard)
	root.SetErr(stderr)
	root.SetArgs([]string{"run", "-r", "../../rules/lanner_rules.yaml", "--capture.enabled=false",
		"--audit.enabled", "--audit.plaintext", "--audit.allow-unauthenticated", "--audit.listen", freeAddr(t),
		"--http.listen", httpAddr, "--kubernetes.enabled", "--kubernetes.kubeconfig", kubeconfig,
		"--kubernetes.node-name", "node-a"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var body string
	waitFor(t, "/readyz with the pod cache synced", func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(body, "kubernetes: ok") {
		t.Errorf("/readyz does not report the pod cache:\n%s", body)
	}
	podWatchOnNode := false
	for _, r := range requests() {
		if strings.HasPrefix(r, "/api/v1/pods?") && strings.Contains(r, "fieldSelector=spec.nodeName%3Dnode-a") {
			podWatchOnNode = true
		}
	}
	if !podWatchOnNode {
		t.Errorf("pods were not listed for node-a only: %q", requests())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
}

// writeKubeconfig writes a kubeconfig for the API server at url.
func writeKubeconfig(t *testing.T, url string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, url)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The audit source authenticates the API server by its bearer token.
func TestRunAuditBearerToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	auditAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	stderr := &syncBuffer{}
	root.SetOut(io.Discard)
	root.SetErr(stderr)
	root.SetArgs([]string{"run", "-r", "../../rules/lanner_rules.yaml", "--capture.enabled=false", "--http.enabled=false",
		"--audit.enabled", "--audit.plaintext", "--audit.bearer-token-file", tokenFile, "--audit.listen", auditAddr})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+auditAddr+"/k8s-audit",
			strings.NewReader(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor(t, "the webhook", func() bool { return post("s3cret-token") != 0 })
	cases := []struct {
		token string
		want  int
	}{{"s3cret-token", http.StatusOK}, {"", http.StatusUnauthorized}, {"wrong", http.StatusForbidden}}
	for _, c := range cases {
		if got := post(c.token); got != c.want {
			t.Errorf("token %q: status %d, want %d", c.token, got, c.want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), "s3cret-token") {
		t.Error("the token reached the log")
	}
}
