package audit

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/event"
)

// Defaults of WebhookConfig.
const (
	DefaultPath = "/k8s-audit"
	// DefaultMaxBodyBytes is the k8saudit plugin's webhookMaxBatchSize (12 MiB); the API
	// server's own batch limit with truncation on is 10 MiB.
	DefaultMaxBodyBytes = 12 << 20
	DefaultRetryAfter   = 5 * time.Second
)

// Batch is what the webhook hands to the pipeline: the events of one request, in the order the
// API server sent them. Event.Num is zero; the consumer numbers events as it feeds the engine.
type Batch struct {
	Events []*event.Event
	// Received is when the request was accepted.
	Received time.Time
}

// WebhookConfig configures the audit webhook endpoint.
type WebhookConfig struct {
	// Path is the URL path the API server posts to (the server field of its webhook
	// kubeconfig). Default DefaultPath.
	Path string
	// MaxBodyBytes bounds a request body; larger bodies get 413. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BearerTokenFile holds the token the API server sends as "Authorization: Bearer ..." (the
	// token of the user in its webhook kubeconfig). Surrounding white space is ignored. The file
	// is re-read when it changes (Secret rotation); a change to an empty or unreadable file
	// keeps the previous token.
	BearerTokenFile string
	// ClientCertAuth accepts a request whose TLS client certificate the server verified
	// against its client CA (ServerConfig.ClientCAFile).
	ClientCertAuth bool
	// AllowedClientNames, with ClientCertAuth, restricts accepted certificates to these
	// subject common names or DNS names; empty accepts any certificate the CA signed.
	AllowedClientNames []string
	// AllowUnauthenticated accepts every request. Only for tests and for a listener that only
	// the API server can reach; it must be set explicitly.
	AllowUnauthenticated bool
	// RetryAfter is the delay a saturated webhook asks a client to wait (503 with Retry-After).
	// kube-apiserver's audit backend resends on its own fixed backoff
	// (--audit-webhook-initial-backoff) whatever the header says; other senders honour it.
	// Default DefaultRetryAfter.
	RetryAfter time.Duration
	// EnqueueWait is how long a request waits for room in the pipeline's queue before it is
	// answered 503. Default 0: a full queue answers at once, so that a blocking-mode API server
	// is never slowed by lanner.
	EnqueueWait time.Duration
}

// Reasons of lanner_audit_events_rejected_total.
const (
	reasonMalformed = "malformed"
	reasonSaturated = "saturated"
)

// Webhook is the http.Handler of the audit endpoint: it authenticates the API server, bounds
// and decodes the body with Decode, and hands the events to the pipeline's queue. Every request
// gets an answer that says what happened: 200 when its events are queued, 4xx with the reason,
// 503 with Retry-After when the queue is full. The API server's webhook backend resends a batch
// after any error answer (five tries, 10 s initial backoff by default) and then drops it with an
// error in its own log and metrics; lanner counts every event it refused, so an event is never
// dropped silently on either side.
type Webhook struct {
	cfg      WebhookConfig
	token    *tokenFile
	hasToken bool
	out      chan<- Batch
	log      *slog.Logger
	m        webhookMetrics
	now      func() time.Time
}

type webhookMetrics struct {
	requests  *prometheus.CounterVec
	received  prometheus.Counter
	malformed prometheus.Counter
	saturated prometheus.Counter
}

