package elasticsearch

import (
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/elasticsearch.md
// carries it verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Modes of Config.Mode.
const (
	ModeDataStream = "data_stream"
	ModeIndex      = "index"
)

// Config is the Elasticsearch output's configuration (the `elasticsearch:` block).
type Config struct {
	Addresses   []string        `yaml:"addresses"`
	Username    string          `yaml:"username"`
	Password    shippers.Secret `yaml:"password"`
	APIKey      shippers.Secret `yaml:"api_key"`
	BearerToken shippers.Secret `yaml:"bearer_token"`
	TLS         TLSConfig       `yaml:"tls"`

	Mode        string `yaml:"mode"`
	DataStream  string `yaml:"data_stream"`
	IndexPrefix string `yaml:"index_prefix"`

	Setup          *bool  `yaml:"setup"`
	TemplateName   string `yaml:"template_name"`
	ILMPolicy      string `yaml:"ilm_policy"`
	ILMDeleteAfter string `yaml:"ilm_delete_after"`

	Compress      *bool         `yaml:"compress"`
	FlushBytes    int           `yaml:"flush_bytes"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	BatchSize     int           `yaml:"batch_size"`
	Concurrency   int           `yaml:"concurrency"`
	Timeout       time.Duration `yaml:"timeout"`
}

// TLSConfig says how to trust the cluster's certificate.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	Fingerprint        string `yaml:"fingerprint"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

func boolp(b bool) *bool { return &b }

// DefaultConfig is what an empty `elasticsearch:` block means: the local node, a data stream.
func DefaultConfig() Config {
	return Config{
		Addresses:      []string{"http://127.0.0.1:9200"},
		Mode:           ModeDataStream,
		DataStream:     "logs-lanner.alerts-default",
		IndexPrefix:    "lanner-alerts",
		Setup:          boolp(true),
		TemplateName:   "lanner-alerts",
		ILMPolicy:      "lanner-alerts",
		ILMDeleteAfter: "90d",
		FlushBytes:     5_000_000,
		FlushInterval:  time.Second,
		BatchSize:      2000,
		Concurrency:    2,
		Timeout:        30 * time.Second,
	}
}

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if len(c.Addresses) == 0 {
		c.Addresses = d.Addresses
	}
	if c.Mode == "" {
		c.Mode = d.Mode
	}
	if c.DataStream == "" {
		c.DataStream = d.DataStream
	}
	if c.IndexPrefix == "" {
		c.IndexPrefix = d.IndexPrefix
	}
	if c.Setup == nil {
		c.Setup = d.Setup
	}
	if c.TemplateName == "" {
		c.TemplateName = d.TemplateName
	}
	if c.ILMPolicy == "" {
		c.ILMPolicy = d.ILMPolicy
	}
	if c.ILMDeleteAfter == "" {
		c.ILMDeleteAfter = d.ILMDeleteAfter
	}
	if c.Compress == nil {
		// gzip saves bandwidth at ~7 µs of CPU per alert: worth it across a network, pure
		// cost on the loopback interface, where the CPU is shared with the node itself.
		c.Compress = boolp(!allLoopback(c.Addresses))
	}
	if c.FlushBytes == 0 {
		c.FlushBytes = d.FlushBytes
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

// data stream names: type-dataset-namespace, lower case, no spaces or the characters
// Elasticsearch refuses in index names.
var (
	dataStreamRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._]*-[a-z0-9][a-z0-9._]*-[a-z0-9][a-z0-9._]*$`)
	indexNameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	retentionRe  = regexp.MustCompile(`^[0-9]+(d|h|m|s)$`)
)

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	for _, a := range c.Addresses {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("addresses: %q is not an http(s) URL", a)
		}
	}
	auth := 0
	if c.Username != "" || c.Password != "" {
		auth++
		if c.Username == "" {
			bad("password: set without username")
		}
	}
	if c.APIKey != "" {
		auth++
	}
	if c.BearerToken != "" {
		auth++
	}
	if auth > 1 {
		bad("authentication: set only one of username/password, api_key, bearer_token")
	}
	if c.TLS.InsecureSkipVerify && (c.TLS.CAFile != "" || c.TLS.Fingerprint != "") {
		bad("tls: insecure_skip_verify contradicts ca_file/fingerprint")
	}
	if c.TLS.CAFile != "" {
		if _, err := os.Stat(c.TLS.CAFile); err != nil {
			bad("tls.ca_file: %v", err)
		}
	}
	if fp := c.TLS.Fingerprint; fp != "" {
		if b, err := hex.DecodeString(strings.ReplaceAll(fp, ":", "")); err != nil || len(b) != 32 {
			bad("tls.fingerprint: want the certificate's SHA-256 in hex (64 digits)")
		}
	}
	switch c.Mode {
	case ModeDataStream:
		if !dataStreamRe.MatchString(c.DataStream) {
			bad("data_stream: %q is not TYPE-DATASET-NAMESPACE in lower case", c.DataStream)
		}
	case ModeIndex:
		if !indexNameRe.MatchString(c.IndexPrefix) {
			bad("index_prefix: %q is not a valid lower-case index name", c.IndexPrefix)
		}
	default:
		bad("mode: %q: want %s or %s", c.Mode, ModeDataStream, ModeIndex)
	}
	if c.ilm() && !retentionRe.MatchString(c.ILMDeleteAfter) {
		bad("ilm_delete_after: %q: want a number and d, h, m or s (90d)", c.ILMDeleteAfter)
	}
	if c.FlushBytes < 1024 {
		bad("flush_bytes: %d is below 1024", c.FlushBytes)
	}
	if c.FlushInterval < 0 || c.Timeout < 0 {
		bad("flush_interval and timeout must not be negative")
	}
	if c.BatchSize < 1 {
		bad("batch_size: %d: want at least 1", c.BatchSize)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		bad("concurrency: %d: want 1 to 64", c.Concurrency)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("elasticsearch output: %w", err)
	}
	return nil
}

// pattern is the index pattern the template applies to.
func (c Config) pattern() string {
	if c.Mode == ModeDataStream {
		// logs-lanner.alerts-default -> logs-lanner.alerts-*: every namespace of the dataset.
		i := strings.LastIndexByte(c.DataStream, '-')
		return c.DataStream[:i+1] + "*"
	}
	return c.IndexPrefix + "-*"
}

// indexFor returns where a document of an event at t goes.
func (c Config) indexFor(t time.Time) string {
	if c.Mode == ModeDataStream {
		return c.DataStream
	}
	return c.IndexPrefix + "-" + t.UTC().Format("2006.01.02")
}

// IndexPatternForDocs returns the index pattern the template covers, for messages and docs.
func (c Config) IndexPatternForDocs() string { return c.pattern() }

// ilm reports whether a lifecycle policy is wanted (ilm_policy: none turns it off).
func (c Config) ilm() bool { return c.ILMPolicy != "" && c.ILMPolicy != "none" }

// OutputConfig returns the generic output settings this configuration implies: batches of
// batch_size alerts (at most flush_bytes of spooled payload), a flush_interval linger, and
// `concurrency` batches in delivery at once. name, filter and dead-letter file are the caller's.
func (c Config) OutputConfig(name string) shippers.OutputConfig {
	c = c.WithDefaults()
	return shippers.OutputConfig{Name: name, BatchSize: c.BatchSize, BatchBytes: int64(c.FlushBytes),
		FlushInterval: c.FlushInterval, InFlight: c.Concurrency}
}

// allLoopback reports whether every address names this machine (127.0.0.0/8, ::1, localhost).
func allLoopback(addrs []string) bool {
	for _, a := range addrs {
		u, err := url.Parse(a)
		if err != nil {
			return false
		}
		h := u.Hostname()
		if h == "localhost" {
			continue
		}
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}
