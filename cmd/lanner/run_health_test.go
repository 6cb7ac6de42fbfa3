package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunReadyzFollowsOutputs runs the collector with the audit source and the http output
// pointed at a real HTTP server that refuses (503) and then accepts: /readyz must say the output
// is failing while it refuses and be ready again once the spooled alert is delivered; /healthz
// stays up throughout (a liveness probe must not restart a collector whose destination is down).
// The alert goes through the audit trail, whose state lands beside the output's spool.
func TestRunReadyzFollowsOutputs(t *testing.T) {
	privPod := testdataEvent(t, "k-priv-pos")
	var accept atomic.Bool
	var delivered atomic.Int32
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if !accept.Load() {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		delivered.Add(1)
	}))
	defer peer.Close()

	dir := t.TempDir()
	auditAddr, httpAddr := freeAddr(t), freeAddr(t)
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	root.SetOut(io.Discard)
	root.SetErr(stderr)
	root.SetArgs([]string{"run", "-r", "../../rules/lanner_rules.yaml", "--capture.enabled=false", "--stdout.enabled=false",
		"--audit.enabled", "--audit.plaintext", "--audit.allow-unauthenticated", "--audit.listen", auditAddr,
		"--http.listen", httpAddr,
		"--http-output.enabled", "--http-output.url", peer.URL, "--http-output.spool-dir", filepath.Join(dir, "spool", "http")})
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
		return resp.StatusCode == http.StatusOK
	})
	var body string
	waitFor(t, "/readyz to report the failing output", func() bool {
		var code int
		code, body = get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "output http") || !strings.Contains(body, "failing since") {
		t.Errorf("/readyz while the output fails:\n%s", body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d while an output is down", code)
	}
	accept.Store(true)
	waitFor(t, "the spooled alert delivered and /readyz ready again", func() bool {
		code, _ := get("/readyz")
		return delivered.Load() == 1 && code == http.StatusOK
	})
	_, metrics := get("/metrics")
	if !strings.Contains(metrics, "lanner_audit_trail_links_total 1") || !strings.Contains(metrics, "lanner_audit_trail_last_seq 1") {
		t.Errorf("/metrics lacks the audit trail's link:\n%s", grepLines(metrics, "lanner_audit_trail"))
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
	// The chain's state sits beside the spool and was closed cleanly.
	if _, err := os.Stat(filepath.Join(dir, "spool", "chain", "clean")); err != nil {
		t.Errorf("audit trail state: %v", err)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRunBadOutputOthersKeepWorking starts the collector with an http output whose URL is
// invalid and a file output: the collector starts, the alert reaches the file, and /readyz names
// the http output and its problem at FILE:LINE.
func TestRunBadOutputOthersKeepWorking(t *testing.T) {
	privPod := testdataEvent(t, "k-priv-pos")
	dir := t.TempDir()
	alerts := filepath.Join(dir, "alerts.json")
	cfgPath := filepath.Join(dir, "lanner.yaml")
	cfgBody := "stdout:\n  enabled: false\nhttp_output:\n  enabled: true\n  url: ftp://alerts.example\n" +
		"file_output:\n  enabled: true\n  filename: " + alerts + "\n  spool_dir: " + filepath.Join(dir, "spool", "file") + "\n"
	if err := os.WriteFile(cfgPath, []byte(cfgBody), 0o600); err != nil {
		t.Fatal(err)
	}
	auditAddr, httpAddr := freeAddr(t), freeAddr(t)
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	root.SetOut(io.Discard)
	root.SetErr(stderr)
	root.SetArgs([]string{"run", "-c", cfgPath, "-r", "../../rules/lanner_rules.yaml", "--capture.enabled=false",
		"--audit.enabled", "--audit.plaintext", "--audit.allow-unauthenticated", "--audit.listen", auditAddr,
		"--http.listen", httpAddr})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	waitFor(t, "the webhook to accept", func() bool {
		select {
		case err := <-done:
			t.Fatalf("run ended: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Post("http://"+auditAddr+"/k8s-audit", "application/json", bytes.NewReader(privPod))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	waitFor(t, "the alert in the file output", func() bool {
		b, _ := os.ReadFile(alerts)
		return bytes.Contains(b, []byte("Lanner Privileged Pod Created"))
	})
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "output http_output: not running: invalid configuration: "+cfgPath+":5: http_output.url") {
		t.Errorf("/readyz %d:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(stderr.String(), "output left out") {
		t.Errorf("the log does not say the output was left out:\n%s", stderr.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after cancel")
	}
}
