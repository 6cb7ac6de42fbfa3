package fluentd

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"tls", func(c *Config) { c.Network = NetworkTLS; c.TLS.InsecureSkipVerify = true }, ""},
		{"unix", func(c *Config) { c.Network = NetworkUnix; c.SocketPath = "/run/fluentd.sock" }, ""},
		{"unknown network", func(c *Config) { c.Network = "udp" }, `network: "udp"`},
		{"port too big", func(c *Config) { c.Port = 70000 }, "port: 70000"},
		{"negative port", func(c *Config) { c.Port = -1 }, "port: -1"},
		{"host with slash", func(c *Config) { c.Host = "http://x" }, "host:"},
		{"unix without path", func(c *Config) { c.Network = NetworkUnix }, "socket_path: empty"},
		{"path with tcp", func(c *Config) { c.SocketPath = "/x.sock" }, "socket_path: set"},
		{"insecure without tls", func(c *Config) { c.TLS.InsecureSkipVerify = true }, "tls.insecure_skip_verify"},
		{"empty tag part", func(c *Config) { c.Tag = "lanner..alert" }, "tag:"},
		{"tag with space", func(c *Config) { c.Tag = "lanner alert" }, "tag:"},
		{"negative ack timeout", func(c *Config) { c.AckTimeout = -time.Second }, "ack_timeout"},
		{"negative dial timeout", func(c *Config) { c.DialTimeout = -time.Second }, "dial_timeout"},
		{"batch size", func(c *Config) { c.BatchSize = -3 }, "batch_size: -3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{}.WithDefaults()
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "fluentd output: ") {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{Network: "udp", Tag: "a..b", AckTimeout: -1, BatchSize: -1}.WithDefaults()
	err := c.Validate()
	for _, want := range []string{"network:", "tag:", "ack_timeout", "batch_size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New("fluentd", Config{Port: 99999}, nil, nil); err == nil || !strings.Contains(err.Error(), "port") {
		t.Fatalf("New with port 99999 = %v, want a port error", err)
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Fluentd Config `yaml:"fluentd"`
	}
	dec := yaml.NewDecoder(strings.NewReader(SampleConfig()))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sample.yaml does not decode into Config: %v", err)
	}
	c := doc.Fluentd.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("sample.yaml does not validate: %v", err)
	}
	if c != DefaultConfig() {
		t.Fatalf("sample decodes to %+v, want the defaults %+v", c, DefaultConfig())
	}
	md, err := os.ReadFile("../../docs/outputs/fluentd.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(md, []byte(SampleConfig())) {
		t.Fatal("docs/outputs/fluentd.md does not contain shippers/fluentd/sample.yaml verbatim")
	}
}

func TestRecord(t *testing.T) {
	a := &alert.Alert{Time: time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC), Rule: "Terminal shell in container",
		Priority: alert.Notice, Source: event.SourceSyscall, Tags: []string{"container", "shell"}, Hostname: "node-1",
		Output:       "12:00:00.123456789: Notice shell",
		OutputFields: map[string]any{"proc.name": "bash", "proc.pid": int64(42), "fd.num": uint64(3), "x": []string{"a"}, "na": nil},
		K8s: &alert.K8sMeta{Namespace: "default", PodName: "web-0", NodeName: "node-1", ContainerName: "web",
			Labels: map[string]string{"app": "web"}},
		K8sLookup: alert.K8sFound}
	r := shippers.NewRecord(a, "", "")
	m := Record(r)
	of := m["output_fields"].(map[string]any)
	k := m["kubernetes"].(map[string]any)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"rule", m["rule"], "Terminal shell in container"},
		{"priority", m["priority"], "Notice"},
		{"source", m["source"], "syscall"},
		{"time", m["time"], "2026-11-26T12:00:00.123456789Z"},
		{"hostname", m["hostname"], "node-1"},
		{"lanner_id", m["lanner_id"], r.ID},
		{"proc.pid", of["proc.pid"], int64(42)},
		{"fd.num", of["fd.num"], uint64(3)},
		{"na", of["na"], nil},
		{"x[0]", of["x"].([]any)[0], "a"},
		{"tags[1]", m["tags"].([]any)[1], "shell"},
		{"namespace_name", k["namespace_name"], "default"},
		{"pod_name", k["pod_name"], "web-0"},
		{"host", k["host"], "node-1"},
		{"labels.app", k["labels"].(map[string]any)["app"], "web"},
		{"k8s_lookup", m["k8s_lookup"], alert.K8sFound.String()},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := k["pod_id"]; ok {
		t.Error("empty pod uid is present")
	}
}
