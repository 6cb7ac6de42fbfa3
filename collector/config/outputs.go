package config

import (
	"path/filepath"
	"strings"

	"github.com/lannersec/lanner/shippers"
	"github.com/lannersec/lanner/shippers/file"
	shttp "github.com/lannersec/lanner/shippers/http"
	"github.com/lannersec/lanner/shippers/nats"
	"github.com/lannersec/lanner/shippers/program"
	"github.com/lannersec/lanner/shippers/spool"
	"github.com/lannersec/lanner/shippers/syslog"
)

// Queue is the durable queue and filter of the outputs beside Elasticsearch and Fluentd (file,
// http, syslog, program, nats): each gets its own spool, so a slow destination holds back no
// other.
type Queue struct {
	SpoolDir       string                `yaml:"spool_dir" desc:"Directory of the output's durable queue (created if missing); alerts wait here while the destination is slow or down, and across restarts."`
	SpoolMaxBytes  int64                 `yaml:"spool_max_bytes" desc:"Bound of the queue in bytes."`
	Overflow       string                `yaml:"overflow" desc:"What a full queue does: block (slow the collector, lose nothing) or drop_oldest (counted and logged)."`
	DeadLetterFile string                `yaml:"dead_letter_file" desc:"Alerts the destination rejects for good, one JSON line each with the reason (default: deadletter.jsonl in spool_dir)."`
	Filter         shippers.FilterConfig `yaml:"filter"`
}

func defaultQueue(name string) Queue {
	return Queue{SpoolDir: filepath.Join("/var/lib/lanner/spool", name), SpoolMaxBytes: 64 << 20, Overflow: string(spool.Block)}
}

func defaultFileOutput() FileOutput {
	return FileOutput{Config: file.DefaultConfig(), Queue: defaultQueue("file")}
}

func defaultHTTPOutput() HTTPOutput {
	return HTTPOutput{Config: shttp.DefaultConfig(), Queue: defaultQueue("http")}
}

func defaultSyslogOutput() SyslogOutput {
	return SyslogOutput{Config: syslog.DefaultConfig(), Queue: defaultQueue("syslog")}
}

func defaultProgramOutput() ProgramOutput {
	return ProgramOutput{Config: program.DefaultConfig(), Queue: defaultQueue("program")}
}

func defaultNATSOutput() NATSOutput {
	return NATSOutput{Config: nats.DefaultConfig(), Queue: defaultQueue("nats")}
}

// FileOutput is Falco's file_output: alerts appended to a file as JSON lines.
type FileOutput struct {
	Enabled     bool `yaml:"enabled" desc:"Append every alert to a file as a Falco JSON line (reopened on SIGHUP), through a durable spool."`
	file.Config `yaml:",inline"`
	Queue       `yaml:",inline"`
}

// HTTPOutput is Falco's http_output: alerts POSTed as Falco JSON.
type HTTPOutput struct {
	Enabled      bool `yaml:"enabled" desc:"POST every alert as Falco's JSON alert to a URL (falcosidekick's input), through a durable spool."`
	shttp.Config `yaml:",inline"`
	Queue        `yaml:",inline"`
}

// SyslogOutput is Falco's syslog_output, reaching remote receivers too.
type SyslogOutput struct {
	Enabled       bool `yaml:"enabled" desc:"Send every alert as an RFC 5424 syslog message, through a durable spool."`
	syslog.Config `yaml:",inline"`
	Queue         `yaml:",inline"`
}

// ProgramOutput is Falco's program_output: alerts piped to a command.
type ProgramOutput struct {
	Enabled        bool `yaml:"enabled" desc:"Pipe every alert as a Falco JSON line to a command's standard input, through a durable spool."`
	program.Config `yaml:",inline"`
	Queue          `yaml:",inline"`
}

// NATSOutput publishes alerts on falcosidekick's NATS subjects.
type NATSOutput struct {
	Enabled     bool `yaml:"enabled" desc:"Publish every alert on a NATS subject (falco.<priority>.<rule>), through a durable spool."`
	nats.Config `yaml:",inline"`
	Queue       `yaml:",inline"`
}

// filterDescs document the filter keys every output shares, by their last two components.
var filterDescs = map[string]string{
	"filter.minimum_priority": "Ship only alerts at least this severe.",
	"filter.rules":            "Ship only alerts of these rules (empty: all).",
	"filter.exclude_rules":    "Never ship alerts of these rules.",
	"filter.tags":             "Ship only alerts whose rule has one of these tags (empty: all).",
	"filter.exclude_tags":     "Never ship alerts whose rule has one of these tags.",
}

