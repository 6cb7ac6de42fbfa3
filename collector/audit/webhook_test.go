package audit_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lannersec/lanner/collector/audit"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
	"github.com/lannersec/lanner/collector/replay/replaytest"
)

const testToken = "s3cr3t-audit-token"

// apiserverEventList builds an EventList the way kube-apiserver's webhook backend encodes it:
// kind and apiVersion on the list, none on the items.
func apiserverEventList(t testing.TB, evs []*event.Event) []byte {
	t.Helper()
	items := make([]map[string]any, 0, len(evs))
	for _, e := range evs {
		var m map[string]any
		if err := json.Unmarshal(e.Audit.Raw, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "kind")
		delete(m, "apiVersion")
		items = append(items, m)
	}
	b, err := json.Marshal(map[string]any{"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": map[string]any{}, "items": items})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type webhookEnv struct {
	url    string
	client *http.Client
	queue  chan audit.Batch
	wh     *audit.Webhook
	reg    *prometheus.Registry
	pki    pkiFiles
}

// startWebhook serves a Webhook over TLS on 127.0.0.1 with the real Server (certificates from
// files, client CA verification), and returns an HTTPS client that trusts it.
func startWebhook(t *testing.T, cfg audit.WebhookConfig, queueLen int) *webhookEnv {
	t.Helper()
	p := newPKI(t)
	if cfg.BearerTokenFile == "" && !cfg.AllowUnauthenticated {
		cfg.BearerTokenFile = p.token
	}
	env := &webhookEnv{queue: make(chan audit.Batch, queueLen), reg: prometheus.NewRegistry(), pki: p}
	wh, err := audit.NewWebhook(cfg, env.queue, nil, env.reg)
	if err != nil {
		t.Fatal(err)
	}
	env.wh = wh
	srv, err := audit.NewServer(audit.ServerConfig{CertFile: p.serverPEM, ClientCAFile: p.caPEM}, wh, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	env.url = "https://" + ln.Addr().String() + wh.Path()
	env.client = env.tlsClient(nil)
	return env
}

func (env *webhookEnv) tlsClient(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(env.pki.ca.cert)
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
}

type reply struct {
	code   int
	body   string
	header http.Header
}

func (env *webhookEnv) post(t *testing.T, c *http.Client, method, url string, hdr map[string]string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if c == nil {
		c = env.client
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

// TestWebhookCorpusThroughRules posts the audit corpus as kube-apiserver batches (EventLists of
// at most 400 items without item kinds) over HTTPS with a bearer token, takes the batches from
// the queue as the run command will, and evaluates them with the unmodified upstream
// k8s_audit_rules.yaml: every event must fire exactly the rule the corpus expectations name.
func TestWebhookCorpusThroughRules(t *testing.T) {
	reg := fields.NewRegistry(fields.WithLocation(time.UTC), fields.WithHostname("lanner-test"))
	rs := replaytest.LoadUpstream(t, rulesFile, reg, engine.MatchFirst)
	exp, _ := replaytest.ReadExpectations(t, expectedFile)
	corpus := readCorpus(t)
	env := startWebhook(t, audit.WebhookConfig{}, 64)

	var evs []*event.Event
	for _, r := range corpus {
		evs = append(evs, r.Event)
	}
	const batchMax = 40 // several requests even for a small corpus
	requests := 0
	for i := 0; i < len(evs); i += batchMax {
		end := min(i+batchMax, len(evs))
		rep := env.post(t, nil, http.MethodPost, env.url, nil, bytes.NewReader(apiserverEventList(t, evs[i:end])))
		if rep.code != http.StatusOK {
			t.Fatalf("batch %d: %d %s", requests, rep.code, rep.body)
		}
		requests++
	}
	var num uint64
	got := 0
	for range requests {
		b := <-env.queue
		for _, e := range b.Events {
			num++
			e.Num = num
			id, _ := e.Audit.Doc["auditID"].(string)
			want, ok := exp[id]
			if !ok {
				t.Errorf("event %q not in the corpus expectations", id)
				continue
			}
			var fired []string
			rs.Process(e, func(r *engine.Rule, _ *event.Event) { fired = append(fired, r.Name) })
			if w := want.First; (w == "" && len(fired) != 0) || (w != "" && (len(fired) != 1 || fired[0] != w)) {
				t.Errorf("%s via webhook fired %q, want %q (%s)", id, fired, w, want.Why)
			}
			if id != corpus[got].ID {
				t.Errorf("event %d is %s, want %s: order not kept", got, id, corpus[got].ID)
			}
			got++
		}
	}
	if got != len(corpus) {
		t.Errorf("%d events through the webhook, want %d", got, len(corpus))
	}
	if v := testutil.ToFloat64(metric(t, env.reg, "lanner_audit_events_received_total")); v != float64(len(corpus)) {
		t.Errorf("events received metric %v, want %d", v, len(corpus))
	}
	t.Logf("%d events in %d requests", got, requests)
}

// metric returns the collector registered under name (for testutil.ToFloat64).
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				match = match && found
			}
			if match {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "v", Help: "v"})
				g.Set(v)
				return g
			}
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return nil
}

const oneEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"default","name":"p"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-11-26T10:00:00.000000Z","stageTimestamp":"2026-11-26T10:00:00.100000Z"}`

func TestWebhookAnswers(t *testing.T) {
	env := startWebhook(t, audit.WebhookConfig{MaxBodyBytes: 4096}, 16)
	big := `{"kind":"EventList","items":[` + strings.Repeat(oneEvent+",", 40) + oneEvent + `]}`
	partial := `{"kind":"EventList","items":[` + oneEvent + `,{"auditID":"bad"},` + oneEvent + `]}`
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		hdr     map[string]string
		body    string
		chunked bool
		code    int
		inBody  string
		queued  int
		wantHdr [2]string
	}{
		{name: "one Event", body: oneEvent, code: 200, queued: 1},
		{name: "EventList", body: `{"kind":"EventList","items":[` + oneEvent + "," + oneEvent + `]}`, code: 200, queued: 2},
		{name: "empty EventList", body: `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`, code: 200},
		{name: "content type with charset", hdr: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: oneEvent, code: 200, queued: 1},
		{name: "GET", method: http.MethodGet, code: 405, inBody: "GET method not allowed", wantHdr: [2]string{"Allow", "POST"}},
		{name: "other path", path: "/other", body: oneEvent, code: 404},
		{name: "no token", hdr: map[string]string{"Authorization": ""}, body: oneEvent, code: 401, wantHdr: [2]string{"WWW-Authenticate", `Bearer realm="lanner audit webhook"`}},
		{name: "basic auth", hdr: map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, body: oneEvent, code: 401},
		{name: "wrong token", hdr: map[string]string{"Authorization": "Bearer nope"}, body: oneEvent, code: 403, inBody: "invalid bearer token"},
		{name: "token prefix", hdr: map[string]string{"Authorization": "Bearer " + testToken[:5]}, body: oneEvent, code: 403},
		{name: "text/plain", hdr: map[string]string{"Content-Type": "text/plain"}, body: oneEvent, code: 415, inBody: "want application/json"},
		{name: "no content type", hdr: map[string]string{"Content-Type": ""}, body: oneEvent, code: 415},
		{name: "gzip", hdr: map[string]string{"Content-Encoding": "gzip"}, body: oneEvent, code: 415},
		{name: "oversized", body: big, code: 413, inBody: "exceeds the limit of 4096 bytes"},
		{name: "oversized chunked", body: big, chunked: true, code: 413},
		{name: "invalid JSON", body: `{"kind":"EventList","items":[`, code: 400, inBody: "invalid JSON"},
		{name: "not audit", body: `{"kind": 0}`, code: 400, inBody: "not a k8s audit Event"},
		{name: "no time", body: `{"kind":"Event","auditID":"x"}`, code: 400, inBody: "no event time"},
		// The good items are queued and the answer is 200: the API server resends a batch
		// after any error, which would queue the good ones twice.
		{name: "partly malformed", body: partial, code: 200, queued: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			url := env.url
			if tc.path != "" {
				url = strings.TrimSuffix(url, env.wh.Path()) + tc.path
			}
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(strings.NewReader(tc.body)) // unknown length: sent chunked
			}
			rep := env.post(t, nil, method, url, tc.hdr, body)
			if rep.code != tc.code || !strings.Contains(rep.body, tc.inBody) {
				t.Errorf("got %d %q, want %d containing %q", rep.code, rep.body, tc.code, tc.inBody)
			}
			if h := tc.wantHdr; h[0] != "" && rep.header.Get(h[0]) != h[1] {
				t.Errorf("header %s = %q, want %q", h[0], rep.header.Get(h[0]), h[1])
			}
			queued := 0
			for len(env.queue) > 0 {
				queued += len((<-env.queue).Events)
			}
			if queued != tc.queued {
				t.Errorf("%d events queued, want %d", queued, tc.queued)
			}
		})
	}
	if v := testutil.ToFloat64(metric(t, env.reg, "lanner_audit_webhook_requests_total", "code", "403")); v != 2 {
		t.Errorf("403 requests metric %v, want 2", v)
	}
	if v := testutil.ToFloat64(metric(t, env.reg, "lanner_audit_events_rejected_total", "reason", "malformed")); v != 4 {
		t.Errorf("malformed events metric %v, want 4 (three bad bodies and one bad item)", v)
	}
}

