package respond

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/lannersec/lanner/collector/config"
	"github.com/lannersec/lanner/collector/respond/playbook"
	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/nats"
)

// Config is the responder's configuration file (`lanner respond --config FILE`).
type Config struct {
	// DryRun makes every playbook record what it would do without doing it.
	DryRun bool `yaml:"dry_run"`
	// ProtectedNamespaces are never acted on: an action on a pod there is refused (and recorded).
	ProtectedNamespaces []string   `yaml:"protected_namespaces"`
	Log                 config.Log `yaml:"log"`
	NATS                NATS       `yaml:"nats"`
	HTTP                HTTP       `yaml:"http"`
	Kubernetes          Kubernetes `yaml:"kubernetes"`
	Isolation           Isolation  `yaml:"isolation"`
	// NotifyWebhooks are the incoming-webhook URLs notify actions post to, by name.
	NotifyWebhooks map[string]Webhook `yaml:"notify_webhooks"`
	// RateLimit is the token bucket of each action of each playbook, unless the playbook sets
	// its own.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Outputs receive the action records.
	Outputs Outputs `yaml:"outputs"`
	// AuditTrail links every record shipped through the spooled outputs into a tamper-evident
	// hash chain, as `lanner run` does for alerts (docs/configuration.md, audit_trail).
	AuditTrail config.AuditTrail `yaml:"audit_trail"`
	// PlaybooksNode is the raw `playbooks:` value; Parse reads it into Playbooks.
	PlaybooksNode yaml.Node            `yaml:"playbooks"`
	Playbooks     []*playbook.Playbook `yaml:"-"`
}

// NATS is the alert subscription. It is off while URL is empty.
type NATS struct {
	URL string `yaml:"url"`
	// Subjects are subscribed to (wildcards allowed): lanner's and falcosidekick's NATS outputs
	// publish on falco.<priority>.<rule>.
	Subjects []string `yaml:"subjects"`
	// Queue is the queue group: the responder's replicas share the alerts, each handled once.
	Queue     string `yaml:"queue"`
	nats.Auth `yaml:",inline"`
	Timeout   time.Duration `yaml:"timeout"`
}

// HTTP is the responder's listener: /metrics, /healthz, /readyz and, when AlertPath is set, the
// endpoint taking POSTed Falco JSON alerts.
type HTTP struct {
	Enabled   bool   `yaml:"enabled"`
	Listen    string `yaml:"listen"`
	AlertPath string `yaml:"alert_path"`
	// BearerTokenFile holds the token an alert POST must carry (Authorization: Bearer ...),
	// read at start. Without it, AllowUnauthenticated must say so: whoever can post alerts can
	// make the responder act.
	BearerTokenFile      string `yaml:"bearer_token_file"`
	AllowUnauthenticated bool   `yaml:"allow_unauthenticated"`
	MaxBodyBytes         int64  `yaml:"max_body_bytes"`
	CertFile             string `yaml:"cert_file"`
	KeyFile              string `yaml:"key_file"`
}

// Kubernetes says how to reach the API server.
type Kubernetes struct {
	// Kubeconfig empty means the in-cluster service account.
	Kubeconfig string `yaml:"kubeconfig"`
}

// Isolation is how isolate_pod quarantines a pod: it sets LabelKey=LabelValue on the pod, and
// keeps a NetworkPolicy named PolicyName in the pod's namespace that selects that label and
// allows nothing.
type Isolation struct {
	LabelKey   string `yaml:"label_key"`
	LabelValue string `yaml:"label_value"`
	PolicyName string `yaml:"policy_name"`
}

// Webhook is an incoming-webhook endpoint taking Slack-compatible JSON ({"text": ...}): Slack,
// Mattermost, Rocket.Chat, Discord's /slack endpoint, Teams workflows...
type Webhook struct {
	// URL carries the webhook's credential (Slack's is the URL itself): it never appears in logs.
	URL     shippers.Secret `yaml:"url"`
	Timeout time.Duration   `yaml:"timeout"`
}

// RateLimit is a token bucket: Burst actions at once, then one more every Every (0: never).
type RateLimit struct {
	Burst int           `yaml:"burst"`
	Every time.Duration `yaml:"every"`
}

