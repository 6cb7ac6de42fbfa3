package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/elasticsearch"
	"github.com/lannersec/lanner/shippers/fluentd"
	"github.com/lannersec/lanner/shippers/spool"
)

// Config is everything `lanner run` reads. The yaml tag is the key; desc documents it (Markdown
// and --help); flag, when set, replaces the flag name derived from the key and short adds a
// one-letter form.
type Config struct {
	RulesFiles   []string `yaml:"rules_files" flag:"rules" short:"r" desc:"Rules files, loaded in this order. Falco's rules files load unmodified; later files may append to or override earlier ones."`
	RuleMatching string   `yaml:"rule_matching" desc:"first: an event raises at most one alert, from the first matching rule (Falco's default); all: one alert per matching rule."`
	Priority     string   `yaml:"priority" desc:"Minimum priority of the rules loaded (emergency ... debug, Falco's names and aliases); less severe rules are disabled."`
	JSONOutput   bool     `yaml:"json_output" desc:"Write alerts on stdout as Falco JSON lines; false writes Falco's text lines."`
	TimeISO8601  bool     `yaml:"time_format_iso_8601" desc:"Write clock times in alert outputs in ISO 8601 (UTC) instead of the local zone, as Falco's option of the same name."`
	Stdout       Stdout   `yaml:"stdout"`
	Log          Log      `yaml:"log"`
	// ShutdownTimeout bounds each shutdown step (see cmd/lanner/run.go for the order).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout" desc:"How long each shutdown step (draining the audit queue, flushing outputs, stopping servers) may take before it is abandoned."`

	Capture       Capture       `yaml:"capture"`
	Drops         Drops         `yaml:"syscall_event_drops"`
	HTTP          HTTP          `yaml:"http"`
	Elasticsearch Elasticsearch `yaml:"elasticsearch"`
	Fluentd       Fluentd       `yaml:"fluentd"`
	// Falco's other outputs (outputs.go), under Falco's block names.
	FileOutput    FileOutput    `yaml:"file_output"`
	HTTPOutput    HTTPOutput    `yaml:"http_output"`
	SyslogOutput  SyslogOutput  `yaml:"syslog_output"`
	ProgramOutput ProgramOutput `yaml:"program_output"`
	NATSOutput    NATSOutput    `yaml:"nats_output"`
	Kubernetes    Kubernetes    `yaml:"kubernetes"`
	Audit         Audit         `yaml:"audit"`
	AuditTrail    AuditTrail    `yaml:"audit_trail"`

	// DisabledOutputs are the outputs Load turned off because their block is invalid (a bad URL,
	// a missing setting) or unknown (a block named like an output that lanner does not have), each
	// with its problems placed at FILE:LINE. The collector starts with the other outputs, logs
	// these and reports them on /readyz: one mistyped destination must not stop every other.
	DisabledOutputs []DisabledOutput `yaml:"-"`
}

// DisabledOutput is an output left out at start, and why.
type DisabledOutput struct {
	Name     string // the block: elasticsearch, fluentd, file_output, ...
	Problems Errors
}

// AuditTrail is the node's tamper-evident hash chain over the alerts it ships (shippers/chain).
type AuditTrail struct {
	Enabled bool            `yaml:"enabled" desc:"Link every alert shipped through the spooled outputs into this node's hash chain: Elasticsearch documents carry it as lanner.chain.*, Fluentd records as lanner_chain; lanner audit verify checks it."`
	Dir     string          `yaml:"dir" desc:"Directory of the chain's state (created if missing; default: chain/ beside the first enabled output's spool_dir). Keep it with the spools: a new directory starts a new chain epoch."`
	Key     shippers.Secret `yaml:"key" desc:"HMAC-SHA256 key for the chain's hashes (use ${NAME} from a Secret): without it, anyone who can write to the index could rebuild a consistent chain after editing it."`
}

// Stdout is the terminal output.
type Stdout struct {
	Enabled bool                  `yaml:"enabled" desc:"Write every alert to standard output."`
	Filter  shippers.FilterConfig `yaml:"filter"`
}

