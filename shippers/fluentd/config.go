package fluentd

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/fluentd.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Networks of Config.Network.
const (
	NetworkTCP  = "tcp"
	NetworkTLS  = "tls"
	NetworkUnix = "unix"
)

// Config is the Fluentd output's configuration (the `fluentd:` block).
type Config struct {
	Network    string    `yaml:"network"`
	Host       string    `yaml:"host"`
	Port       int       `yaml:"port"`
	SocketPath string    `yaml:"socket_path"`
	TLS        TLSConfig `yaml:"tls"`
	Tag        string    `yaml:"tag"`

	DialTimeout  time.Duration `yaml:"dial_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// AckTimeout bounds the wait for Fluentd's acknowledgement of one record. It must be
	// positive: the library's default (0) waits forever on a server that never answers.
	AckTimeout time.Duration `yaml:"ack_timeout"`

	BatchSize     int           `yaml:"batch_size"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// TLSConfig is what the library lets us set for network: tls.
type TLSConfig struct {
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// DefaultConfig is what an empty `fluentd:` block means: a local Fluentd on the standard port.
func DefaultConfig() Config {
	return Config{
		Network:      NetworkTCP,
		Host:         "127.0.0.1",
		Port:         24224,
		Tag:          "lanner.alert",
		DialTimeout:  3 * time.Second,
		WriteTimeout: 5 * time.Second,
		AckTimeout:   5 * time.Second,
		BatchSize:    500,
	}
}

// WithDefaults returns c with every unset field taken from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Network == "" {
		c.Network = d.Network
	}
	if c.Host == "" {
		c.Host = d.Host
	}
	if c.Port == 0 {
		c.Port = d.Port
	}
	if c.Tag == "" {
		c.Tag = d.Tag
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = d.WriteTimeout
	}
	if c.AckTimeout == 0 {
		c.AckTimeout = d.AckTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	return c
}

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Network {
	case NetworkTCP, NetworkTLS:
		if c.Host == "" || strings.ContainsAny(c.Host, " /") {
			bad("host: %q is not a host name or address", c.Host)
		}
		if c.Port < 1 || c.Port > 65535 {
			bad("port: %d: want 1 to 65535", c.Port)
		}
		if c.SocketPath != "" {
			bad("socket_path: set, but network is %s (want unix)", c.Network)
		}
	case NetworkUnix:
		if c.SocketPath == "" {
			bad("socket_path: empty with network unix")
		}
	default:
		bad("network: %q: want %s, %s or %s", c.Network, NetworkTCP, NetworkTLS, NetworkUnix)
	}
	if c.TLS.InsecureSkipVerify && c.Network != NetworkTLS {
		bad("tls.insecure_skip_verify: set, but network is %s", c.Network)
	}
	if !validTag(c.Tag) {
		bad("tag: %q: want dot-separated words of letters, digits, _ or - (lanner.alert)", c.Tag)
	}
	if c.DialTimeout < 0 || c.WriteTimeout < 0 || c.FlushInterval < 0 {
		bad("dial_timeout, write_timeout and flush_interval must not be negative")
	}
	if c.AckTimeout <= 0 {
		bad("ack_timeout: %s: want a positive duration (without it a silent server blocks the output forever)", c.AckTimeout)
	}
	if c.BatchSize < 1 {
		bad("batch_size: %d: want at least 1", c.BatchSize)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fluentd output: %w", err)
	}
	return nil
}

// validTag accepts what Fluentd's <match> patterns can select: non-empty dot-separated parts.
func validTag(tag string) bool {
	if tag == "" {
		return false
	}
	for _, part := range strings.Split(tag, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
			if !ok {
				return false
			}
		}
	}
	return true
}

// OutputConfig returns the generic output settings this configuration implies. One batch is
// in flight at a time: the shipper has one connection, and Forward acks arrive in order on it.
// name, filter and dead-letter file are the caller's.
func (c Config) OutputConfig(name string) shippers.OutputConfig {
	c = c.WithDefaults()
	return shippers.OutputConfig{Name: name, BatchSize: c.BatchSize, FlushInterval: c.FlushInterval, InFlight: 1}
}
