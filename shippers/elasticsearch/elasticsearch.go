package elasticsearch

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers"
)

// Shipper sends batches of alerts to Elasticsearch. It implements shippers.Shipper; Send is
// safe for concurrent use (the output runs several batches at once).
type Shipper struct {
	cfg     Config
	client  *es.Client
	logger  *slog.Logger
	m       *metrics
	setupMu sync.Mutex
	setup   bool // template installed (or not wanted)
	// docs keeps document builders between alerts, so building one allocates nothing: a
	// builder keeps its layouts and rule cache, which a sync.Pool would drop at every garbage
	// collection.
	docs chan *Builder
	// bufs keeps request buffers between batches (a batch's documents, about flush_bytes): a
	// bounded free list rather than a sync.Pool, which is emptied at every garbage collection --
	// several a second under load -- and so had a batch grow a new buffer of megabytes each time.
	bufs chan *[]byte
}

// New validates cfg (after defaults) and builds the client. It does not contact the cluster:
// the template is installed on the first Send (when cfg.Setup), so a node that is down at start
// delays delivery instead of failing lanner's start. reg may be nil; logger may be nil.
// Pass reg wrapped with the output label, prometheus.WrapRegistererWith(prometheus.Labels{"output":
// name}, reg), so the bulk-request metrics of several Elasticsearch outputs stay apart.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	client, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	logger.Info("elasticsearch output configured", "addresses", cfg.Addresses, "mode", cfg.Mode,
		"target", cfg.indexFor(time.Now()), "username", cfg.Username, "password", cfg.Password,
		"api_key", cfg.APIKey, "bearer_token", cfg.BearerToken)
	return &Shipper{cfg: cfg, client: client, logger: logger, m: m, setup: !*cfg.Setup,
		docs: make(chan *Builder, 4), bufs: make(chan *[]byte, cfg.Concurrency+1)}, nil
}

// NewClient returns a go-elasticsearch client for cfg (addresses, credentials, TLS), as the
// output uses it: no retries of its own (callers retry in one place) and gzip at the fastest
// level when cfg.Compress. Commands that read lanner's indices (audit verify, report) share it,
// so they connect exactly as the collector does.
func NewClient(cfg Config) (*es.Client, error) {
	cfg = cfg.WithDefaults()
	ec := es.Config{
		Addresses:           cfg.Addresses,
		Username:            cfg.Username,
		Password:            cfg.Password.Reveal(),
		APIKey:              cfg.APIKey.Reveal(),
		ServiceToken:        cfg.BearerToken.Reveal(), // sent as "Authorization: Bearer <token>"
		CompressRequestBody: *cfg.Compress,
		// The fastest level: most of gzip's gain on repetitive JSON for a fraction of its CPU,
		// which the collector's node shares with the workloads it watches.
		CompressRequestBodyLevel: gzip.BestSpeed,
		// Retries live in the output's worker (one loop, counted and backed off): the client
		// must not retry on its own.
		DisableRetry: true,
	}
	if cfg.TLS.CAFile != "" {
		ca, err := os.ReadFile(cfg.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch output: tls.ca_file: %w", err)
		}
		ec.CACert = ca
	}
	if cfg.TLS.Fingerprint != "" {
		ec.CertificateFingerprint = strings.ToUpper(strings.ReplaceAll(cfg.TLS.Fingerprint, ":", ""))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Concurrency * 2
	tr.ResponseHeaderTimeout = cfg.Timeout
	if cfg.TLS.InsecureSkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for explicitly
	}
	if ec.CACert == nil && ec.CertificateFingerprint == "" {
		ec.Transport = tr
	}
	client, err := es.NewClient(ec)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch output: client: %w", err)
	}
	return client, nil
}

// Config returns the configuration in force (with defaults).
func (s *Shipper) Config() Config { return s.cfg }

// Close releases idle connections.
func (s *Shipper) Close() error {
	s.m.unregister()
	if c, ok := s.client.Transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	return nil
}

// ensureSetup installs the template once, before the first documents (so a new data stream
// gets lanner's mappings rather than dynamic ones).
func (s *Shipper) ensureSetup(ctx context.Context) error {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setup {
		return nil
	}
	if _, err := s.Setup(ctx); err != nil {
		return &shippers.RecoverableError{Err: err}
	}
	s.setup = true
	return nil
}

// item is one document ready to send: its place in the batch and where its two bulk lines
// (action and document) lie in the request buffer.
type item struct {
	idx      int
	off, end int
}