// Log configures lanner's own log (standard error).
type Log struct {
	Level  string `yaml:"level" desc:"debug, info, warn or error."`
	Format string `yaml:"format" desc:"text (key=value) or json."`
}

// Capture configures the eBPF syscall source.
type Capture struct {
	Enabled          bool          `yaml:"enabled" desc:"Capture syscalls with eBPF (needs root or CAP_BPF+CAP_PERFMON, and kernel BTF). false runs the Kubernetes audit source alone."`
	RingBytesPerCPU  int           `yaml:"ring_bytes_per_cpu" desc:"Ring buffer bytes per possible CPU (rounded up to a power of two). More absorbs longer bursts before drops."`
	PollInterval     time.Duration `yaml:"poll_interval" desc:"The longest a record waits in the ring before lanner reads it."`
	ProcRoot         string        `yaml:"proc_root" desc:"Where the host's /proc is mounted (/host/proc in a container)."`
	HostRoot         string        `yaml:"host_root" desc:"The host's root, for /etc/passwd and /etc/group (user and group names)."`
	MaxThreads       int           `yaml:"max_threads" desc:"Bound of the thread table; the least recently active threads are evicted beyond it."`
	MaxFDsPerProcess int           `yaml:"max_fds_per_process" desc:"Bound of each process's fd table."`
}

// Drops configures the syscall_event_drops report.
type Drops struct {
	Threshold     float64       `yaml:"threshold" desc:"Share of records lost (0..1) since the last check above which a syscall_event_drops line is logged (Falco's default 0.1)."`
	Rate          float64       `yaml:"rate" desc:"Drop reports allowed per second (Falco's default 0.03333: one every 30 s)."`
	CheckInterval time.Duration `yaml:"check_interval" desc:"How often the kernel's counters are read and compared."`
}

// HTTP is the metrics and health server.
type HTTP struct {
	Enabled bool   `yaml:"enabled" desc:"Serve /metrics (Prometheus), /healthz and /readyz."`
	Listen  string `yaml:"listen" desc:"Address of the metrics and health server."`
	Pprof   bool   `yaml:"pprof" desc:"Also serve Go's /debug/pprof/ profiles on that address."`
}

// Elasticsearch is the Elasticsearch output: its delivery settings (package
// shippers/elasticsearch, inline) and its durable queue.
type Elasticsearch struct {
	Enabled              bool `yaml:"enabled" desc:"Ship every alert to Elasticsearch as an ECS document, through a durable spool."`
	elasticsearch.Config `yaml:",inline"`
	SpoolDir             string                `yaml:"spool_dir" desc:"Directory of the output's durable queue (created if missing); alerts wait here while Elasticsearch is slow or down, and across restarts."`
	SpoolMaxBytes        int64                 `yaml:"spool_max_bytes" desc:"Bound of the queue in bytes."`
	Overflow             string                `yaml:"overflow" desc:"What a full queue does: block (slow the collector, lose nothing) or drop_oldest (counted and logged)."`
	DeadLetterFile       string                `yaml:"dead_letter_file" desc:"Alerts Elasticsearch rejects for good, one JSON line each with the reason (default: deadletter.jsonl in spool_dir)."`
	Filter               shippers.FilterConfig `yaml:"filter"`
}

// Fluentd is the Fluentd (Forward protocol) output: its delivery settings (package
// shippers/fluentd, inline) and its durable queue.
type Fluentd struct {
	Enabled        bool `yaml:"enabled" desc:"Ship every alert to Fluentd over the Forward protocol, each acknowledged, through a durable spool."`
	fluentd.Config `yaml:",inline"`
	SpoolDir       string                `yaml:"spool_dir" desc:"Directory of the output's durable queue (created if missing); alerts wait here until Fluentd acknowledges them, and across restarts."`
	SpoolMaxBytes  int64                 `yaml:"spool_max_bytes" desc:"Bound of the queue in bytes."`
	Overflow       string                `yaml:"overflow" desc:"What a full queue does: block (slow the collector, lose nothing) or drop_oldest (counted and logged)."`
	DeadLetterFile string                `yaml:"dead_letter_file" desc:"Alerts that cannot be encoded for Fluentd, one JSON line each with the reason (default: deadletter.jsonl in spool_dir)."`
	Filter         shippers.FilterConfig `yaml:"filter"`
}