func TestWebhookClientCertificates(t *testing.T) {
	env := startWebhook(t, audit.WebhookConfig{ClientCertAuth: true, AllowedClientNames: []string{"kube-apiserver"}}, 16)
	apiserver := env.pki.ca.clientCert(t, "kube-apiserver")
	intruder := env.pki.ca.clientCert(t, "intruder")
	foreign := newCA(t, "other-ca").clientCert(t, "kube-apiserver")
	noToken := map[string]string{"Authorization": ""}
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		hdr  map[string]string
		code int
	}{
		{"allowed certificate", &apiserver, noToken, 200},
		{"certificate not allowed", &intruder, noToken, 403},
		{"no certificate, no token", nil, noToken, 401},
		{"no certificate, token", nil, nil, 200},
	} {
		rep := env.post(t, env.tlsClient(tc.cert), http.MethodPost, env.url, tc.hdr, strings.NewReader(oneEvent))
		if rep.code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, rep.code, rep.body, tc.code)
		}
	}
	// A certificate from another CA is not sent by Go's client (the server names its CAs) or
	// fails the handshake; either way the request does not get in.
	req, _ := http.NewRequest(http.MethodPost, env.url, strings.NewReader(oneEvent))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := env.tlsClient(&foreign).Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("certificate of an unknown CA: %d, want 401 or a handshake error", resp.StatusCode)
		}
	}
}

// TestWebhookSaturation: with the queue full the webhook answers 503 with Retry-After, counts
// the events it did not take, and takes them again once the engine has drained the queue.
func TestWebhookSaturation(t *testing.T) {
	env := startWebhook(t, audit.WebhookConfig{RetryAfter: 3 * time.Second}, 1)
	list := `{"kind":"EventList","items":[` + oneEvent + "," + oneEvent + "," + oneEvent + `]}`
	if rep := env.post(t, nil, http.MethodPost, env.url, nil, strings.NewReader(list)); rep.code != 200 {
		t.Fatalf("first batch: %d %s", rep.code, rep.body)
	}
	rep := env.post(t, nil, http.MethodPost, env.url, nil, strings.NewReader(list))
	if rep.code != http.StatusServiceUnavailable || rep.header.Get("Retry-After") != "3" || !strings.Contains(rep.body, "3 events not queued") {
		t.Fatalf("saturated: %d Retry-After=%q %q", rep.code, rep.header.Get("Retry-After"), rep.body)
	}
	if v := testutil.ToFloat64(metric(t, env.reg, "lanner_audit_events_rejected_total", "reason", "saturated")); v != 3 {
		t.Errorf("saturated events metric %v, want 3", v)
	}
	if v := testutil.ToFloat64(metric(t, env.reg, "lanner_audit_webhook_queue_batches")); v != 1 {
		t.Errorf("queue length metric %v, want 1", v)
	}
	<-env.queue // the engine catches up
	if rep := env.post(t, nil, http.MethodPost, env.url, nil, strings.NewReader(list)); rep.code != 200 {
		t.Fatalf("after draining: %d %s", rep.code, rep.body)
	}
	if b := <-env.queue; len(b.Events) != 3 {
		t.Errorf("retried batch has %d events", len(b.Events))
	}
}