// Outputs are where action records go, configured as the same blocks as `lanner run`'s
// outputs (docs/configuration.md), each with its own durable spool.
type Outputs struct {
	Stdout        config.Stdout        `yaml:"stdout"`
	Elasticsearch config.Elasticsearch `yaml:"elasticsearch"`
	Fluentd       config.Fluentd       `yaml:"fluentd"`
	FileOutput    config.FileOutput    `yaml:"file_output"`
	HTTPOutput    config.HTTPOutput    `yaml:"http_output"`
	SyslogOutput  config.SyslogOutput  `yaml:"syslog_output"`
	ProgramOutput config.ProgramOutput `yaml:"program_output"`
	NATSOutput    config.NATSOutput    `yaml:"nats_output"`
}

// DefaultSpoolRoot is where the responder's outputs keep their spools by default (apart from the
// node collector's, should both run on one host).
const DefaultSpoolRoot = "/var/lib/lanner/respond/spool"

// Default returns the configuration of an empty file.
func Default() Config {
	run := config.Default()
	o := Outputs{Stdout: config.Stdout{Enabled: true}, Elasticsearch: run.Elasticsearch, Fluentd: run.Fluentd, FileOutput: run.FileOutput,
		HTTPOutput: run.HTTPOutput, SyslogOutput: run.SyslogOutput, ProgramOutput: run.ProgramOutput, NATSOutput: run.NATSOutput}
	o.Elasticsearch.SpoolDir = filepath.Join(DefaultSpoolRoot, "elasticsearch")
	o.Fluentd.SpoolDir = filepath.Join(DefaultSpoolRoot, "fluentd")
	o.FileOutput.SpoolDir = filepath.Join(DefaultSpoolRoot, "file")
	o.HTTPOutput.SpoolDir = filepath.Join(DefaultSpoolRoot, "http")
	o.SyslogOutput.SpoolDir = filepath.Join(DefaultSpoolRoot, "syslog")
	o.ProgramOutput.SpoolDir = filepath.Join(DefaultSpoolRoot, "program")
	o.NATSOutput.SpoolDir = filepath.Join(DefaultSpoolRoot, "nats")
	return Config{
		ProtectedNamespaces: []string{"kube-system"},
		Log:                 config.Log{Level: "info", Format: "text"},
		NATS:                NATS{Subjects: []string{"falco.>"}, Queue: "lanner-respond", Timeout: 5 * time.Second},
		HTTP:                HTTP{Enabled: true, Listen: ":8766", MaxBodyBytes: 1 << 20},
		Isolation:           Isolation{LabelKey: "lanner.dev/quarantine", LabelValue: "true", PolicyName: "lanner-quarantine"},
		RateLimit:           RateLimit{Burst: 5, Every: time.Minute},
		Outputs:             o,
		AuditTrail:          run.AuditTrail,
	}
}

// RunConfig returns a `lanner run` configuration whose outputs and audit trail are the
// responder's, so that the code that builds run's outputs builds the responder's; everything
// else in it is run's default.
func (c *Config) RunConfig() config.Config {
	rc := config.Default()
	o := c.Outputs
	rc.Stdout, rc.JSONOutput, rc.AuditTrail = o.Stdout, true, c.AuditTrail
	rc.Elasticsearch, rc.Fluentd = o.Elasticsearch, o.Fluentd
	rc.FileOutput, rc.HTTPOutput, rc.SyslogOutput, rc.ProgramOutput, rc.NATSOutput =
		o.FileOutput, o.HTTPOutput, o.SyslogOutput, o.ProgramOutput, o.NATSOutput
	return rc
}

// outputBlocks are the keys of Outputs that are run's spooled output blocks.
func outputBlocks() []string {
	var names []string
	for _, b := range (&config.Config{}).SpooledOutputs() {
		names = append(names, b.Name)
	}
	return names
}