// Kubernetes configures the pod metadata cache that enriches alerts.
type Kubernetes struct {
	Enabled    bool   `yaml:"enabled" desc:"Enrich alerts and the k8s.* fields from a node-local cache of pods (client-go informers)."`
	Kubeconfig string `yaml:"kubeconfig" desc:"Kubeconfig file; empty uses the in-cluster service account."`
	NodeName   string `yaml:"node_name" desc:"This node's name: only its pods are watched. Empty reads $NODE_NAME (the downward API's spec.nodeName)."`
	AllNodes   bool   `yaml:"all_nodes" desc:"Watch every pod of the cluster instead (memory and API load grow with the cluster)."`
}

// Audit is the Kubernetes audit webhook source.
type Audit struct {
	Enabled              bool          `yaml:"enabled" desc:"Serve the API server's audit webhook and evaluate the k8s_audit rules on what it posts."`
	Listen               string        `yaml:"listen" desc:"Address of the webhook (Falco's k8saudit plugin uses :9765)."`
	Path                 string        `yaml:"path" desc:"URL path the API server posts to."`
	CertFile             string        `yaml:"cert_file" desc:"Server certificate (PEM); may hold the key too."`
	KeyFile              string        `yaml:"key_file" desc:"Server key (PEM); empty: in cert_file."`
	ClientCAFile         string        `yaml:"client_ca_file" desc:"CA bundle client certificates are verified against (with client_cert_auth)."`
	ClientCertAuth       bool          `yaml:"client_cert_auth" desc:"Accept API servers presenting a certificate signed by client_ca_file."`
	BearerTokenFile      string        `yaml:"bearer_token_file" desc:"File holding the bearer token the API server sends."`
	Plaintext            bool          `yaml:"plaintext" desc:"Serve HTTP instead of HTTPS (tests, or behind a TLS-terminating proxy)."`
	AllowUnauthenticated bool          `yaml:"allow_unauthenticated" desc:"Accept requests without a token or certificate; only where nothing but the API server can reach the port."`
	MaxBodyBytes         int64         `yaml:"max_body_bytes" desc:"Largest request body accepted (larger: 413)."`
	QueueBatches         int           `yaml:"queue_batches" desc:"Requests waiting for the rule engine; when full the webhook answers 503 with Retry-After (the API server retries)."`
	RetryAfter           time.Duration `yaml:"retry_after" desc:"The delay a saturated webhook asks the API server to wait."`
}

// Default returns the configuration of an empty file.
func Default() Config {
	return Config{
		RulesFiles:      []string{"rules/lanner_rules.yaml"},
		RuleMatching:    "first",
		Priority:        "debug",
		JSONOutput:      true,
		Stdout:          Stdout{Enabled: true},
		Log:             Log{Level: "info", Format: "text"},
		ShutdownTimeout: 10 * time.Second,
		Capture: Capture{
			Enabled:          true,
			RingBytesPerCPU:  8 << 20,
			PollInterval:     10 * time.Millisecond,
			ProcRoot:         "/proc",
			HostRoot:         "/",
			MaxThreads:       65536,
			MaxFDsPerProcess: 4096,
		},
		Drops: Drops{Threshold: 0.1, Rate: 0.03333, CheckInterval: time.Second},
		HTTP:  HTTP{Enabled: true, Listen: "127.0.0.1:8765"},
		Elasticsearch: Elasticsearch{
			Config:        elasticsearch.DefaultConfig(),
			SpoolDir:      "/var/lib/lanner/spool/elasticsearch",
			SpoolMaxBytes: 256 << 20,
			Overflow:      string(spool.Block),
		},
		Fluentd: Fluentd{
			Config:        fluentd.DefaultConfig(),
			SpoolDir:      "/var/lib/lanner/spool/fluentd",
			SpoolMaxBytes: 256 << 20,
			Overflow:      string(spool.Block),
		},
		FileOutput:    defaultFileOutput(),
		HTTPOutput:    defaultHTTPOutput(),
		SyslogOutput:  defaultSyslogOutput(),
		ProgramOutput: defaultProgramOutput(),
		NATSOutput:    defaultNATSOutput(),
		AuditTrail:    AuditTrail{Enabled: true},
		Audit: Audit{
			Listen:       ":9765",
			Path:         "/k8s-audit",
			MaxBodyBytes: 16 << 20,
			QueueBatches: 64,
			RetryAfter:   5 * time.Second,
		},
	}
}

