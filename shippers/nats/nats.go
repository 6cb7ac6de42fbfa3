package nats

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/nats.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// DefaultSubjectTemplate is falcosidekick's default subject.
const DefaultSubjectTemplate = "falco.<priority>.<rule>"

// Config is the NATS output's configuration (the `nats_output:` block).
type Config struct {
	URL             string `yaml:"url" desc:"NATS servers, comma-separated nats:// or tls:// URLs."`
	SubjectTemplate string `yaml:"subject_template" desc:"Subject of each alert; <priority>, <rule> and <source> are replaced (falcosidekick's default)."`
	Auth            `yaml:",inline"`
	Timeout         time.Duration `yaml:"timeout" desc:"Timeout to connect, and for the server to confirm a batch."`
	ReconnectWait   time.Duration `yaml:"reconnect_wait" desc:"Wait between reconnection attempts (they never stop)."`
}

// DefaultConfig is what an empty block means: the local server, falcosidekick's subjects.
func DefaultConfig() Config {
	return Config{URL: natsgo.DefaultURL, SubjectTemplate: DefaultSubjectTemplate, Timeout: 5 * time.Second,
		ReconnectWait: 2 * time.Second}
}

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.URL == "" {
		c.URL = d.URL
	}
	if c.SubjectTemplate == "" {
		c.SubjectTemplate = d.SubjectTemplate
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.ReconnectWait == 0 {
		c.ReconnectWait = d.ReconnectWait
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, s := range strings.Split(c.URL, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
			bad("url: %q is not a nats:// or tls:// URL", s)
		}
	}
	// The template with sample values must be a valid subject to publish on.
	sample := subject(c.SubjectTemplate, &alert.Alert{Priority: alert.Critical, Rule: "R"})
	if strings.ContainsAny(sample, " \t\r\n*>") || strings.HasPrefix(sample, ".") || strings.HasSuffix(sample, ".") ||
		strings.Contains(sample, "..") {
		bad("subject_template: %q gives the subject %q, which NATS refuses for publishing", c.SubjectTemplate, sample)
	}
	auth := 0
	if c.CredsFile != "" {
		auth++
	}
	if c.Token != "" {
		auth++
	}
	if c.User != "" || c.Password != "" {
		auth++
		if c.User == "" {
			bad("password: set without user")
		}
	}
	if auth > 1 {
		bad("authentication: set only one of creds_file, token, user/password")
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		bad("client_cert and client_key: set both or neither")
	}
	if c.Timeout < 0 || c.ReconnectWait < 0 {
		bad("timeout and reconnect_wait must not be negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats output: %w", err)
	}
	return nil
}

var slugRe = regexp.MustCompile(`[^a-z0-9]+`)

// Slug is falcosidekick's form of a rule name in a subject: lower case, every run of other
// characters than a-z and 0-9 replaced by "_", no "_" at either end ("unknown" if nothing is
// left, so the subject keeps its token).
func Slug(s string) string {
	s = strings.Trim(slugRe.ReplaceAllString(strings.ToLower(s), "_"), "_")
	if s == "" {
		return "unknown"
	}
	return s
}

// subject fills template for a.
func subject(template string, a *alert.Alert) string {
	return strings.NewReplacer("<priority>", strings.ToLower(a.Priority.String()), "<rule>", Slug(a.Rule),
		"<source>", Slug(a.Source.String())).Replace(template)
}

// Shipper publishes alerts on one connection. It implements shippers.Shipper.
type Shipper struct {
	cfg    Config
	nc     *natsgo.Conn
	logger *slog.Logger
	m      *shippers.MessageMetrics
	buf    []byte
}

// New validates cfg (after defaults) and opens the connection. A server that is down at start
// does not fail New: the connection keeps trying in the background and batches are retried
// meanwhile. Files named by creds_file and TLS keys that cannot be read fail New. logger and reg
// may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []natsgo.Option{natsgo.Name("lanner"), natsgo.Timeout(cfg.Timeout),
		natsgo.RetryOnFailedConnect(true), natsgo.MaxReconnects(-1), natsgo.ReconnectWait(cfg.ReconnectWait),
		// No buffering while disconnected: a publish then fails and the batch stays in the
		// spool, which is durable, rather than in a buffer a crash would lose.
		natsgo.ReconnectBufSize(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			logger.Warn("nats output disconnected", "err", err)
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) { logger.Info("nats output reconnected", "server", c.ConnectedUrlRedacted()) }),
	}
	opts = append(opts, cfg.Auth.Options()...)
	m, err := shippers.NewMessageMetrics(reg, "nats", "Alerts published and confirmed by the NATS server.",
		"Batches that failed to publish or flush (retried).")
	if err != nil {
		return nil, err
	}
	nc, err := natsgo.Connect(cfg.URL, opts...)
	if err != nil {
		m.Unregister()
		return nil, fmt.Errorf("nats output: %w", err)
	}
	if !nc.IsConnected() {
		logger.Warn("nats output: server not reachable yet; retrying in the background", "url", cfg.URL)
	}
	return &Shipper{cfg: cfg, nc: nc, logger: logger, m: m}, nil
}

// Send publishes every record, then flushes: the server's answer to the flush's PING comes
// after it read every message before it, so the batch is delivered to the server (core NATS
// keeps no message for a subscriber that is not there: subscribers that need every alert use
// a JetStream stream on these subjects). Any failure retries the whole batch.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	if len(batch) == 0 {
		return nil
	}
	for _, r := range batch {
		s.buf = r.Alert.AppendJSON(s.buf[:0])
		if err := s.nc.Publish(subject(s.cfg.SubjectTemplate, r.Alert), s.buf); err != nil {
			s.m.Errors.Inc()
			return &shippers.RecoverableError{Err: fmt.Errorf("nats output: publish: %w", err)}
		}
	}
	fctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.nc.FlushWithContext(fctx); err != nil {
		s.m.Errors.Inc()
		return &shippers.RecoverableError{Err: fmt.Errorf("nats output: flush: %w", err)}
	}
	s.m.Messages.Add(float64(len(batch)))
	return nil
}

// Close drains nothing (every batch was flushed) and closes the connection.
func (s *Shipper) Close() error {
	s.m.Unregister()
	s.nc.Close()
	return nil
}

var _ shippers.Shipper = (*Shipper)(nil)
