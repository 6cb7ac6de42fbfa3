package syslog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

// message is an RFC 5424 message as the test's receiver parses it.
type message struct {
	pri                                      int
	timestamp, host, app, procID, msgID, msg string
}

// parse5424 parses one RFC 5424 message with no structured data, failing on anything else.
func parse5424(t *testing.T, b []byte) message {
	t.Helper()
	s := string(b)
	if !strings.HasPrefix(s, "<") {
		t.Fatalf("message %q does not start with <PRI>", s)
	}
	end := strings.IndexByte(s, '>')
	pri, err := strconv.Atoi(s[1:max(end, 1)])
	if end < 0 || err != nil || pri < 0 || pri > 191 {
		t.Fatalf("message %q: bad PRI", s)
	}
	f := strings.SplitN(s[end+1:], " ", 8)
	if len(f) != 8 || f[0] != "1" || f[6] != "-" {
		t.Fatalf("message %q: want VERSION 1 and six header fields then NILVALUE structured data", s)
	}
	if _, err := time.Parse(time.RFC3339Nano, f[1]); err != nil {
		t.Fatalf("message %q: timestamp: %v", s, err)
	}
	return message{pri: pri, timestamp: f[1], host: f[2], app: f[3], procID: f[4], msgID: f[5], msg: f[7]}
}

func testAlerts() shippers.Batch {
	var b shippers.Batch
	for i, p := range []alert.Priority{alert.Critical, alert.Warning, alert.Debug, alert.Emergency} {
		a := &alert.Alert{Time: time.Date(2026, 11, 26, 12, 0, 0, 123456000+i, time.UTC), Rule: fmt.Sprintf("Rule %d", i),
			Priority: p, Source: event.SourceSyscall, Hostname: "node-1",
			Output:       fmt.Sprintf("12:00:00.123456000: %s alert %d\nsecond line", p, i),
			OutputFields: map[string]any{"proc.name": "sh"}}
		b = append(b, shippers.NewRecord(a, "", ""))
	}
	return b
}

// readFramed reads n octet-counted messages from r.
func readFramed(t *testing.T, r io.Reader, n int) [][]byte {
	t.Helper()
	br := bufio.NewReader(r)
	var out [][]byte
	for range n {
		l, err := br.ReadString(' ')
		if err != nil {
			t.Fatalf("reading the frame length: %v", err)
		}
		size, err := strconv.Atoi(strings.TrimSuffix(l, " "))
		if err != nil {
			t.Fatalf("frame length %q: %v", l, err)
		}
		m := make([]byte, size)
		if _, err := io.ReadFull(br, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// receiver listens on network and returns its address and a function returning the next n
// messages received.
func receiver(t *testing.T, network string) (string, func(n int) [][]byte) {
	t.Helper()
	switch network {
	case "udp", "unixgram":
		addr := "127.0.0.1:0"
		if network == "unixgram" {
			addr = filepath.Join(t.TempDir(), "log.sock")
		}
		pc, err := net.ListenPacket(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		return pc.LocalAddr().String(), func(n int) [][]byte {
			var out [][]byte
			buf := make([]byte, 65536)
			for range n {
				k, _, err := pc.ReadFrom(buf)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, bytes.Clone(buf[:k]))
			}
			return out
		}
	default:
		addr := "127.0.0.1:0"
		if network == "unix" {
			addr = filepath.Join(t.TempDir(), "log.sock")
		}
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		conns := make(chan net.Conn, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns <- c
			}
		}()
		var cur net.Conn
		return ln.Addr().String(), func(n int) [][]byte {
			if cur == nil {
				cur = <-conns
				t.Cleanup(func() { cur.Close() })
			}
			return readFramed(t, cur, n)
		}
	}
}

func TestDeliversRFC5424(t *testing.T) {
	for _, network := range []string{"unixgram", "unix", "udp", "tcp"} {
		for _, format := range []string{"json", "text"} {
			t.Run(network+"/"+format, func(t *testing.T) {
				addr, next := receiver(t, network)
				s, err := New(Config{Network: network, Address: addr, Facility: "local3", Hostname: "collector-1", Format: format}, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				batch := testAlerts()
				if err := s.Send(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
				got := next(len(batch))
				for i, raw := range got {
					m := parse5424(t, raw)
					a := batch[i].Alert
					if want := 19*8 + int(a.Priority); m.pri != want {
						t.Errorf("message %d: PRI %d, want %d (local3, %s)", i, m.pri, want, a.Priority)
					}
					if m.timestamp != "2026-11-26T12:00:00.123456Z" || m.host != "collector-1" || m.app != "lanner" ||
						m.procID != strconv.Itoa(os.Getpid()) || m.msgID != "syscall" {
						t.Errorf("message %d header: %+v", i, m)
					}
					if format == "json" {
						back, err := shippers.ParseFalcoJSON([]byte(m.msg))
						if err != nil || back.Rule != a.Rule || back.Output != a.Output {
							t.Errorf("message %d body %q is not the alert's Falco JSON (%v)", i, m.msg, err)
						}
					} else if m.msg != a.TextLine() {
						t.Errorf("message %d body %q, want %q", i, m.msg, a.TextLine())
					}
				}
			})
		}
	}
}

// TestReconnects: a TCP receiver that went away makes Send fail recoverably; once a receiver
// listens again the retried batch arrives on a new connection.
func TestReconnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s, err := New(Config{Network: "tcp", Address: addr}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := testAlerts()
	if err := s.Send(context.Background(), batch); !shippers.IsRecoverable(err) {
		t.Fatalf("Send with no receiver = %v, want recoverable", err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer ln.Close()
	if err := s.Send(context.Background(), batch); err != nil {
		t.Fatalf("retried Send = %v", err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := readFramed(t, c, len(batch)); len(got) != len(batch) {
		t.Fatalf("%d messages", len(got))
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown network", Config{Network: "sctp", Address: "h:514"}, `network: "sctp"`},
		{"udp without port", Config{Network: "udp", Address: "loghost"}, "want host:port for udp"},
		{"tcp without address", Config{Network: "tcp"}, "want host:port for tcp"},
		{"bad facility", Config{Facility: "local9"}, `facility: "local9"`},
		{"bad app name", Config{AppName: "my app"}, "app_name"},
		{"bad format", Config{Format: "xml"}, `format: "xml"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.cfg, nil, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded", tc.cfg)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "syslog output: ") {
				t.Fatalf("New error = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Syslog Config `yaml:"syslog_output"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.Syslog.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if c.Network != "unixgram" || c.Address != "/dev/log" || c.Facility != "local0" {
		t.Fatalf("sample decoded to %+v", c)
	}
	md, err := os.ReadFile("../../docs/outputs/syslog.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/syslog.md does not contain shippers/syslog/sample.yaml verbatim")
	}
}