// Problem is one invalid setting: Key is the dotted key (capture.poll_interval).
type Problem struct {
	Key, Msg string
}

// Validate reports every invalid setting of c. Load turns the problems into FILE:LINE errors.
func (c *Config) Validate() []Problem {
	var ps []Problem
	bad := func(key, format string, a ...any) { ps = append(ps, Problem{key, fmt.Sprintf(format, a...)}) }
	if len(c.RulesFiles) == 0 {
		bad("rules_files", "no rules files")
	}
	if _, err := engine.ParseRuleMatching(c.RuleMatching); err != nil {
		bad("rule_matching", "%v", err)
	}
	if _, err := alert.ParsePriority(c.Priority); err != nil {
		bad("priority", "%v", err)
	}
	if _, err := ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown_timeout", "must be positive, got %v", c.ShutdownTimeout)
	}
	if c.Capture.RingBytesPerCPU < 4096 {
		bad("capture.ring_bytes_per_cpu", "%d: want at least 4096", c.Capture.RingBytesPerCPU)
	}
	if c.Capture.PollInterval <= 0 {
		bad("capture.poll_interval", "must be positive, got %v", c.Capture.PollInterval)
	}
	if c.Capture.ProcRoot == "" {
		bad("capture.proc_root", "empty")
	}
	if c.Capture.MaxThreads <= 0 {
		bad("capture.max_threads", "must be positive")
	}
	if c.Capture.MaxFDsPerProcess <= 0 {
		bad("capture.max_fds_per_process", "must be positive")
	}
	if c.Drops.Threshold < 0 || c.Drops.Threshold > 1 {
		bad("syscall_event_drops.threshold", "%v: want 0 to 1", c.Drops.Threshold)
	}
	if c.Drops.Rate < 0 {
		bad("syscall_event_drops.rate", "negative")
	}
	if c.Drops.CheckInterval <= 0 {
		bad("syscall_event_drops.check_interval", "must be positive, got %v", c.Drops.CheckInterval)
	}
	if c.HTTP.Enabled && c.HTTP.Listen == "" {
		bad("http.listen", "empty while http.enabled")
	}
	if !c.Stdout.Enabled && !c.Elasticsearch.Enabled && !c.Fluentd.Enabled && !c.anyExtraOutput() {
		bad("stdout.enabled", "no output: enable stdout, elasticsearch or fluentd")
	}
	if !c.Capture.Enabled && !c.Audit.Enabled {
		bad("capture.enabled", "no event source: enable capture or audit")
	}
	if es := c.Elasticsearch; es.Enabled {
		if err := es.WithDefaults().Validate(); err != nil {
			for _, e := range splitJoined(err) {
				ps = append(ps, problemFromES(e))
			}
		}
		if es.SpoolDir == "" {
			bad("elasticsearch.spool_dir", "empty")
		}
		if es.SpoolMaxBytes <= 0 {
			bad("elasticsearch.spool_max_bytes", "must be positive")
		}
		if es.Overflow != string(spool.Block) && es.Overflow != string(spool.DropOldest) {
			bad("elasticsearch.overflow", "%q: want block or drop_oldest", es.Overflow)
		}
		if _, err := shippers.NewFilter(es.Filter); err != nil {
			bad("elasticsearch.filter", "%v", err)
		}
	}
	if fd := c.Fluentd; fd.Enabled {
		if err := fd.WithDefaults().Validate(); err != nil {
			for _, e := range splitJoined(err) {
				ps = append(ps, problemFromOutput("fluentd", e))
			}
		}
		if fd.SpoolDir == "" {
			bad("fluentd.spool_dir", "empty")
		}
		if fd.SpoolMaxBytes <= 0 {
			bad("fluentd.spool_max_bytes", "must be positive")
		}
		if fd.Overflow != string(spool.Block) && fd.Overflow != string(spool.DropOldest) {
			bad("fluentd.overflow", "%q: want block or drop_oldest", fd.Overflow)
		}
		if _, err := shippers.NewFilter(fd.Filter); err != nil {
			bad("fluentd.filter", "%v", err)
		}
	}
	ps = append(ps, c.validateExtraOutputs()...)
	if k := c.Kubernetes; k.Enabled && k.NodeName != "" && k.AllNodes {
		bad("kubernetes.all_nodes", "node_name and all_nodes are exclusive")
	}
	if a := c.Audit; a.Enabled {
		if a.Listen == "" {
			bad("audit.listen", "empty")
		}
		if !strings.HasPrefix(a.Path, "/") {
			bad("audit.path", "%q: want a path starting with /", a.Path)
		}
		if a.Plaintext && (a.CertFile != "" || a.KeyFile != "") {
			bad("audit.plaintext", "certificates given for a plaintext listener")
		}
		if !a.Plaintext && a.CertFile == "" {
			bad("audit.cert_file", "no server certificate: set cert_file, or plaintext: true explicitly")
		}
		if a.BearerTokenFile == "" && !a.ClientCertAuth && !a.AllowUnauthenticated {
			bad("audit.bearer_token_file", "no authentication: set bearer_token_file or client_cert_auth (or allow_unauthenticated explicitly)")
		}
		if a.ClientCertAuth && a.ClientCAFile == "" {
			bad("audit.client_ca_file", "client_cert_auth needs client_ca_file")
		}
		if a.MaxBodyBytes <= 0 {
			bad("audit.max_body_bytes", "must be positive")
		}
		if a.QueueBatches <= 0 {
			bad("audit.queue_batches", "must be positive")
		}
		if a.RetryAfter <= 0 {
			bad("audit.retry_after", "must be positive")
		}
	}
	return ps
}

