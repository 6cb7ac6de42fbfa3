package respond

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lannersec/lanner/collector/respond/playbook"
)

func TestAlertHandler(t *testing.T) {
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}}\n"), testPod("shop", "web-1"))
	h, err := NewAlertHandler(f.r, "s3cret", 4096, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(method, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	js, _ := shellAlert("shop", "web-1").MarshalJSON()
	for _, tc := range []struct {
		name, method, token, body string
		code                      int
		want                      string
	}{
		{"get", http.MethodGet, "s3cret", "", 405, "POST a Falco JSON alert"},
		{"no token", http.MethodPost, "", string(js), 401, "bearer token"},
		{"wrong token", http.MethodPost, "s3cre", string(js), 401, "bearer token"},
		{"empty", http.MethodPost, "s3cret", " \n", 400, "empty body"},
		{"not json", http.MethodPost, "s3cret", "{", 400, "not a Falco JSON alert"},
		{"no rule", http.MethodPost, "s3cret", `{"time":"2026-11-26T12:00:00Z","priority":"Critical"}`, 400, "no rule"},
		{"too large", http.MethodPost, "s3cret", `{"rule":"` + strings.Repeat("x", 5000) + `"}`, 413, "max_body_bytes"},
		{"alert", http.MethodPost, "s3cret", string(js), 200, `"result":"done"`},
		{"same alert again", http.MethodPost, "s3cret", string(js), 200, `{"outcomes":[]}`},
	} {
		code, body := post(tc.method, tc.token, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, code, body, tc.code, tc.want)
		}
	}
	if n := len(patches(f.cs)); n != 1 {
		t.Errorf("%d patches, want 1", n)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}}\n"), testPod("shop", "web-1"), testPod("kube-system", "k"))
	r, err := New(f.r.cfg, f.cs, f.sink, nil, reg, WithClock(f.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := shellAlert("shop", "web-1").MarshalJSON()
	if _, err := r.Receive(ctx, "nats", js); err != nil {
		t.Fatal(err)
	}
	_, _ = r.Receive(ctx, "nats", js)
	_, _ = r.Receive(ctx, "http", []byte("nope"))
	r.Handle(ctx, shellAlert("kube-system", "k"))
	for _, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{r.m.received.WithLabelValues("nats"), 2},
		{r.m.invalid.WithLabelValues("http"), 1},
		{r.m.ignored.WithLabelValues("duplicate"), 1},
		{r.m.matches.WithLabelValues("shells"), 2},
		{r.m.actions.WithLabelValues("label_pod", "done"), 1},
		{r.m.actions.WithLabelValues("label_pod", "refused"), 1},
		{r.m.actions.WithLabelValues("delete_pod", "done"), 0},
	} {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%v: %v, want %v", c.c, got, c.want)
		}
	}
	// Two responders cannot share a registry; Close frees it.
	if _, err := New(f.r.cfg, f.cs, f.sink, nil, reg); err == nil {
		t.Error("second registration accepted")
	}
	r.Close()
	if _, err := New(f.r.cfg, f.cs, f.sink, nil, reg); err != nil {
		t.Errorf("after Close: %v", err)
	}
}