// NewWebhook builds the handler. out is the pipeline's queue: its capacity bounds the batches
// waiting for the engine (it must be buffered); the caller owns it and must not close it while
// the handler serves. logger nil discards; reg nil leaves the metrics unregistered.
func NewWebhook(cfg WebhookConfig, out chan<- Batch, logger *slog.Logger, reg prometheus.Registerer) (*Webhook, error) {
	if out == nil || cap(out) == 0 {
		return nil, errors.New("audit webhook: the event queue must be a buffered channel")
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		return nil, fmt.Errorf("audit webhook: path %q does not start with /", cfg.Path)
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("audit webhook: negative body limit %d", cfg.MaxBodyBytes)
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.RetryAfter < time.Second || cfg.EnqueueWait < 0 {
		return nil, fmt.Errorf("audit webhook: Retry-After %v must be at least 1s and the enqueue wait %v not negative", cfg.RetryAfter, cfg.EnqueueWait)
	}
	if len(cfg.AllowedClientNames) > 0 && !cfg.ClientCertAuth {
		return nil, errors.New("audit webhook: allowed client names without client certificate authentication")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Webhook{cfg: cfg, out: out, now: time.Now, log: logger.With("component", "audit-webhook")}
	if cfg.BearerTokenFile != "" {
		tf, err := newTokenFile(cfg.BearerTokenFile, w.log)
		if err != nil {
			return nil, fmt.Errorf("audit webhook: %w", err)
		}
		w.token, w.hasToken = tf, true
	}
	if !w.hasToken && !cfg.ClientCertAuth && !cfg.AllowUnauthenticated {
		return nil, errors.New("audit webhook: no authentication: set a bearer token file, client certificate authentication, or AllowUnauthenticated explicitly")
	}
	if w.hasToken || cfg.ClientCertAuth {
		if cfg.AllowUnauthenticated {
			return nil, errors.New("audit webhook: AllowUnauthenticated contradicts the configured authentication")
		}
	}
	if err := w.initMetrics(reg, out); err != nil {
		return nil, fmt.Errorf("audit webhook: %w", err)
	}
	return w, nil
}

func (w *Webhook) initMetrics(reg prometheus.Registerer, out chan<- Batch) error {
	w.m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanner_audit_webhook_requests_total",
		Help: "Requests to the audit webhook, by HTTP status code answered.",
	}, []string{"code"})
	received := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lanner_audit_events_received_total",
		Help: "Audit events accepted by the webhook and queued for the rule engine.",
	})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanner_audit_events_rejected_total",
		Help: "Audit events the webhook did not queue, by reason: malformed (bad items; a wholly bad body is answered 400), saturated (answered 503; the API server resends the batch).",
	}, []string{"reason"})
	w.m.received = received
	w.m.malformed = rejected.WithLabelValues(reasonMalformed)
	w.m.saturated = rejected.WithLabelValues(reasonSaturated)
	// Known codes start at 0, so dashboards show a rate of 0 rather than nothing.
	for _, c := range []int{200, 400, 401, 403, 404, 405, 413, 415, 503} {
		w.m.requests.WithLabelValues(strconv.Itoa(c))
	}
	if reg == nil {
		return nil
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lanner_audit_webhook_queue_batches",
		Help: "Batches of audit events waiting for the rule engine.",
	}, func() float64 { return float64(len(out)) })
	capacity := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lanner_audit_webhook_queue_capacity_batches",
		Help: "Capacity of the audit event queue; a full queue answers 503.",
	})
	capacity.Set(float64(cap(out)))
	for _, c := range []prometheus.Collector{w.m.requests, received, rejected, queue, capacity} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// Path is the URL path the handler serves.
func (w *Webhook) Path() string { return w.cfg.Path }

// ServeHTTP answers one webhook request.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	code, msg := w.serve(rw, r)
	w.m.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if code == http.StatusOK {
		rw.WriteHeader(code)
		return
	}
	if code >= 500 {
		w.log.Warn("audit request refused", "code", code, "reason", msg, "remote", r.RemoteAddr)
	} else {
		w.log.Debug("audit request refused", "code", code, "reason", msg, "remote", r.RemoteAddr)
	}
	http.Error(rw, msg, code)
}

