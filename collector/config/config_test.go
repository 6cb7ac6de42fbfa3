package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lanner.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load parses body as a file and args as flags.
func load(t *testing.T, body string, args ...string) (*Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	ov := BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	path := ""
	if body != "" {
		path = writeFile(t, body)
	}
	return Load(path, ov)
}

// problems is what Load says about body: its error, or else the problems of the outputs it
// disabled ("" when there is none).
func problems(t *testing.T, body string, args ...string) string {
	t.Helper()
	cfg, err := load(t, body, args...)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, d := range cfg.DisabledOutputs {
		out = append(out, d.Problems.Error())
	}
	return strings.Join(out, "\n")
}

func TestDefaultsAreValid(t *testing.T) {
	d := Default()
	if ps := d.Validate(); len(ps) != 0 {
		t.Fatalf("defaults do not validate: %v", ps)
	}
	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*cfg, d) {
		t.Fatalf("no file and no flags should give the defaults:\n%+v\n%+v", *cfg, d)
	}
	// an empty file, and a file of comments, are the defaults too
	for _, body := range []string{"\n", "# nothing\n"} {
		cfg, err := load(t, body)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if !reflect.DeepEqual(*cfg, d) {
			t.Fatalf("%q: not the defaults", body)
		}
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	cfg, err := load(t, `
rules_files: [a.yaml, b.yaml]
json_output: false
capture:
  poll_interval: 50ms
elasticsearch:
  enabled: true
  addresses: ["https://es.example:9200"]
  username: elastic
  password: hunter2
  spool_dir: /tmp/x
  filter:
    minimum_priority: warning
`)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"rules_files", cfg.RulesFiles, []string{"a.yaml", "b.yaml"}},
		{"json_output", cfg.JSONOutput, false},
		{"capture.poll_interval", cfg.Capture.PollInterval, 50 * time.Millisecond},
		{"capture.ring_bytes_per_cpu kept", cfg.Capture.RingBytesPerCPU, 8 << 20},
		{"elasticsearch.addresses", cfg.Elasticsearch.Addresses, []string{"https://es.example:9200"}},
		{"elasticsearch.password", cfg.Elasticsearch.Password.Reveal(), "hunter2"},
		{"elasticsearch.data_stream kept", cfg.Elasticsearch.DataStream, "logs-lanner.alerts-default"},
		{"elasticsearch.filter.minimum_priority", cfg.Elasticsearch.Filter.MinimumPriority, "warning"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestFileErrorsNameFileAndLine(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string // substrings, after the file name
	}{
		{"unknown top-level key", "json_output: true\ncolour: red\n", []string{":2: unknown key \"colour\""}},
		{"unknown nested key", "capture:\n  enabled: true\n  ring_size: 4\n", []string{":3: unknown key \"ring_size\""}},
		{"unknown key in the inline elasticsearch block", "elasticsearch:\n  adresses: [x]\n", []string{":2: unknown key \"adresses\""}},
		{"wrong type", "capture:\n  max_threads: many\n", []string{":2: cannot unmarshal !!str `many` into int"}},
		{"bad duration", "\n\ncapture:\n  poll_interval: soon\n", []string{":4: "}},
		{"syntax error", "capture: [\n", []string{"lanner.yaml:"}},
		{"invalid value located", "log:\n  level: loud\n", []string{":2: log.level: want debug, info, warn or error"}},
		{"several problems", "priority: nope\nrule_matching: some\n", []string{
			":1: priority: ", ":2: rule_matching: "}},
		{"elasticsearch validation", "elasticsearch:\n  enabled: true\n  mode: stream\n", []string{":3: elasticsearch.mode: "}},
		{"audit needs auth", "audit:\n  enabled: true\n  plaintext: true\n", []string{"audit.bearer_token_file: no authentication"}},
		{"missing env", "elasticsearch:\n  password: ${LANNER_TEST_SURELY_UNSET}\n", []string{"${LANNER_TEST_SURELY_UNSET} is not set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := problems(t, c.body)
			if msg == "" {
				t.Fatal("no error")
			}
			if !strings.Contains(msg, "lanner.yaml") {
				t.Errorf("error does not name the file: %s", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	body := "rules_files: [a.yaml, b.yaml]\ncapture:\n  poll_interval: 50ms\n"
	cfg, err := load(t, body, "-r", "x.yaml", "--rules", "y.yaml", "--capture.poll-interval", "5ms",
		"--json-output=false", "--elasticsearch.compress=false", "--syscall-event-drops.threshold", "0.5",
		"--stdout.enabled")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"x.yaml", "y.yaml"}; !reflect.DeepEqual(cfg.RulesFiles, want) {
		t.Errorf("rules_files = %v, want %v (flags replace the file's list)", cfg.RulesFiles, want)
	}
	if cfg.Capture.PollInterval != 5*time.Millisecond {
		t.Errorf("poll_interval = %v", cfg.Capture.PollInterval)
	}
	if cfg.JSONOutput {
		t.Error("--json-output=false ignored")
	}
	if cfg.Elasticsearch.Compress == nil || *cfg.Elasticsearch.Compress {
		t.Error("--elasticsearch.compress=false ignored")
	}
	if cfg.Drops.Threshold != 0.5 {
		t.Errorf("threshold = %v", cfg.Drops.Threshold)
	}
	// a flag that makes the configuration invalid is named
	_, err = load(t, "", "--log.level", "loud")
	if err == nil || !strings.Contains(err.Error(), "(set by --log.level)") {
		t.Errorf("invalid flag value: %v", err)
	}
	// a flag that does not parse fails at parse time
	if _, err := load(t, "", "--capture.max-threads", "many"); err == nil {
		t.Error("--capture.max-threads many accepted")
	}
}

func TestEveryKeyHasAFlagAndADescription(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	BindFlags(fs)
	seen := map[string]bool{}
	for _, k := range Keys() {
		if k.Desc == "" {
			t.Errorf("%s has no description", k.Path)
		}
		if fs.Lookup(k.Flag) == nil {
			t.Errorf("%s has no flag --%s", k.Path, k.Flag)
		}
		if seen[k.Flag] {
			t.Errorf("flag --%s used twice", k.Flag)
		}
		seen[k.Flag] = true
	}
	if len(Keys()) < 60 {
		t.Errorf("only %d keys: the walk missed some", len(Keys()))
	}
}

// Every key Keys lists must be accepted in a file, and set what its flag sets.
func TestEveryKeyParsesFromFileAndFlag(t *testing.T) {
	for _, k := range Keys() {
		val, flagVal := "x", "x"
		switch k.Type {
		case "bool":
			val, flagVal = "true", "true"
		case "int":
			val, flagVal = "7", "7"
		case "float":
			val, flagVal = "0.25", "0.25"
		case "duration":
			val, flagVal = "3s", "3s"
		case "list":
			val = "[x]"
		}
		parts := strings.Split(k.Path, ".")
		var b strings.Builder
		for i, p := range parts {
			b.WriteString(strings.Repeat("  ", i) + p + ":")
			if i == len(parts)-1 {
				b.WriteString(" " + val)
			}
			b.WriteString("\n")
		}
		fromFile := Default()
		if _, err := Parse("f.yaml", []byte(b.String()), &fromFile, nil); err != nil {
			t.Errorf("%s: %v", k.Path, err)
			continue
		}
		fromFlag := Default()
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		ov := BindFlags(fs)
		if err := fs.Parse([]string{"--" + k.Flag + "=" + flagVal}); err != nil {
			t.Errorf("%s: %v", k.Flag, err)
			continue
		}
		if err := ov.Apply(&fromFlag); err != nil {
			t.Errorf("%s: %v", k.Flag, err)
			continue
		}
		if !reflect.DeepEqual(fromFile, fromFlag) {
			t.Errorf("%s: the file and the flag set different things", k.Path)
		}
		if reflect.DeepEqual(fromFile, Default()) && k.Default != strings.Trim(val, "[]") {
			t.Errorf("%s: setting it changed nothing", k.Path)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Setenv("LANNER_TEST_ES_KEY", "c2VjcmV0OmtleQ==")
	msg := problems(t, "elasticsearch:\n  enabled: true\n  password: hunter2\n  username: u\n  api_key: ${LANNER_TEST_ES_KEY}\n",
		"--elasticsearch.bearer-token", "tok3n")
	if msg == "" {
		t.Fatal("three kinds of authentication accepted")
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "tok3n") {
		t.Fatalf("error shows a secret: %v", msg)
	}
	cfg, err := load(t, "elasticsearch:\n  username: u\n  password: hunter2\n")
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "es", cfg.Elasticsearch, "password", cfg.Elasticsearch.Password)
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	BindFlags(fs)
	outputs := map[string]string{
		"%v":    fmt.Sprintf("%v", cfg),
		"%+v":   fmt.Sprintf("%+v", *cfg),
		"yaml":  string(y),
		"slog":  logged.String(),
		"usage": fs.FlagUsages(),
		"docs":  Markdown(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") {
			t.Errorf("%s shows the password: %s", name, out)
		}
	}
	if !strings.Contains(string(y), "<secret>") || !strings.Contains(logged.String(), "<secret>") {
		t.Errorf("the password should show as <secret>:\n%s\n%s", y, logged.String())
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Setenv("LANNER_TEST_NODE", "node-7")
	cfg, err := load(t, "kubernetes:\n  node_name: ${LANNER_TEST_NODE}\n  kubeconfig: $HOME/kc\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kubernetes.NodeName != "node-7" {
		t.Errorf("node_name = %q", cfg.Kubernetes.NodeName)
	}
	if cfg.Kubernetes.Kubeconfig != "$HOME/kc" {
		t.Errorf("only ${NAME} expands, got %q", cfg.Kubernetes.Kubeconfig)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "a.yaml", Line: 3, Key: "log.level", Msg: "bad"}, "a.yaml:3: log.level: bad"},
		{&Error{File: "a.yaml", Msg: "missing"}, "a.yaml: missing"},
		{&Error{Key: "k", Msg: "m"}, "k: m"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%q, want %q", got, c.want)
		}
	}
	var es Errors
	if !errors.As(Errors{cases[0].err}, &es) || len(es) != 1 {
		t.Error("Errors is not an error list")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("capture:\n  enabled: true\n"))
	f.Add([]byte("elasticsearch:\n  addresses: [x]\n  tls: {ca_file: y}\n"))
	f.Add([]byte("rules_files: ${X}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Default()
		_, _ = Parse("f.yaml", data, &cfg, func(string) (string, bool) { return "v", true })
		_ = cfg.Validate()
	})
}

// The configuration `make run` uses must load as it is.
func TestLocalConfigLoads(t *testing.T) {
	cfg, err := Load("../../deploy/local/lanner.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Capture.Enabled || !cfg.Stdout.Enabled || !cfg.JSONOutput || cfg.Elasticsearch.Enabled {
		t.Errorf("deploy/local/lanner.yaml: want capture and JSON on stdout, Elasticsearch off until make run turns it on: %+v", cfg)
	}
}
