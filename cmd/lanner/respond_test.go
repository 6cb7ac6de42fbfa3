package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lannersec/lanner/collector/respond"
	"github.com/lannersec/lanner/shippers"
	shttp "github.com/lannersec/lanner/shippers/http"
	"github.com/lannersec/lanner/shippers/nats"
)

// TestRespondEndToEnd: lanner's own rules replayed over a recorded event (`lanner replay`)
// raise "Lanner Interactive Shell in Container" for pod shop/web-7d9f8c6b5-x2k4p; lanner's NATS
// output publishes it on an embedded NATS server; `lanner respond` (its real wiring, with a fake
// cluster) takes it from its subscription, runs the playbook, and the cluster shows the pod
// isolated; the action records arrive in the file output, built by run's output code.
func TestRespondEndToEnd(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded NATS server not ready")
	}
	defer ns.Shutdown()

	const podNS, podName = "shop", "web-7d9f8c6b5-x2k4p"
	cs := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: podNS, UID: "u1",
		Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{NodeName: "node-a"}})

	dir := t.TempDir()
	records := filepath.Join(dir, "records.jsonl")
	addr := freeAddr(t)
	cfgFile := filepath.Join(dir, "respond.yaml")
	cfgText := fmt.Sprintf(`nats:
  url: %s
  subjects: ["falco.>"]
http:
  listen: %s
  alert_path: /alerts
  allow_unauthenticated: true
outputs:
  stdout: {enabled: false}
  file_output: {enabled: true, filename: %s, spool_dir: %s}
playbooks:
  - name: contain-shells
    match:
      rule: Lanner Interactive Shell in Container
      namespaces: [shop]
    actions:
      - label_pod: {labels: {lanner.dev/incident: shell}}
      - isolate_pod
`, ns.ClientURL(), addr, records, filepath.Join(dir, "spool"))
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := respond.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runResponder(ctx, cfg, cs, io.Discard, logs) }()
	defer func() {
		cancel()
		<-done
	}()
	get := httpGetter(addr)
	waitFor(t, "the responder ready (NATS subscribed)", func() bool { code, _ := get("/readyz"); return code == 200 })

	// The alert, as `lanner replay` makes it from the recorded event with lanner's rules.
	var out, errOut bytes.Buffer
	if err := runReplay(&out, &errOut, replayFlags{rules: []string{"../../rules/lanner_rules.yaml"}, source: "auto",
		matching: "first", timezone: "UTC"}, []string{"../../rules/testdata/lanner_events.jsonl"}, "node-a"); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut.String())
	}
	var batch shippers.Batch
	var shell []byte
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		a, err := shippers.ParseFalcoJSON(sc.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if a.Rule == "Lanner Interactive Shell in Container" {
			shell = append([]byte(nil), sc.Bytes()...)
		}
		batch = append(batch, shippers.NewRecord(a, "", ""))
	}
	if shell == nil || len(batch) < 10 {
		t.Fatalf("replay gave %d alerts, the shell one %q", len(batch), shell)
	}
	// Published by lanner's NATS output, on falco.<priority>.<rule>.
	pub, err := nats.New(nats.Config{URL: ns.ClientURL()}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Send(ctx, batch); err != nil {
		t.Fatal(err)
	}

	// The cluster shows the pod isolated.
	waitFor(t, "the quarantine NetworkPolicy and the pod's labels", func() bool {
		np, err := cs.NetworkingV1().NetworkPolicies(podNS).Get(ctx, "lanner-quarantine", metav1.GetOptions{})
		if err != nil {
			return false
		}
		pod, err := cs.CoreV1().Pods(podNS).Get(ctx, podName, metav1.GetOptions{})
		return err == nil && np.Spec.PodSelector.MatchLabels["lanner.dev/quarantine"] == "true" &&
			pod.Labels["lanner.dev/quarantine"] == "true" && pod.Labels["lanner.dev/incident"] == "shell"
	})

	// The action records arrive at the file output, as Falco JSON lines.
	var recs []map[string]any
	waitFor(t, "two action records in the file output", func() bool {
		data, _ := os.ReadFile(records)
		recs = recs[:0]
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				recs = append(recs, m)
			}
		}
		return len(recs) == 2
	})
	for i, want := range []string{"Response: contain-shells/label_pod", "Response: contain-shells/isolate_pod"} {
		f, _ := recs[i]["output_fields"].(map[string]any)
		if recs[i]["rule"] != want || f["lanner.response.result"] != "done" || f["lanner.trigger.rule"] != "Lanner Interactive Shell in Container" ||
			f["k8s.pod.name"] != podName || f["lanner.trigger.hostname"] != "node-a" {
			t.Errorf("record %d: %v", i, recs[i])
		}
	}

	// The same alert POSTed to the HTTP endpoint is a duplicate: nothing more happens.
	resp, err := http.Post("http://"+addr+"/alerts", "application/json", bytes.NewReader(shell))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"outcomes":[]}` {
		t.Errorf("POST of the same alert: %d %s", resp.StatusCode, body)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{`lanner_respond_actions_total{action="isolate_pod",result="done"} 1`,
		`lanner_respond_alerts_ignored_total{reason="duplicate"} 1`, `lanner_respond_playbook_matches_total{playbook="contain-shells"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("responder: %v\n%s", err, logs.String())
	}
	done <- nil
}

func TestRespondCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", "nats: {url: nats://127.0.0.1:1}\nplaybooks:\n  - name: p\n    match: {priority: critical}\n    actions: [isolate_pod, cordon_node]\n")
	bad := write("bad.yaml", "nats: {url: nats://127.0.0.1:1}\nplaybooks:\n  - name: p\n    match: {pod_labels: \"app in (x\"}\n    actions: [isolate]\n")
	exec := func(args ...string) (int, string, string) {
		root := newRootCmd()
		if c, _, err := root.Find([]string{"respond"}); err != nil || c.Name() != "respond" {
			root.AddCommand(newRespondCmd()) // until root.go registers it
		}
		var so, se bytes.Buffer
		root.SetOut(&so)
		root.SetErr(&se)
		root.SetArgs(args)
		err := root.Execute()
		code := 0
		if err != nil {
			code = 1
			var ue *usageError
			if errors.As(err, &ue) {
				code = 2
			}
			se.WriteString(err.Error())
		}
		return code, so.String(), se.String()
	}
	code, so, _ := exec("respond", "--config", good, "--print-rbac")
	if code != 0 || !strings.Contains(so, "kind: ClusterRole") || !strings.Contains(so, "networkpolicies") || !strings.Contains(so, "nodes") {
		t.Errorf("--print-rbac: %d\n%s", code, so)
	}
	code, so, _ = exec("respond", "--config", good, "--print-rbac", "--dry-run", "--rbac-name", "r")
	if code != 0 || strings.Contains(so, "patch") || !strings.Contains(so, "name: r\n") || !strings.Contains(so, "rules: []") {
		t.Errorf("--print-rbac --dry-run: %d\n%s", code, so)
	}
	code, _, se := exec("respond", "--config", bad)
	if code != 2 || !strings.Contains(se, bad+":4: playbook \"p\": match.pod_labels: bad label selector") ||
		!strings.Contains(se, bad+":5: playbook \"p\": unknown action \"isolate\"") {
		t.Errorf("bad playbooks: %d\n%s", code, se)
	}
	if code, _, _ := exec("respond"); code != 2 {
		t.Errorf("no --config: %d", code)
	}
}

// TestRespondOverHTTP: lanner's http output, carrying the bearer token as a header, posts an
// alert to the responder's endpoint (token read from http.bearer_token_file) and the playbook
// runs; without the token the output gets a 401, which it does not retry.
func TestRespondOverHTTP(t *testing.T) {
	const podNS, podName = "shop", "web-1"
	cs := fake.NewClientset(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: podNS, UID: "u1"}})
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfgFile := filepath.Join(dir, "respond.yaml")
	cfgText := fmt.Sprintf(`http: {listen: %s, alert_path: /alerts, bearer_token_file: %s}
outputs:
  stdout: {enabled: true}
playbooks:
  - name: tag
    match: {priority: critical}
    actions:
      - label_pod: {labels: {lanner.dev/seen: "yes"}}
`, addr, tokenFile)
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := respond.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	stdout, logs := &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runResponder(ctx, cfg, cs, stdout, logs) }()
	waitFor(t, "the responder listening", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	a, err := shippers.ParseFalcoJSON([]byte(`{"hostname":"node-a","output":"12:00:00.000000000: Critical x","output_fields":{"k8s.ns.name":"shop","k8s.pod.name":"web-1"},"priority":"Critical","rule":"Some Rule","source":"syscall","tags":[],"time":"2026-11-26T12:00:00.000000000Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	send := func(headers []string) error {
		sh, err := shttp.New(shttp.Config{URL: "http://" + addr + "/alerts", Headers: headers}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer sh.Close()
		return sh.Send(ctx, shippers.Batch{shippers.NewRecord(a, "", "")})
	}
	err = send(nil)
	if err == nil || shippers.IsRecoverable(err) {
		t.Errorf("without the token: %v (want a rejection)", err)
	}
	if err := send([]string{"Authorization: Bearer t0ken"}); err != nil {
		t.Fatal(err)
	}
	pod, _ := cs.CoreV1().Pods(podNS).Get(ctx, podName, metav1.GetOptions{})
	if pod.Labels["lanner.dev/seen"] != "yes" {
		t.Errorf("pod labels %v", pod.Labels)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("responder: %v\n%s", err, logs.String())
	}
	// The record went to stdout (flushed at shutdown) as a Falco JSON line.
	if out := stdout.String(); !strings.Contains(out, `"rule":"Response: tag/label_pod"`) || !strings.Contains(out, `"lanner.response.result":"done"`) {
		t.Errorf("stdout: %q", out)
	}
}