// problemFromES maps an error of elasticsearch.Config.Validate (which starts with the key it is
// about, as "elasticsearch.mode: ..." or "mode: ...") to a Problem.
func problemFromES(err error) Problem {
	msg := err.Error()
	key := "elasticsearch"
	if k, rest, ok := strings.Cut(msg, ":"); ok && !strings.ContainsAny(k, " \"") {
		k = strings.TrimPrefix(k, "elasticsearch.")
		key, msg = "elasticsearch."+k, strings.TrimSpace(rest)
	}
	return Problem{key, msg}
}

// problemFromOutput maps an error of an output's Config.Validate that starts with the key it is
// about ("tag: ...") to a Problem under the output's block.
func problemFromOutput(block string, err error) Problem {
	msg := err.Error()
	key := block
	if k, rest, ok := strings.Cut(msg, ":"); ok && !strings.ContainsAny(k, " \"") {
		key, msg = block+"."+k, strings.TrimSpace(rest)
	}
	return Problem{key, msg}
}

// splitJoined returns the errors of an errors.Join, looking through one level of wrapping
// ("elasticsearch output: %w").
func splitJoined(err error) []error {
	if u := errors.Unwrap(err); u != nil {
		err = u
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []error{err}
}

// ParseLevel reads a log level name.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, errors.New("want debug, info, warn or error, got " + fmt.Sprintf("%q", s))
	}
	return l, nil
}