// outcome collects per-item results of one Send.
type outcome struct {
	mu         sync.Mutex
	pe         shippers.PartialError
	failure    error // last whole-request failure, for the message
	recover    bool  // every whole-request failure was transient
	retryAfter time.Duration
	// bodyHeld: a request ended without a full answer, so the HTTP transport may still be
	// reading its body; the buffer is then left to the garbage collector, not reused.
	bodyHeld bool
}

func (o *outcome) add(f func(*shippers.PartialError)) {
	o.mu.Lock()
	f(&o.pe)
	o.mu.Unlock()
}

// Prepare implements shippers.Preparer: what the output spools is the alert's ECS document, so
// the worker sends it without decoding a record or building a document per alert. The target
// index is left out: it is chosen when the document is sent (from its @timestamp in index
// mode), so a spool outlives a change of data_stream or index_prefix.
func (s *Shipper) Prepare(dst []byte, r *shippers.Record) ([]byte, error) {
	if d := r.ECSDocument; d != nil {
		return append(dst, d...), nil // built once already, by the audit-trail chainer
	}
	var b *Builder
	select {
	case b = <-s.docs:
	default:
		b = &Builder{}
	}
	dst, _ = b.AppendDocument(dst, r)
	select {
	case s.docs <- b:
	default:
	}
	return dst, nil
}

// Send implements shippers.Shipper: it prepares the records, then sends them as SendPrepared
// does.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	prepared := make([]shippers.Prepared, len(batch))
	var failed map[int]error
	for i, r := range batch {
		doc, err := s.Prepare(nil, r)
		if err != nil {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = fmt.Errorf("encode ECS document: %w", err)
		}
		prepared[i] = shippers.Prepared{ID: r.ID, Data: doc}
	}
	return s.send(ctx, prepared, failed)
}

// SendPrepared implements shippers.Preparer.
func (s *Shipper) SendPrepared(ctx context.Context, batch []shippers.Prepared) error {
	return s.send(ctx, batch, nil)
}

// send sends batch but the items of failed, which it rejects with their error.
func (s *Shipper) send(ctx context.Context, batch []shippers.Prepared, failed map[int]error) error {
	if len(batch) == 0 {
		return nil
	}
	if err := s.ensureSetup(ctx); err != nil {
		return err
	}
	out := &outcome{recover: true}
	// Every item's two lines go into one buffer; a request's body is a run of consecutive items
	// in it, so cutting requests (and splitting one after a 413) copies nothing.
	var bp *[]byte
	select {
	case bp = <-s.bufs:
	default:
		bp = new([]byte)
	}
	// The request body's size is known before it is written: one allocation of the right
	// size instead of a buffer grown by copying as it fills.
	need := 0
	for _, p := range batch {
		need += len(p.Data) + len(p.ID) + actionLineBytes
	}
	if s.cfg.Mode == ModeDataStream {
		need += len(batch) * len(s.cfg.DataStream)
	} else {
		need += len(batch) * (len(s.cfg.IndexPrefix) + len("-2006.01.02"))
	}
	buf := (*bp)[:0]
	if cap(buf) < need {
		buf = make([]byte, 0, need)
	}
	items := make([]item, 0, len(batch))
	var last dayIndex
	for i, p := range batch {
		index, err := s.indexOf(p.Data, &last)
		if ferr := failed[i]; ferr != nil {
			err = ferr
		}
		if err != nil {
			out.pe.Rejected = append(out.pe.Rejected, i)
			out.pe.RejectErrs = append(out.pe.RejectErrs, err)
			continue
		}
		off := len(buf)
		buf = append(buf, `{"create":{"_index":`...)
		buf = strconv.AppendQuote(buf, index)
		buf = append(buf, `,"_id":`...)
		buf = strconv.AppendQuote(buf, p.ID)
		buf = append(buf, "}}\n"...)
		buf = append(buf, bytes.TrimSpace(p.Data)...)
		buf = append(buf, '\n')
		items = append(items, item{idx: i, off: off, end: len(buf)})
	}
	// Requests of at most flush_bytes, one after another: concurrency comes from the output
	// running `concurrency` batches at once (OutputConfig), which keeps the number of requests
	// in flight at `concurrency` however batches are cut.
	for from := 0; from < len(items); {
		to := from + 1
		for to < len(items) && items[to].end-items[from].off <= s.cfg.FlushBytes {
			to++
		}
		s.sendChunk(ctx, buf, items[from:to], out)
		from = to
	}
	if !out.bodyHeld {
		*bp = buf[:0]
		select {
		case s.bufs <- bp:
		default:
		}
	}

	pe := &out.pe
	pe.RetryAfter = out.retryAfter
	if len(pe.Accepted) == len(batch) {
		return nil
	}
	if len(pe.Accepted)+len(pe.Duplicates)+len(pe.Rejected) == 0 && out.failure != nil {
		// Nothing settled: report the request failure itself.
		if out.recover {
			return &shippers.RecoverableError{Err: out.failure, RetryAfter: out.retryAfter}
		}
		return out.failure
	}
	return pe
}

