package http

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/http.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Config is the HTTP output's configuration, with the key names of Falco's `http_output:`.
type Config struct {
	URL       string `yaml:"url" desc:"URL every alert is POSTed to (http or https)."`
	UserAgent string `yaml:"user_agent" desc:"User-Agent header of the requests."`
	// Headers are "Name: value" lines, as curl -H takes them, so that a flag can carry them.
	Headers    []string      `yaml:"headers" desc:"Extra request headers, each \"Name: value\"."`
	CACert     string        `yaml:"ca_cert" desc:"PEM file of the CA that signed the server's certificate (default: the system's CAs)."`
	ClientCert string        `yaml:"client_cert" desc:"PEM client certificate for mutual TLS (with client_key)."`
	ClientKey  string        `yaml:"client_key" desc:"PEM key of client_cert."`
	Insecure   bool          `yaml:"insecure" desc:"Do not verify the server's certificate (a throwaway server only)."`
	Timeout    time.Duration `yaml:"timeout" desc:"Timeout of one POST, connection and answer included."`
}

// header splits a "Name: value" line.
func header(h string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(h, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	return name, value, ok && name != "" && validHeaderName(name)
}

// DefaultConfig is what an empty block means (the URL has no default).
func DefaultConfig() Config { return Config{UserAgent: "lanner", Timeout: 10 * time.Second} }

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.UserAgent == "" {
		c.UserAgent = d.UserAgent
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(c.URL); c.URL == "" {
		bad("url: empty")
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("url: %q is not an http(s) URL", c.URL)
	}
	if c.Insecure && c.CACert != "" {
		bad("insecure: contradicts ca_cert")
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		bad("client_cert and client_key: set both or neither")
	}
	for _, h := range c.Headers {
		if _, _, ok := header(h); !ok {
			bad("headers: %q: want \"Name: value\" with a valid header name", h)
		}
	}
	if c.Timeout < 0 {
		bad("timeout: negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("http output: %w", err)
	}
	return nil
}

func validHeaderName(k string) bool {
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || bytes.ContainsRune([]byte(`"(),/:;<=>?@[\]{}`), r) {
			return false
		}
	}
	return true
}

// Shipper POSTs alerts. It implements shippers.Shipper.
type Shipper struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger
	m      *metrics
	buf    []byte
}

// New validates cfg (after defaults) and loads the TLS files, so a missing CA or key fails the
// start with a clear message. It does not contact the server: one that is down at start delays
// delivery instead of failing lanner's start. logger and reg may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // only when asked for explicitly
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("http output: ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http output: ca_cert: %s holds no PEM certificate", cfg.CACert)
		}
		tc.RootCAs = pool
	}
	if cfg.ClientCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCert, cfg.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("http output: client_cert/client_key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	logger.Info("http output configured", "url", redactURL(cfg.URL), "insecure", cfg.Insecure)
	return &Shipper{cfg: cfg, logger: logger, m: m,
		// Redirects are not followed: a POST redirected would silently become a GET.
		client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// redactURL drops a password from u for logs.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<unparsable>"
	}
	return p.Redacted()
}

// Send POSTs the records one by one, in order. It stops at the first transient failure: what
// was delivered or rejected before it is reported in a PartialError, the rest is retried.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	var pe shippers.PartialError
	for i, r := range batch {
		err := s.post(ctx, r)
		switch {
		case err == nil:
			pe.Accepted = append(pe.Accepted, i)
			continue
		case shippers.IsRecoverable(err) || ctx.Err() != nil:
			if len(pe.Accepted)+len(pe.Rejected) == 0 {
				return err
			}
			var re *shippers.RecoverableError
			if errors.As(err, &re) {
				pe.RetryAfter = re.RetryAfter
			}
			for j := i; j < len(batch); j++ {
				pe.Retry = append(pe.Retry, j)
			}
			return &pe
		default:
			pe.Rejected = append(pe.Rejected, i)
			pe.RejectErrs = append(pe.RejectErrs, err)
		}
	}
	if len(pe.Rejected) == 0 {
		return nil
	}
	return &pe
}

// post sends one alert: nil on 2xx, a *RecoverableError on 429, 5xx or no answer, another error
// (a rejection) on any other status.
func (s *Shipper) post(ctx context.Context, r *shippers.Record) error {
	s.buf = r.Alert.AppendJSON(s.buf[:0])
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(s.buf))
	if err != nil {
		return fmt.Errorf("http output: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	for _, h := range s.cfg.Headers {
		k, v, _ := header(h)
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := s.client.Do(req)
	s.m.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.requests.WithLabelValues("error").Inc()
		return &shippers.RecoverableError{Err: fmt.Errorf("http output: POST %s: %w", redactURL(s.cfg.URL), err)}
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // so the connection is reused
	_ = resp.Body.Close()
	s.m.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusTooManyRequests || c >= 500:
		return &shippers.RecoverableError{Err: fmt.Errorf("http output: POST %s: %s", redactURL(s.cfg.URL), resp.Status),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	default:
		return fmt.Errorf("http output: POST %s: %s: %s", redactURL(s.cfg.URL), resp.Status, bytes.TrimSpace(body))
	}
}

// retryAfter reads a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Close releases idle connections.
func (s *Shipper) Close() error {
	s.m.unregister()
	s.client.CloseIdleConnections()
	return nil
}

type metrics struct {
	registration *shippers.Registration
	requests     *prometheus.CounterVec
	seconds      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	l := prometheus.Labels{"output": "http"}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "http_requests_total", Help: "Alerts POSTed by the HTTP output, by HTTP status (error: no answer).", ConstLabels: l},
			[]string{"status"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "lanner", Subsystem: "shipper",
			Name: "http_request_duration_seconds", Help: "Time of one POST of the HTTP output.", ConstLabels: l,
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
	}
	r, err := shippers.RegisterAll(reg, "http output", m.requests, m.seconds)
	if err != nil {
		return nil, err
	}
	m.registration = r
	return m, nil
}

func (m *metrics) unregister() { m.registration.Unregister() }

var _ shippers.Shipper = (*Shipper)(nil)