func TestNewWebhookErrors(t *testing.T) {
	p := newPKI(t)
	empty := writeFile(t, t.TempDir(), "empty", []byte(" \n"))
	q := make(chan audit.Batch, 1)
	for _, tc := range []struct {
		name string
		cfg  audit.WebhookConfig
		q    chan audit.Batch
		want string
	}{
		{"unbuffered queue", audit.WebhookConfig{AllowUnauthenticated: true}, make(chan audit.Batch), "buffered"},
		{"nil queue", audit.WebhookConfig{AllowUnauthenticated: true}, nil, "buffered"},
		{"no auth", audit.WebhookConfig{}, q, "no authentication"},
		{"missing token file", audit.WebhookConfig{BearerTokenFile: "/nonexistent/token"}, q, "reading the bearer token"},
		{"empty token", audit.WebhookConfig{BearerTokenFile: empty}, q, "is empty"},
		{"contradiction", audit.WebhookConfig{BearerTokenFile: p.token, AllowUnauthenticated: true}, q, "contradicts"},
		{"names without certs", audit.WebhookConfig{BearerTokenFile: p.token, AllowedClientNames: []string{"x"}}, q, "without client certificate"},
		{"relative path", audit.WebhookConfig{Path: "k8s-audit", AllowUnauthenticated: true}, q, "does not start with /"},
		{"short retry", audit.WebhookConfig{AllowUnauthenticated: true, RetryAfter: time.Millisecond}, q, "at least 1s"},
	} {
		_, err := audit.NewWebhook(tc.cfg, tc.q, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	wh, err := audit.NewWebhook(audit.WebhookConfig{AllowUnauthenticated: true}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  audit.ServerConfig
		want string
	}{
		{"no certificate", audit.ServerConfig{}, "no TLS certificate"},
		{"missing certificate", audit.ServerConfig{CertFile: "/nonexistent.pem"}, "loading the TLS certificate"},
		{"bad CA", audit.ServerConfig{CertFile: p.serverPEM, ClientCAFile: p.token}, "no PEM certificate"},
		{"plaintext with certificate", audit.ServerConfig{Plaintext: true, CertFile: p.serverPEM}, "plaintext"},
	} {
		_, err := audit.NewServer(tc.cfg, wh, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	certWH, err := audit.NewWebhook(audit.WebhookConfig{ClientCertAuth: true}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  audit.ServerConfig
		want string
	}{
		{"client certificates without a CA", audit.ServerConfig{CertFile: p.serverPEM}, "no client CA"},
	} {
		_, err := audit.NewServer(tc.cfg, certWH, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

// TestPlaintextServer runs the plain-HTTP mode (behind a TLS-terminating proxy) end to end.
func TestPlaintextServer(t *testing.T) {
	q := make(chan audit.Batch, 1)
	wh, err := audit.NewWebhook(audit.WebhookConfig{AllowUnauthenticated: true}, q, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	resp, err := http.Post(srv.URL+audit.DefaultPath, "application/json", strings.NewReader(oneEvent))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(q) != 1 {
		t.Errorf("plaintext: %d, %d batches queued", resp.StatusCode, len(q))
	}
}