// serve does the work of ServeHTTP and returns the status and, for errors, the reason.
func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) (int, string) {
	if r.URL.Path != w.cfg.Path {
		return http.StatusNotFound, "not found: audit events go to " + w.cfg.Path
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		return http.StatusMethodNotAllowed, r.Method + " method not allowed: POST audit Event or EventList JSON"
	}
	if code, msg := w.authenticate(rw, r); code != 0 {
		return code, msg
	}
	if code, msg := checkContentType(r); code != 0 {
		return code, msg
	}
	if r.ContentLength > w.cfg.MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", r.ContentLength, w.cfg.MaxBodyBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.cfg.MaxBodyBytes))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds the limit of %d bytes", w.cfg.MaxBodyBytes)
		}
		return http.StatusBadRequest, "reading the body: " + err.Error()
	}
	events, derr := Decode(body)
	if len(events) == 0 {
		if derr == nil {
			// An EventList with no items: nothing to do, and nothing wrong.
			return http.StatusOK, ""
		}
		w.m.malformed.Inc()
		return http.StatusBadRequest, "malformed audit payload: " + derr.Error()
	}
	if code, msg := w.enqueue(rw, r, Batch{Events: events, Received: w.now()}); code != 0 {
		return code, msg
	}
	w.m.received.Add(float64(len(events)))
	if derr != nil {
		// Some items of a list were bad and the rest is queued. The answer must be 200: the
		// API server's audit webhook backend resends a batch after any error status
		// (k8s.io/apiserver plugin/pkg/audit/webhook retries on every error), which would queue
		// the good events again, while the bad ones would fail again. The bad items are logged
		// and counted instead.
		w.m.malformed.Add(float64(countErrors(derr)))
		w.log.Warn("skipped malformed audit events", "queued", len(events), "skipped", countErrors(derr), "reason", derr.Error(), "remote", r.RemoteAddr)
	}
	return http.StatusOK, ""
}

// enqueue hands b to the pipeline, or answers 503 with Retry-After when the queue stays full.
func (w *Webhook) enqueue(rw http.ResponseWriter, r *http.Request, b Batch) (int, string) {
	select {
	case w.out <- b:
		return 0, ""
	default:
	}
	if w.cfg.EnqueueWait > 0 {
		t := time.NewTimer(w.cfg.EnqueueWait)
		defer t.Stop()
		select {
		case w.out <- b:
			return 0, ""
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	w.m.saturated.Add(float64(len(b.Events)))
	secs := int((w.cfg.RetryAfter + time.Second - 1) / time.Second)
	rw.Header().Set("Retry-After", strconv.Itoa(secs))
	return http.StatusServiceUnavailable, fmt.Sprintf("audit pipeline saturated: %d events not queued, retry in %ds", len(b.Events), secs)
}

// authenticate returns 0 for an authenticated request, else 401 (no credentials) or 403
// (credentials that do not match).
func (w *Webhook) authenticate(rw http.ResponseWriter, r *http.Request) (int, string) {
	if w.cfg.AllowUnauthenticated {
		return 0, ""
	}
	if w.cfg.ClientCertAuth && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		leaf := r.TLS.VerifiedChains[0][0]
		if clientAllowed(leaf, w.cfg.AllowedClientNames) {
			return 0, ""
		}
		return http.StatusForbidden, fmt.Sprintf("client certificate %q is not allowed", leaf.Subject.CommonName)
	}
	if w.hasToken {
		h := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="lanner audit webhook"`)
			return http.StatusUnauthorized, "bearer token required"
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		want := w.token.current()
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			return http.StatusForbidden, "invalid bearer token"
		}
		return 0, ""
	}
	return http.StatusUnauthorized, "client certificate required"
}

func clientAllowed(cert *x509.Certificate, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	if slices.Contains(allowed, cert.Subject.CommonName) {
		return true
	}
	for _, n := range cert.DNSNames {
		if slices.Contains(allowed, n) {
			return true
		}
	}
	return false
}

// checkContentType accepts application/json (any parameters) and a missing Content-Encoding.
func checkContentType(r *http.Request) (int, string) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: want application/json", ct)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return http.StatusUnsupportedMediaType, fmt.Sprintf("content encoding %q not supported", ce)
	}
	return 0, ""
}

// countErrors counts the errors joined in err (Decode joins one per skipped item).
func countErrors(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 1
}
