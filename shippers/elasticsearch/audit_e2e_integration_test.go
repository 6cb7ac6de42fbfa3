//go:build integration

package elasticsearch

// The end-to-end path of a Kubernetes audit alert (issue 6): the real audit webhook behind
// TLS and a bearer token, the decoder, the upstream k8s_audit_rules.yaml loaded unmodified,
// alert.Builder, a real spool + Output, this shipper, and the local Elasticsearch node. Nothing
// in between is a double. It lives here rather than in collector/audit so that it can reuse the
// node helpers of integration_test.go; collector/audit does not import this package, so there
// is no cycle, and `make integration` already runs ./shippers/....

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/shippers"
)

// e2eCompatDir finds the upstream rules files: $LANNER_COMPAT_DIR, else ../shared/compat
// next to the repository root.
func e2eCompatDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LANNER_COMPAT_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "compat")
}

// selfSignedCert writes a certificate and key for 127.0.0.1 and returns their paths and a pool
// trusting the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lanner-audit-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// auditEventList builds an API-server-shaped EventList of the corpus events with these
// auditIDs, in this order.
func auditEventList(t *testing.T, ids ...string) []byte {
	t.Helper()
	data, err := os.ReadFile("../../collector/audit/testdata/k8s_audit_events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]json.RawMessage{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var doc struct {
			Kind    string            `json:"kind"`
			AuditID string            `json:"auditID"`
			Items   []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Kind == "Event" {
			byID[doc.AuditID] = append(json.RawMessage(nil), sc.Bytes()...)
		}
	}
	var items []json.RawMessage
	for _, id := range ids {
		ev, ok := byID[id]
		if !ok {
			t.Fatalf("no event %q in the corpus", id)
		}
		items = append(items, ev)
	}
	b, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestIntegrationAuditPostToECSDocument(t *testing.T) {
	url := esURL()
	needNode(t, url)
	rulesPath := filepath.Join(e2eCompatDir(t), "k8s_audit_rules.yaml")
	rulesData, err := os.ReadFile(rulesPath)
	if err != nil {
		t.Fatalf("upstream rules (set LANNER_COMPAT_DIR): %v", err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The webhook, as `lanner run` serves it: HTTPS, bearer token, a bounded queue.
	const token = "e2e-token-7f3a"
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	batches := make(chan audit.Batch, 4)
	wh, err := audit.NewWebhook(audit.WebhookConfig{BearerTokenFile: tokenFile}, batches, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := selfSignedCert(t, dir)
	srv, err := audit.NewServer(audit.ServerConfig{Addr: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}, wh, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ctx, ln) }()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(body []byte, bearer string) int {
		req, _ := http.NewRequest("POST", "https://"+ln.Addr().String()+audit.DefaultPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	// exec-pos fires Attach/Exec Pod; exec-neg, the same exec at stage ResponseComplete
	// (the rule wants ResponseStarted), fires nothing; priv-pod-pos fires Create Privileged Pod.
	body := auditEventList(t, "exec-pos", "exec-neg", "priv-pod-pos")
	if st := post(body, ""); st != http.StatusUnauthorized {
		t.Fatalf("POST without a token answered %d, want 401", st)
	}
	if st := post(body, token); st != http.StatusOK {
		t.Fatalf("POST with the token answered %d, want 200", st)
	}
	var batch audit.Batch
	select {
	case batch = <-batches:
	case <-time.After(30 * time.Second):
		t.Fatal("the webhook queued nothing")
	}
	select {
	case b := <-batches:
		t.Fatalf("a second batch (%d events): the unauthenticated POST was queued", len(b.Events))
	default:
	}
	if len(batch.Events) != 3 {
		t.Fatalf("batch of %d events, want 3", len(batch.Events))
	}

	// The engine and the alert builder, as `lanner run` wires them for the k8s_audit source.
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname("lanner-e2e"))
	rs, res := engine.Load([]engine.File{{Name: rulesPath, Data: rulesData}}, engine.Options{Registry: reg, RuleMatching: engine.MatchFirst})
	if !res.OK() {
		t.Fatalf("loading %s: %v", rulesPath, res.Err())
	}
	builder, err := alert.NewBuilder(reg, "lanner-e2e")
	if err != nil {
		t.Fatal(err)
	}
	var recs []*shippers.Record
	for i, e := range batch.Events {
		e.Num = uint64(i + 1)
		rs.Process(e, func(rule *engine.Rule, e *event.Event) {
			a := builder.Build(e, rule.Name, rule.Priority, rule.Tags, rule.Formatter)
			recs = append(recs, shippers.NewRecord(a, rule.Desc, filepath.Base(rule.File)))
		})
	}
	if len(recs) != 2 || recs[0].Alert.Rule != "Attach/Exec Pod" || recs[1].Alert.Rule != "Create Privileged Pod" {
		var names []string
		for _, r := range recs {
			names = append(names, r.Alert.Rule)
		}
		t.Fatalf("alerts %q, want [Attach/Exec Pod, Create Privileged Pod]", names)
	}

	// A real spool, Output and this shipper into a data stream of this test.
	ds := randName("logs-lanner.alerts-e2e")
	p := newPipeline(t, dir, Config{Addresses: []string{url}, DataStream: ds}, nil)
	defer p.out.Close()
	if err := p.out.Enqueue(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.drain(t, 2*time.Minute)
	cancel()
	if err := <-srvDone; err != nil {
		t.Fatal(err)
	}
	if n := count(t, url, ds); n != 2 {
		t.Fatalf("%d documents in %s, want 2", n, ds)
	}

	// Read each document back by its id and compare its whole _source.
	source := func(id string) map[string]any {
		var res struct {
			Hits struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		esDo(t, "POST", url+"/"+ds+"/_search", `{"query":{"ids":{"values":["`+id+`"]}}}`, &res)
		if len(res.Hits.Hits) != 1 {
			t.Fatalf("document %s: %d hits", id, len(res.Hits.Hits))
		}
		return res.Hits.Hits[0].Source
	}
	const ruleDescExec = "Detect any attempt to attach/exec to a pod\n"
	const ruleDescPriv = "Detect an attempt to start a pod with a privileged container\n"
	observer := map[string]any{"hostname": "lanner-e2e", "product": "lanner", "vendor": "lanner", "type": "runtime-security"}
	host := map[string]any{"name": "lanner-e2e", "hostname": "lanner-e2e"}
	for _, tc := range []struct {
		rec  *shippers.Record
		want map[string]any
	}{{
		rec: recs[0],
		want: map[string]any{
			"@timestamp": "2026-11-20T10:00:33.123489Z",
			"ecs":        map[string]any{"version": ecsVersion},
			"message":    "10:00:33.123489000: Notice Attach/Exec to pod (user=kubernetes-admin pod=web resource=pods ns=default action=exec command=sh)",
			"event": map[string]any{"kind": "alert", "id": recs[0].ID, "severity": float64(2), "provider": "k8s_audit",
				"module": "lanner", "dataset": "lanner.alerts", "start": "2026-11-20T10:00:33.123489Z",
				// The verb travels with the alert (Alert.Action), so the document is classified
				// even though the rule's output does not print ka.verb.
				"category": []any{"configuration"}, "type": []any{"creation"}, "action": "create"},
			"rule": map[string]any{"name": "Attach/Exec Pod", "id": ruleID("Attach/Exec Pod"),
				"description": ruleDescExec, "ruleset": "k8s_audit_rules.yaml"},
			"tags":     []any{"k8s"},
			"host":     host,
			"observer": observer,
			"user":     map[string]any{"name": "kubernetes-admin"},
			// The audit event's object and source address (Alert.Audit), whatever the rule prints.
			"orchestrator": map[string]any{"type": "kubernetes", "namespace": "default", "api_version": "v1",
				"resource": map[string]any{"type": "pods/exec", "name": "web"}},
			"source": map[string]any{"ip": "172.18.0.1"},
			"falco": map[string]any{"rule": "Attach/Exec Pod", "priority": "Notice", "source": "k8s_audit",
				"hostname": "lanner-e2e", "time": "2026-11-20T10:00:33.123489000Z", "tags": []any{"k8s"},
				"output": "10:00:33.123489000: Notice Attach/Exec to pod (user=kubernetes-admin pod=web resource=pods ns=default action=exec command=sh)",
				"output_fields": map[string]any{"evt.time": float64(1795168833123489000), "ka.target.name": "web",
					"ka.target.namespace": "default", "ka.target.resource": "pods", "ka.target.subresource": "exec",
					"ka.uri.param[command]": "sh", "ka.user.name": "kubernetes-admin"}},
		},
	}, {
		rec: recs[1],
		want: map[string]any{
			"@timestamp": "2026-11-20T10:00:06.123462Z",
			"ecs":        map[string]any{"version": ecsVersion},
			"message":    "10:00:06.123462000: Warning Pod started with privileged container (user=kubernetes-admin pod=priv resource=pods ns=default images=(nginx:1.25) init_images=<NA> ephemeral_images=<NA>)",
			"event": map[string]any{"kind": "alert", "id": recs[1].ID, "severity": float64(3), "provider": "k8s_audit",
				"module": "lanner", "dataset": "lanner.alerts", "start": "2026-11-20T10:00:06.123462Z",
				"category": []any{"configuration"}, "type": []any{"creation"}, "action": "create"},
			"rule": map[string]any{"name": "Create Privileged Pod", "id": ruleID("Create Privileged Pod"),
				"description": ruleDescPriv, "ruleset": "k8s_audit_rules.yaml"},
			"tags":     []any{"k8s"},
			"host":     host,
			"observer": observer,
			"user":     map[string]any{"name": "kubernetes-admin"},
			"orchestrator": map[string]any{"type": "kubernetes", "namespace": "default", "api_version": "v1",
				"resource": map[string]any{"type": "pods", "name": "priv"}},
			"source": map[string]any{"ip": "172.18.0.1"},
			"falco": map[string]any{"rule": "Create Privileged Pod", "priority": "Warning", "source": "k8s_audit",
				"hostname": "lanner-e2e", "time": "2026-11-20T10:00:06.123462000Z", "tags": []any{"k8s"},
				"output": "10:00:06.123462000: Warning Pod started with privileged container (user=kubernetes-admin pod=priv resource=pods ns=default images=(nginx:1.25) init_images=<NA> ephemeral_images=<NA>)",
				"output_fields": map[string]any{"evt.time": float64(1795168806123462000), "ka.resp.name": "priv",
					"ka.target.namespace": "default", "ka.target.resource": "pods", "ka.user.name": "kubernetes-admin",
					// the absent init and ephemeral images are null in Falco's JSON: left out
					"ka.req.pod.containers.image": []any{"nginx:1.25"}}},
		},
	}} {
		got := source(tc.rec.ID)
		for k := range got {
			if _, ok := tc.want[k]; !ok {
				gb, _ := json.Marshal(got[k])
				t.Errorf("%s: unexpected field %s = %s", tc.rec.Alert.Rule, k, gb)
			}
		}
		for k, want := range tc.want {
			if !reflect.DeepEqual(got[k], want) {
				gb, _ := json.Marshal(got[k])
				wb, _ := json.Marshal(want)
				t.Errorf("%s: %s\n got  %s\n want %s", tc.rec.Alert.Rule, k, gb, wb)
			}
		}
	}

	// The typed fields answer typed queries: a range on event.severity and @timestamp, a term
	// on a flattened output field.
	var hits struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
		} `json:"hits"`
	}
	esDo(t, "POST", url+"/"+ds+"/_search", `{"query":{"bool":{"filter":[{"range":{"event.severity":{"gte":3}}},`+
		`{"range":{"@timestamp":{"gte":"2026-11-20T10:00:00Z","lt":"2026-11-20T10:00:10Z"}}},`+
		`{"term":{"falco.output_fields.ka.resp.name":"priv"}}]}}}`, &hits)
	if hits.Hits.Total.Value != 1 {
		t.Fatalf("typed query matched %d documents, want 1 (Create Privileged Pod)", hits.Hits.Total.Value)
	}
	t.Logf("audit POST -> webhook -> engine -> spool -> %s: 2 documents checked field by field", ds)
}
