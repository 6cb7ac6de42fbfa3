package syslog

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/shippers"
)

//go:embed sample.yaml
var sampleConfig string

// SampleConfig returns the documented sample configuration (docs/outputs/syslog.md carries it
// verbatim; a test checks).
func SampleConfig() string { return sampleConfig }

// Config is the syslog output's configuration (the `syslog_output:` block; Falco's has only
// `enabled`, and always writes to the local daemon).
type Config struct {
	Network  string        `yaml:"network" desc:"unixgram (/dev/log), unix, udp or tcp."`
	Address  string        `yaml:"address" desc:"Socket path, or host:port for udp and tcp."`
	Facility string        `yaml:"facility" desc:"Syslog facility (user, daemon, local0...local7...)."`
	AppName  string        `yaml:"app_name" desc:"APP-NAME of the messages."`
	Hostname string        `yaml:"hostname" desc:"HOSTNAME of the messages (default: this machine's name)."`
	Format   string        `yaml:"format" desc:"Message body: json (Falco's JSON alert) or text (Falco's text line)."`
	Timeout  time.Duration `yaml:"timeout" desc:"Timeout to connect and to write one batch."`
}

// DefaultConfig is what an empty block means: the local daemon, facility local0.
func DefaultConfig() Config {
	return Config{Network: "unixgram", Address: "/dev/log", Facility: "local0", AppName: "lanner",
		Format: "json", Timeout: 5 * time.Second}
}

// WithDefaults returns c with every unset field taken from DefaultConfig (the address only
// for the unix networks: a remote daemon has no default address).
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.Network == "" {
		c.Network = d.Network
	}
	if c.Address == "" && (c.Network == "unixgram" || c.Network == "unix") {
		c.Address = d.Address
	}
	if c.Facility == "" {
		c.Facility = d.Facility
	}
	if c.AppName == "" {
		c.AppName = d.AppName
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.Format == "" {
		c.Format = d.Format
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	return c
}

var facilities = map[string]int{"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23}

// Validate reports every problem of c (after WithDefaults), naming the key.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Network {
	case "unixgram", "unix":
		if c.Address == "" {
			bad("address: empty")
		}
	case "udp", "tcp":
		if _, _, err := net.SplitHostPort(c.Address); err != nil {
			bad("address: %q: want host:port for %s", c.Address, c.Network)
		}
	default:
		bad("network: %q: want unixgram, unix, udp or tcp", c.Network)
	}
	if _, ok := facilities[c.Facility]; !ok {
		bad("facility: %q: want kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0..local7", c.Facility)
	}
	if !printASCII(c.AppName, 48) {
		bad("app_name: %q: want 1 to 48 printable ASCII characters", c.AppName)
	}
	if c.Hostname != "" && !printASCII(c.Hostname, 255) {
		bad("hostname: %q: want 1 to 255 printable ASCII characters", c.Hostname)
	}
	if c.Format != "json" && c.Format != "text" {
		bad("format: %q: want json or text", c.Format)
	}
	if c.Timeout < 0 {
		bad("timeout: negative")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("syslog output: %w", err)
	}
	return nil
}

// printASCII reports whether s is 1 to max characters from '!' to '~' (RFC 5424 PRINTUSASCII).
func printASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// Shipper writes alerts to a syslog receiver. It implements shippers.Shipper.
type Shipper struct {
	cfg      Config
	facility int
	logger   *slog.Logger
	m        *shippers.MessageMetrics
	conn     net.Conn
	procID   string
	buf, msg []byte
}

// New validates cfg (after defaults). It does not connect: a receiver that is down at start
// delays delivery instead of failing lanner's start. logger and reg may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Shipper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := shippers.NewMessageMetrics(reg, "syslog", "Syslog messages written.",
		"Batches that failed to connect or write (retried).")
	if err != nil {
		return nil, err
	}
	return &Shipper{cfg: cfg, facility: facilities[cfg.Facility], logger: logger, m: m,
		procID: strconv.Itoa(os.Getpid())}, nil
}

// framed reports whether messages on the connection need octet-counting framing: on a stream
// a receiver cannot otherwise tell where a message that contains a newline ends.
func (s *Shipper) framed() bool { return s.cfg.Network == "tcp" || s.cfg.Network == "unix" }

// Format appends a's RFC 5424 message (without framing) to dst.
func (s *Shipper) Format(dst []byte, a *alert.Alert) []byte {
	sev := int(a.Priority)
	if !a.Priority.Valid() {
		sev = int(alert.Notice)
	}
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(s.facility*8+sev), 10)
	dst = append(dst, ">1 "...)
	t := a.Time
	if t.IsZero() {
		t = time.Now()
	}
	dst = t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = append(dst, ' ')
	dst = append(dst, s.cfg.Hostname...)
	dst = append(dst, ' ')
	dst = append(dst, s.cfg.AppName...)
	dst = append(dst, ' ')
	dst = append(dst, s.procID...)
	// MSGID: the alert's source (syscall, k8s_audit), so a receiver can route by it; no
	// structured data: the body carries every field.
	dst = append(dst, ' ')
	if src := a.Source.String(); printASCII(src, 32) {
		dst = append(dst, src...)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, " - "...)
	if s.cfg.Format == "text" {
		dst = append(dst, a.TextLine()...)
	} else {
		dst = a.AppendJSON(dst)
	}
	return dst
}

func (s *Shipper) dial(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	d := net.Dialer{Timeout: s.cfg.Timeout}
	c, err := d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
	if err != nil {
		return err
	}
	s.conn = c
	return nil
}

// Send writes the batch's messages: on a stream one write of all of them, on a datagram socket
// one datagram each. Any failure closes the connection (the next attempt dials again) and the
// whole batch is retried: a stream receiver may then see an alert twice.
func (s *Shipper) Send(ctx context.Context, batch shippers.Batch) error {
	if len(batch) == 0 {
		return nil
	}
	if err := s.dial(ctx); err != nil {
		s.m.Errors.Inc()
		return &shippers.RecoverableError{Err: fmt.Errorf("syslog output: connect %s %s: %w", s.cfg.Network, s.cfg.Address, err)}
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = s.conn.SetWriteDeadline(deadline)
	var err error
	if s.framed() {
		s.buf = s.buf[:0]
		for _, r := range batch {
			s.msg = s.Format(s.msg[:0], r.Alert)
			s.buf = strconv.AppendInt(s.buf, int64(len(s.msg)), 10)
			s.buf = append(s.buf, ' ')
			s.buf = append(s.buf, s.msg...)
		}
		_, err = s.conn.Write(s.buf)
	} else {
		for _, r := range batch {
			s.msg = s.Format(s.msg[:0], r.Alert)
			if _, err = s.conn.Write(s.msg); err != nil {
				break
			}
		}
	}
	if err != nil {
		s.m.Errors.Inc()
		_ = s.conn.Close()
		s.conn = nil
		return &shippers.RecoverableError{Err: fmt.Errorf("syslog output: write to %s %s: %w", s.cfg.Network, s.cfg.Address, err)}
	}
	s.m.Messages.Add(float64(len(batch)))
	return nil
}

// Close closes the connection.
func (s *Shipper) Close() error {
	s.m.Unregister()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}

var _ shippers.Shipper = (*Shipper)(nil)