// Load reads and validates the configuration file path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, playbook.Errors{{File: path, Msg: err.Error()}}
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes data (the contents of file name) over Default, strictly, reads its playbooks
// and validates the whole. Every problem is reported as a playbook.Errors, each naming
// FILE:LINE. getenv resolves ${NAME} references (nil: the process environment).
func Parse(name string, data []byte, getenv func(string) (string, bool)) (*Config, error) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	data, err := config.ExpandEnv(data, getenv)
	if err != nil {
		return nil, playbook.Errors{{File: name, Msg: err.Error()}}
	}
	cfg := Default()
	var lines config.KeyLines
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(name, err)
	}
	if len(root.Content) > 0 {
		lines = config.CollectKeyLines(root.Content[0])
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return nil, yamlError(name, err)
		}
	}
	var errs playbook.Errors
	if cfg.PlaybooksNode.Kind != 0 {
		pbs, err := playbook.Parse(name, &cfg.PlaybooksNode)
		var perrs playbook.Errors
		if errors.As(err, &perrs) {
			errs = append(errs, perrs...)
		}
		cfg.Playbooks = pbs
	}
	if len(errs) == 0 && len(cfg.Playbooks) == 0 {
		errs = append(errs, &playbook.Error{File: name, Line: lines.Line("playbooks"), Msg: "playbooks: no playbooks: the responder would never act"})
	}
	for _, p := range cfg.validate() {
		line := p.line
		if line == 0 {
			line = lines.Line(p.key)
		}
		errs = append(errs, &playbook.Error{File: name, Line: line, Msg: p.key + ": " + p.msg})
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *playbook.Error) int { return a.Line - b.Line })
		return nil, errs
	}
	return &cfg, nil
}

// yamlError turns yaml.v3's errors into FILE:LINE errors naming an unknown key as written.
func yamlError(file string, err error) error {
	var out playbook.Errors
	for _, p := range config.YAMLProblems(err) {
		out = append(out, &playbook.Error{File: file, Line: p.Line, Msg: p.Msg})
	}
	return out
}

type problem struct {
	key, msg string
	line     int // when known better than the key's line (a playbook's action)
}