// actionLineBytes is an action line's length but for the index and id: {"create":{"_index":"",
// "_id":""}} and the two newlines, with room for a few escaped characters.
const actionLineBytes = 48

// indexOf returns where a prepared document goes: the data stream, or in index mode the dated
// index of its @timestamp (the first member of every document lanner writes).
// last remembers the index of the last UTC day seen, so that the documents of one day -- a
// whole batch, as a rule -- share one index name instead of parsing and formatting a date each.
func (s *Shipper) indexOf(doc []byte, last *dayIndex) (string, error) {
	if s.cfg.Mode == ModeDataStream {
		return s.cfg.DataStream, nil
	}
	// lanner writes @timestamp first, in UTC: {"@timestamp":"2006-01-02T15:04:05.999999999Z"
	const prefix = `{"@timestamp":"`
	var day []byte
	if rest, ok := bytes.CutPrefix(doc, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i > len("2006-01-02") && rest[i-1] == 'Z' {
			day = rest[:len("2006-01-02")]
		}
	}
	if day != nil && last.index != "" && string(day) == string(last.day[:]) {
		return last.index, nil
	}
	t, err := docTime(doc)
	if err != nil {
		return "", err
	}
	index := s.cfg.indexFor(t)
	if day != nil {
		copy(last.day[:], day)
		last.index = index
	}
	return index, nil
}

// dayIndex is the dated index of one UTC day (its date as @timestamp writes it).
type dayIndex struct {
	day   [len("2006-01-02")]byte
	index string
}