func runNATS(t *testing.T) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Alerts published on the subscribed subjects reach the responder; others do not; two sources
// in one queue group share the alerts, each handled once.
func TestNATSSource(t *testing.T) {
	srv := runNATS(t)
	f := newFixture(t, playbookYAML("      - label_pod: {labels: {x: y}}\n"), testPod("shop", "web-1"), testPod("shop", "web-2"), testPod("shop", "web-3"))
	cfg := NATS{URL: srv.ClientURL(), Subjects: []string{"falco.notice.>", "falco.critical.>"}, Queue: "q", Timeout: 5 * time.Second}
	var sources []*NATSSource
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 {
		s, err := NewNATSSource(cfg, f.r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Healthy(); err != nil {
			t.Fatal(err)
		}
		sources = append(sources, s)
		go func() { done <- s.Run(runCtx) }()
	}
	nc, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub := func(subj string, a []byte) {
		if err := nc.Publish(subj, a); err != nil {
			t.Fatal(err)
		}
	}
	a1, _ := shellAlert("shop", "web-1").MarshalJSON()
	a2, _ := shellAlert("shop", "web-2").MarshalJSON()
	a3, _ := shellAlert("shop", "web-3").MarshalJSON()
	pub("falco.notice.lanner_interactive_shell_in_container", a1)
	pub("falco.warning.lanner_interactive_shell_in_container", a2) // not subscribed
	pub("falco.critical.x", []byte("garbage"))
	pub("falco.critical.x", a3)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	labeled := func(name string) bool {
		p, err := f.cs.CoreV1().Pods("shop").Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Labels["x"] == "y"
	}
	waitFor(t, "web-1 and web-3 labeled", func() bool { return labeled("web-1") && labeled("web-3") })
	stop()
	for range sources {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if labeled("web-2") {
		t.Error("an alert on an unsubscribed subject was acted on")
	}
	if n := len(f.sink.records()); n != 2 {
		t.Errorf("%d records, want 2 (each alert handled once across the queue group)", n)
	}
}

func TestRules(t *testing.T) {
	cfg := testConfig(t, "playbooks:\n"+
		"  - name: live\n    match: {priority: critical}\n    actions: [isolate_pod, cordon_node, {taint_node: {key: k}}]\n"+
		"  - name: dry\n    dry_run: true\n    match: {priority: debug, pod_labels: app=web}\n    actions: [delete_pod, scale_to_zero]\n")
	got, err := ClusterRoleYAML(cfg, "lanner-respond")
	if err != nil {
		t.Fatal(err)
	}
	want := `rules:
- apiGroups:
  - ""
  resources:
  - nodes
  verbs:
  - get
  - patch
  - update
- apiGroups:
  - ""
  resources:
  - pods
  verbs:
  - get
  - patch
- apiGroups:
  - networking.k8s.io
  resources:
  - networkpolicies
  verbs:
  - create
  - list
  - update
`
	if !strings.HasSuffix(string(got), want) || !strings.Contains(string(got), "kind: ClusterRole\n") ||
		!strings.Contains(string(got), "name: lanner-respond\n") {
		t.Errorf("ClusterRole:\n%s\nwant rules:\n%s", got, want)
	}
	// Everything dry-run: reading pods for pod_labels is all that is left.
	cfg.DryRun = true
	rules := Rules(cfg)
	if len(rules) != 1 || rules[0].Resources[0] != "pods" || strings.Join(rules[0].Verbs, ",") != "get" {
		t.Errorf("dry-run rules: %+v", rules)
	}
	if r := ActionRules("scale_to_zero"); len(r) != 7 {
		t.Errorf("scale_to_zero rules: %+v", r)
	}
	if r := ActionRules("notify"); len(r) != 0 {
		t.Errorf("notify rules: %+v", r)
	}
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(Rules(&Config{}))
	if strings.TrimSpace(b.String()) != "[]" {
		t.Errorf("no playbooks: %s", b.String())
	}
}

// The rules of each action allow every call the action makes (and the fake cluster records).
func TestRulesCoverCalls(t *testing.T) {
	params := map[string]string{"label_pod": "{labels: {x: y}}", "taint_node": "{key: k}"}
	for _, k := range []string{"delete_pod", "label_pod", "isolate_pod", "cordon_node", "taint_node", "scale_to_zero"} {
		t.Run(k, func(t *testing.T) {
			act := "      - " + k + "\n"
			if p, ok := params[k]; ok {
				act = "      - " + k + ": " + p + "\n"
			}
			f := newFixture(t, playbookYAML(act), testPod("shop", "web-1"), testNode(), testReplicaSet("shop"), testDeployment("shop"))
			wantResults(t, f.r.Handle(ctx, shellAlert("shop", "web-1")), ResultDone)
			rules := ActionRules(playbook.Kind(k))
			for _, a := range f.cs.Actions() {
				res := a.GetResource().Resource
				if a.GetSubresource() != "" {
					res += "/" + a.GetSubresource()
				}
				allowed := false
				for _, r := range rules {
					if r.APIGroups[0] == a.GetResource().Group && r.Resources[0] == res && slices.Contains(r.Verbs, a.GetVerb()) {
						allowed = true
					}
				}
				if !allowed {
					t.Errorf("%s %s (group %q) is not granted by %+v", a.GetVerb(), res, a.GetResource().Group, rules)
				}
			}
		})
	}
}