// sharedDesc returns the description of a key every output has (its filter), or "".
func sharedDesc(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) < 2 {
		return ""
	}
	return filterDescs[strings.Join(parts[len(parts)-2:], ".")]
}

// anyExtraOutput reports whether one of the outputs of this file is enabled.
func (c *Config) anyExtraOutput() bool {
	return c.FileOutput.Enabled || c.HTTPOutput.Enabled || c.SyslogOutput.Enabled || c.ProgramOutput.Enabled || c.NATSOutput.Enabled
}

// validateExtraOutputs reports the problems of the enabled outputs of this file.
func (c *Config) validateExtraOutputs() []Problem {
	var ps []Problem
	check := func(block string, enabled bool, validate func() error, q Queue) {
		if !enabled {
			return
		}
		if err := validate(); err != nil {
			for _, e := range splitJoined(err) {
				ps = append(ps, problemFromOutput(block, e))
			}
		}
		if q.SpoolDir == "" {
			ps = append(ps, Problem{block + ".spool_dir", "empty"})
		}
		if q.SpoolMaxBytes <= 0 {
			ps = append(ps, Problem{block + ".spool_max_bytes", "must be positive"})
		}
		if q.Overflow != string(spool.Block) && q.Overflow != string(spool.DropOldest) {
			ps = append(ps, Problem{block + ".overflow", "\"" + q.Overflow + "\": want block or drop_oldest"})
		}
		if _, err := shippers.NewFilter(q.Filter); err != nil {
			ps = append(ps, Problem{block + ".filter", err.Error()})
		}
	}
	check("file_output", c.FileOutput.Enabled, func() error { return c.FileOutput.Config.WithDefaults().Validate() }, c.FileOutput.Queue)
	check("http_output", c.HTTPOutput.Enabled, func() error { return c.HTTPOutput.Config.WithDefaults().Validate() }, c.HTTPOutput.Queue)
	check("syslog_output", c.SyslogOutput.Enabled, func() error { return c.SyslogOutput.Config.WithDefaults().Validate() }, c.SyslogOutput.Queue)
	check("program_output", c.ProgramOutput.Enabled, func() error { return c.ProgramOutput.Config.WithDefaults().Validate() }, c.ProgramOutput.Queue)
	check("nats_output", c.NATSOutput.Enabled, func() error { return c.NATSOutput.Config.WithDefaults().Validate() }, c.NATSOutput.Queue)
	return ps
}

// OutputBlock is one output that runs behind a spool, as the configuration names it.
type OutputBlock struct {
	Name     string // its block: elasticsearch, fluentd, file_output, ...
	Enabled  *bool  // its enabled key, settable
	SpoolDir string
}

// SpooledOutputs lists the outputs that run behind a spool (every output but stdout), in the
// order lanner builds them: Elasticsearch, Fluentd, file, http, syslog, program, nats.
func (c *Config) SpooledOutputs() []OutputBlock {
	return []OutputBlock{
		{"elasticsearch", &c.Elasticsearch.Enabled, c.Elasticsearch.SpoolDir},
		{"fluentd", &c.Fluentd.Enabled, c.Fluentd.SpoolDir},
		{"file_output", &c.FileOutput.Enabled, c.FileOutput.SpoolDir},
		{"http_output", &c.HTTPOutput.Enabled, c.HTTPOutput.SpoolDir},
		{"syslog_output", &c.SyslogOutput.Enabled, c.SyslogOutput.SpoolDir},
		{"program_output", &c.ProgramOutput.Enabled, c.ProgramOutput.SpoolDir},
		{"nats_output", &c.NATSOutput.Enabled, c.NATSOutput.SpoolDir},
	}
}

// TrailDir is where the audit trail keeps its state: audit_trail.dir, or chain/ beside the spool
// directory of the first enabled spooled output, so that the chain's state lives and is backed
// up with the spools. It is "" when no spooled output is enabled.
func (c *Config) TrailDir() string {
	if c.AuditTrail.Dir != "" {
		return c.AuditTrail.Dir
	}
	for _, o := range c.SpooledOutputs() {
		if *o.Enabled && o.SpoolDir != "" {
			return filepath.Join(filepath.Dir(filepath.Clean(o.SpoolDir)), "chain")
		}
	}
	return ""
}