// validate reports every invalid setting.
func (c *Config) validate() []problem {
	var ps []problem
	bad := func(key, format string, a ...any) { ps = append(ps, problem{key: key, msg: fmt.Sprintf(format, a...)}) }
	if _, err := config.ParseLevel(c.Log.Level); err != nil {
		bad("log.level", "%v", err)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q: want text or json", c.Log.Format)
	}
	for _, ns := range c.ProtectedNamespaces {
		if errs := content.IsDNS1123Label(ns); len(errs) > 0 {
			bad("protected_namespaces", "%q is not a namespace name", ns)
		}
	}
	if c.NATS.URL == "" && c.HTTP.AlertPath == "" {
		bad("nats.url", "no alert source: set nats.url, or http.alert_path to take alerts over HTTP")
	}
	if n := c.NATS; n.URL != "" {
		for _, s := range strings.Split(n.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls") {
				bad("nats.url", "%q is not a nats:// or tls:// URL", s)
			}
		}
		if len(n.Subjects) == 0 {
			bad("nats.subjects", "no subject")
		}
		for _, s := range n.Subjects {
			if !validSubject(s) {
				bad("nats.subjects", "%q is not a NATS subject", s)
			}
		}
		if strings.ContainsAny(n.Queue, " \t\r\n") {
			bad("nats.queue", "%q: a queue group name has no white space", n.Queue)
		}
		auth := 0
		for _, set := range []bool{n.CredsFile != "", n.Token != "", n.User != "" || n.Password != ""} {
			if set {
				auth++
			}
		}
		if auth > 1 {
			bad("nats", "set only one of creds_file, token, user/password")
		}
		if (n.ClientCert == "") != (n.ClientKey == "") {
			bad("nats.client_cert", "set both client_cert and client_key, or neither")
		}
		if n.Timeout <= 0 {
			bad("nats.timeout", "must be positive")
		}
	}
	if h := c.HTTP; h.Enabled || h.AlertPath != "" {
		if !h.Enabled {
			bad("http.alert_path", "set while http.enabled is false")
		}
		if h.Listen == "" {
			bad("http.listen", "empty")
		}
		if (h.CertFile == "") != (h.KeyFile == "") {
			bad("http.cert_file", "set both cert_file and key_file, or neither")
		}
		if h.AlertPath != "" {
			switch {
			case !strings.HasPrefix(h.AlertPath, "/"):
				bad("http.alert_path", "%q: want a path starting with /", h.AlertPath)
			case slices.Contains([]string{"/metrics", "/healthz", "/readyz"}, h.AlertPath):
				bad("http.alert_path", "%q is taken by the metrics and health endpoints", h.AlertPath)
			}
			if h.BearerTokenFile == "" && !h.AllowUnauthenticated {
				bad("http.bearer_token_file", "no authentication for alerts posted to %s: set bearer_token_file (or allow_unauthenticated: true explicitly; whoever can post alerts can make the responder act)", h.AlertPath)
			}
			if h.MaxBodyBytes <= 0 {
				bad("http.max_body_bytes", "must be positive")
			}
		}
	}
	if errs := content.IsLabelKey(c.Isolation.LabelKey); len(errs) > 0 {
		bad("isolation.label_key", "%q: %s", c.Isolation.LabelKey, strings.Join(errs, "; "))
	}
	if errs := content.IsLabelValue(c.Isolation.LabelValue); len(errs) > 0 || c.Isolation.LabelValue == "" {
		bad("isolation.label_value", "%q: want a non-empty label value", c.Isolation.LabelValue)
	}
	if errs := content.IsDNS1123Subdomain(c.Isolation.PolicyName); len(errs) > 0 {
		bad("isolation.policy_name", "%q: %s", c.Isolation.PolicyName, strings.Join(errs, "; "))
	}
	for name, w := range c.NotifyWebhooks {
		u, err := url.Parse(w.URL.Reveal())
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			// The URL is a credential: the message does not repeat it.
			bad("notify_webhooks."+name+".url", "not an http:// or https:// URL")
		}
		if w.Timeout < 0 {
			bad("notify_webhooks."+name+".timeout", "must not be negative")
		}
	}
	if c.RateLimit.Burst < 1 {
		bad("rate_limit.burst", "want at least 1")
	}
	if c.RateLimit.Every < 0 {
		bad("rate_limit.every", "must not be negative")
	}
	ps = append(ps, c.validateOutputs()...)
	for _, pb := range c.Playbooks {
		for _, a := range pb.Actions {
			if a.Kind == playbook.Notify {
				if _, ok := c.NotifyWebhooks[a.Webhook]; !ok {
					ps = append(ps, problem{key: fmt.Sprintf("playbook %q: notify", pb.Name), line: a.Line,
						msg: fmt.Sprintf("webhook %q is not defined under notify_webhooks", a.Webhook)})
				}
			}
		}
	}
	return ps
}

// validateOutputs checks the output blocks with run's own validation, keeping only what it says
// of them.
func (c *Config) validateOutputs() []problem {
	rc := c.RunConfig()
	var ps []problem
	for _, p := range rc.Validate() {
		switch {
		case p.Key == "audit_trail" || strings.HasPrefix(p.Key, "audit_trail."):
			ps = append(ps, p2(p.Key, p.Msg))
		case strings.HasPrefix(p.Key, "stdout."):
			if !strings.HasPrefix(p.Msg, "no output") {
				ps = append(ps, p2("outputs."+p.Key, p.Msg))
			} else {
				ps = append(ps, problem{key: "outputs", msg: "no output for the action records: enable stdout or one of " + strings.Join(outputBlocks(), ", ")})
			}
		case slices.ContainsFunc(outputBlocks(), func(b string) bool { return p.Key == b || strings.HasPrefix(p.Key, b+".") }):
			ps = append(ps, problem{key: "outputs." + p.Key, msg: p.Msg})
		}
	}
	return ps
}

func p2(key, msg string) problem { return problem{key: key, msg: msg} }

// validSubject reports whether s is a subject a subscriber may use: dot-separated tokens, none
// empty, "*" or ">" only as whole tokens and ">" only last.
func validSubject(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		if t == "" || (t != "*" && t != ">" && strings.ContainsAny(t, "*>")) || (t == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}