// docTime reads a document's @timestamp.
func docTime(doc []byte) (time.Time, error) {
	const prefix = `{"@timestamp":"`
	if rest, ok := bytes.CutPrefix(doc, []byte(prefix)); ok {
		if i := bytes.IndexByte(rest, '"'); i > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:i])); err == nil {
				return t, nil
			}
		}
	}
	// Not lanner's own layout: read it the slow way.
	var d struct {
		Timestamp time.Time `json:"@timestamp"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.Timestamp.IsZero() {
		return time.Time{}, fmt.Errorf("document without a readable @timestamp (%v)", err)
	}
	return d.Timestamp, nil
}

// bulkResponse is the part of a _bulk answer lanner reads (see filterPath).
type bulkResponse struct {
	Errors bool                         `json:"errors"`
	Items  []map[string]bulkItemOutcome `json:"items"`
}

type bulkItemOutcome struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// filterPath asks Elasticsearch for the status and error of each item only.
var filterPath = []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason"}

func (s *Shipper) sendChunk(ctx context.Context, buf []byte, ch []item, out *outcome) {
	body := buf[ch[0].off:ch[len(ch)-1].end]
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := esapi.BulkRequest{Body: bytes.NewReader(body), FilterPath: filterPath}.Do(rctx, s.client)
	if err != nil {
		s.m.requests.WithLabelValues("error").Inc()
		out.add(func(*shippers.PartialError) { out.bodyHeld = true })
		s.failChunk(ch, out, fmt.Errorf("bulk request of %d alerts: %w", len(ch), err), true, 0)
		return
	}
	defer res.Body.Close()
	s.m.requests.WithLabelValues(strconv.Itoa(res.StatusCode)).Inc()
	s.m.requestSeconds.Observe(time.Since(start).Seconds())
	data, rerr := io.ReadAll(res.Body)
	if rerr != nil || res.StatusCode != http.StatusOK {
		out.add(func(*shippers.PartialError) { out.bodyHeld = true })
	}
	if res.StatusCode == http.StatusRequestEntityTooLarge {
		if len(ch) == 1 {
			out.add(func(pe *shippers.PartialError) {
				pe.Rejected = append(pe.Rejected, ch[0].idx)
				pe.RejectErrs = append(pe.RejectErrs, fmt.Errorf("413 request entity too large: one alert of %d bytes exceeds http.max_content_length", ch[0].end-ch[0].off))
			})
			return
		}
		// Split and send again: not a retry of the same request, so no backoff.
		s.logger.Debug("bulk request too large: splitting", "alerts", len(ch), "bytes", len(body))
		half := len(ch) / 2
		s.sendChunk(ctx, buf, ch[:half], out)
		s.sendChunk(ctx, buf, ch[half:], out)
		return
	}
	if res.IsError() {
		transient := res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500
		s.failChunk(ch, out, fmt.Errorf("bulk request of %d alerts: %s: %s", len(ch), res.Status(), snippet(data)),
			transient, retryAfter(res.Header))
		return
	}
	ra := retryAfter(res.Header)
	if rerr == nil && allCreated(data, len(ch)) {
		out.add(func(pe *shippers.PartialError) {
			for _, it := range ch {
				pe.Accepted = append(pe.Accepted, it.idx)
			}
			if ra > 0 {
				out.retryAfter = max(out.retryAfter, ra)
			}
		})
		return
	}
	var br bulkResponse
	if rerr == nil {
		rerr = json.Unmarshal(data, &br)
	}
	if rerr != nil || len(br.Items) != len(ch) {
		s.failChunk(ch, out, fmt.Errorf("bulk response of %d items for %d alerts (%v): %s", len(br.Items), len(ch), rerr, snippet(data)), true, 0)
		return
	}
	out.add(func(pe *shippers.PartialError) {
		for k, m := range br.Items {
			classify(pe, ch[k].idx, m)
		}
		if ra > 0 {
			out.retryAfter = max(out.retryAfter, ra)
		}
	})
}

// allCreated reports, without decoding it, whether a bulk answer (filtered by filterPath) says
// that all n items were created: "errors":false (no item failed, not even with a 409) and n
// item statuses. Most answers are this one; anything else is decoded item by item.
func allCreated(data []byte, n int) bool {
	rest, ok := bytes.CutPrefix(bytes.TrimSpace(data), []byte(`{"errors":false,"items":[`))
	return ok && bytes.Count(rest, []byte(`"status":`)) == n && bytes.Count(rest, []byte(`"status":20`)) == n &&
		!bytes.Contains(rest, []byte(`"error"`))
}

// classify files one bulk item's outcome (STYLE.md §5): 2xx delivered, 409 on create
// delivered before (duplicate), 429 and 5xx retried, any other 4xx rejected for good.
func classify(pe *shippers.PartialError, idx int, m map[string]bulkItemOutcome) {
	var it bulkItemOutcome
	for _, v := range m { // one key: the action ("create")
		it = v
	}
	switch st := it.Status; {
	case st >= 200 && st < 300:
		pe.Accepted = append(pe.Accepted, idx)
	case st == http.StatusConflict:
		pe.Duplicates = append(pe.Duplicates, idx)
	case st == http.StatusTooManyRequests || st >= 500 || st == 0:
		pe.Retry = append(pe.Retry, idx)
	default:
		reason := fmt.Sprintf("status %d", st)
		if it.Error != nil {
			reason = fmt.Sprintf("status %d: %s: %s", st, it.Error.Type, it.Error.Reason)
		}
		pe.Rejected = append(pe.Rejected, idx)
		pe.RejectErrs = append(pe.RejectErrs, errors.New(reason))
	}
}

func (s *Shipper) failChunk(ch []item, out *outcome, err error, transient bool, ra time.Duration) {
	out.add(func(pe *shippers.PartialError) {
		for _, it := range ch {
			pe.Retry = append(pe.Retry, it.idx)
		}
		out.failure = err
		out.recover = out.recover && transient
		out.retryAfter = max(out.retryAfter, ra)
	})
}

// retryAfter reads a Retry-After header in seconds (the form Elasticsearch and proxies use).
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

type metrics struct {
	registration   *shippers.Registration
	requests       *prometheus.CounterVec
	requestSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "elasticsearch_bulk_requests_total", Help: "Bulk requests sent to Elasticsearch, by HTTP status (error: no answer)."},
			[]string{"status"}),
		requestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "elasticsearch_bulk_request_duration_seconds", Help: "Time of one bulk request to Elasticsearch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
	}
	r, err := shippers.RegisterAll(reg, "elasticsearch output", m.requests, m.requestSeconds)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *metrics) unregister() { m.registration.Unregister() }

var (
	_ shippers.Shipper  = (*Shipper)(nil)
	_ shippers.Preparer = (*Shipper)(nil)
)
