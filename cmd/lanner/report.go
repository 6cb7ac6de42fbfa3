package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/dashboards/report"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// Environment variables that may hold the Elasticsearch credentials of `lanner report`, so that
// they need not be on the command line (visible in ps).
const (
	envESUsername = "LANNER_ES_USERNAME"
	envESPassword = "LANNER_ES_PASSWORD"
	envESAPIKey   = "LANNER_ES_API_KEY"
)

type reportFlags struct {
	since, until string
	format, out  string
	title        string

	config     string
	addresses  []string
	username   string
	password   string
	apiKey     string
	caCert     string
	insecure   bool
	index      string
	dataStream string

	top, auditLimit int
	timeout         time.Duration

	keyFile  string
	noVerify bool
}

func newReportCmd() *cobra.Command {
	var fl reportFlags
	c := &cobra.Command{
		Use:   "report --since 7d --out FILE",
		Short: "Write a compliance report (HTML or PDF) of the alerts in Elasticsearch",
		Long: `Query Elasticsearch for the alerts of a time window and write a report for people:
a summary of the key numbers, alerts by priority, per UTC day, by rule and by namespace (with
charts), the workloads with the most runtime alerts, the Kubernetes audit activity, and the
result of the audit-trail verification.

The window is [--since, --until). Each takes an age before now (7d, 24h, 90m, 1d12h), an RFC 3339
time (2026-11-20T08:00:00Z) or a UTC date (2026-11-20, meaning its midnight). --until defaults to
now. --format defaults to the extension of --out (.html, .htm or .pdf).

The audit-trail section is the verdict of ` + "`lanner audit verify`" + ` on the window's alerts (gaps,
modified or reordered documents), unless --no-verify; an HMAC-keyed trail needs its key
(--key-file, $` + keyEnv + ` or audit_trail.key in --config).

The connection comes from --config (the elasticsearch: block of a lanner configuration file),
overridden by the flags. Credentials may also come from $` + envESUsername + `, $` + envESPassword + ` and
$` + envESAPIKey + ` (preferred to flags, which other users of the machine can see).`,
		Example: `  lanner report --since 7d --out weekly.html
  lanner report --since 2026-11-01 --until 2026-12-01 --out november.pdf
  lanner report --config /etc/lanner/lanner.yaml --since 24h --format pdf --out - > today.pdf
  LANNER_ES_API_KEY=... lanner report --es https://es.example:9200 --ca-cert ca.pem --since 30d --out month.pdf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), fl, os.Getenv, time.Now(), nil)
		},
	}
	f := c.Flags()
	f.StringVar(&fl.since, "since", "7d", "start of the window: an age (7d, 24h), an RFC 3339 time or a date")
	f.StringVar(&fl.until, "until", "", "end of the window, excluded (default: now)")
	f.StringVar(&fl.format, "format", "", "html or pdf (default: from the extension of --out)")
	f.StringVarP(&fl.out, "out", "o", "", "file to write, - for standard output (required)")
	f.StringVar(&fl.title, "title", "", "title of the report (default \"lanner compliance report\")")
	f.StringVar(&fl.config, "config", "", "YAML file with an elasticsearch: block (connection, credentials, data stream)")
	f.StringArrayVar(&fl.addresses, "es", nil, "Elasticsearch URL (repeatable; overrides the file)")
	f.StringVar(&fl.username, "username", "", "user for basic auth ($"+envESUsername+")")
	f.StringVar(&fl.password, "password", "", "password for basic auth ($"+envESPassword+", preferred)")
	f.StringVar(&fl.apiKey, "api-key", "", "API key, base64 id:key ($"+envESAPIKey+", preferred)")
	f.StringVar(&fl.caCert, "ca-cert", "", "PEM file of CA certificates to trust for https")
	f.BoolVar(&fl.insecure, "insecure-skip-verify", false, "do not verify the cluster's certificate (testing only)")
	f.StringVar(&fl.index, "index", "", "index or index pattern to read (default: the configured data stream, or the dated indices' pattern)")
	f.StringVar(&fl.dataStream, "data-stream", "", "data stream to read (default: the configured one, logs-lanner.alerts-default)")
	f.IntVar(&fl.top, "top", 0, fmt.Sprintf("rows of the rules, namespaces, workloads and audit users tables (default %d)", report.DefaultTopRules))
	f.IntVar(&fl.auditLimit, "audit-limit", 0, fmt.Sprintf("rows of the Kubernetes audit table, newest first (default %d)", report.DefaultAuditLimit))
	f.DurationVar(&fl.timeout, "timeout", 5*time.Minute, "give up after this long")
	f.StringVar(&fl.keyFile, "key-file", "", "file holding the audit trail's HMAC key (default: $"+keyEnv+", else audit_trail.key of --config)")
	f.BoolVar(&fl.noVerify, "no-verify", false, "do not verify the audit trail (the report says \"not verified\")")
	return c
}

// reportFormat picks the output format from --format, else from the extension of --out.
func reportFormat(format, out string) (string, error) {
	switch f := strings.ToLower(format); f {
	case "html", "pdf":
		return f, nil
	case "":
	default:
		return "", fmt.Errorf("--format %q: want html or pdf", format)
	}
	switch strings.ToLower(filepath.Ext(out)) {
	case ".html", ".htm":
		return "html", nil
	case ".pdf":
		return "pdf", nil
	}
	if out == "-" {
		return "", fmt.Errorf("--format is needed when writing to standard output")
	}
	return "", fmt.Errorf("cannot tell the format from %q: name the file .html or .pdf, or give --format", out)
}

// reportESConfig merges the configuration file, the environment and the flags (flags win) and
// returns, with the connection, the audit trail's key from the file (nil without one), and
// says which index to read.
func reportESConfig(fl reportFlags, getenv func(string) string) (elasticsearch.Config, []byte, string, error) {
	cfg, key, err := loadAuditConfig(fl.config)
	if err != nil {
		return cfg, nil, "", err
	}
	if len(fl.addresses) > 0 {
		cfg.Addresses = fl.addresses
	}
	pick := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return getenv(env)
	}
	if u := pick(fl.username, envESUsername); u != "" {
		cfg.Username = u
	}
	if p := pick(fl.password, envESPassword); p != "" {
		cfg.Password = shippers.Secret(p)
	}
	if k := pick(fl.apiKey, envESAPIKey); k != "" {
		cfg.APIKey = shippers.Secret(k)
	}
	if fl.caCert != "" {
		cfg.TLS.CAFile = fl.caCert
	}
	if fl.insecure {
		cfg.TLS.InsecureSkipVerify = true
	}
	if fl.index != "" && fl.dataStream != "" {
		return cfg, nil, "", fmt.Errorf("--index and --data-stream are exclusive")
	}
	if fl.dataStream != "" {
		cfg.Mode, cfg.DataStream = elasticsearch.ModeDataStream, fl.dataStream
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, nil, "", err
	}
	target := fl.index
	switch {
	case target != "":
	case cfg.Mode == elasticsearch.ModeDataStream:
		target = cfg.DataStream
	default:
		target = cfg.IndexPatternForDocs()
	}
	return cfg, key, target, nil
}

// runReport writes the report. verifier may be nil (the report then says the trail was not
// verified).
func runReport(ctx context.Context, stdout, stderr io.Writer, fl reportFlags, getenv func(string) string, now time.Time, verifier report.TrailVerifier) error {
	bad := func(format string, a ...any) error {
		return &usageError{msg: "report: " + fmt.Sprintf(format, a...)}
	}
	if fl.out == "" {
		return bad("--out is required (a file name, or - for standard output)")
	}
	format, err := reportFormat(fl.format, fl.out)
	if err != nil {
		return bad("%v", err)
	}
	since, err := parseTimeFlag(fl.since, now)
	if err != nil || since.IsZero() {
		return bad("--since %v", err)
	}
	until := now
	if fl.until != "" {
		if until, err = parseTimeFlag(fl.until, now); err != nil {
			return bad("--until %v", err)
		}
	}
	if !since.Before(until) {
		return bad("--since (%s) must be before --until (%s)", since.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
	}
	if fl.top < 0 || fl.auditLimit < 0 {
		return bad("--top and --audit-limit must not be negative")
	}
	cfg, fileKey, target, err := reportESConfig(fl, getenv)
	if err != nil {
		return bad("%v", err)
	}
	client, err := elasticsearch.NewClient(cfg)
	if err != nil {
		return bad("%v", err)
	}
	if verifier == nil && !fl.noVerify {
		// The window's hash chains, checked as `lanner audit verify --since --until` does.
		key, err := trailKey(fileKey, fl.keyFile, getenv)
		if err != nil {
			return bad("%v", err)
		}
		verifier = chainTrail{client: client, index: target, key: key}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, fl.timeout)
	defer cancel()
	q := report.Query{Target: target, Since: since, Until: until, Title: fl.title, Now: now,
		TopRules: fl.top, TopNamespaces: fl.top, TopWorkloads: fl.top, TopUsers: fl.top, AuditLimit: fl.auditLimit}
	r, err := report.Collect(ctx, client, q, verifier, logger)
	if err != nil {
		return err
	}
	write := report.WriteHTML
	if format == "pdf" {
		write = report.WritePDF
	}
	if fl.out == "-" {
		return write(stdout, r)
	}
	if err := writeFileAtomic(fl.out, func(w io.Writer) error { return write(w, r) }); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s (%s): %d alerts in %s, %s to %s\n", fl.out, format, r.Total, target,
		r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339))
	return nil
}

// writeFileAtomic writes a file through a temporary file in the same directory, renamed into
// place once complete, so that a failure never leaves half a report under the wanted name.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
