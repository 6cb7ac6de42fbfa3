package config

import (
	"strings"
	"testing"
)

func TestExtraOutputs(t *testing.T) {
	dir := t.TempDir()
	cfg, err := load(t, "file_output:\n  enabled: true\n  filename: "+dir+"/alerts.jsonl\n  keep_alive: false\n"+
		"http_output:\n  enabled: true\n  url: https://sidekick:2801/\n  headers: [\"X-Tenant: blue\"]\n"+
		"syslog_output:\n  enabled: true\n  network: tcp\n  address: loghost:6514\n"+
		"program_output:\n  enabled: true\n  program: cat\n  filter:\n    minimum_priority: warning\n"+
		"nats_output:\n  enabled: true\n  url: nats://nats:4222\n  token: s3cret\n",
		"--http-output.insecure", "--nats-output.subject-template", "alerts.<priority>.<rule>")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"file_output.keep_alive", *cfg.FileOutput.KeepAlive, false},
		{"file_output.fsync default", cfg.FileOutput.Fsync, "batch"},
		{"file_output.spool_dir default", cfg.FileOutput.SpoolDir, "/var/lib/lanner/spool/file"},
		{"http_output.headers", strings.Join(cfg.HTTPOutput.Headers, "|"), "X-Tenant: blue"},
		{"http_output.insecure (flag)", cfg.HTTPOutput.Insecure, true},
		{"syslog_output.address", cfg.SyslogOutput.Address, "loghost:6514"},
		{"program_output.filter.minimum_priority", cfg.ProgramOutput.Filter.MinimumPriority, "warning"},
		{"nats_output.token", cfg.NATSOutput.Token.Reveal(), "s3cret"},
		{"nats_output.subject_template (flag)", cfg.NATSOutput.SubjectTemplate, "alerts.<priority>.<rule>"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}
}

func TestExtraOutputsInvalid(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"bad url", "http_output:\n  enabled: true\n  url: ftp://x\n", "http_output.url: "},
		{"unknown syslog network", "syslog_output:\n  enabled: true\n  network: sctp\n", "syslog_output.network: "},
		{"missing program", "program_output:\n  enabled: true\n  program: surely-not-a-program-lanner\n", "program_output.program: "},
		{"no filename", "file_output:\n  enabled: true\n", "file_output.filename: "},
		{"bad overflow", "nats_output:\n  enabled: true\n  overflow: maybe\n", "nats_output.overflow: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Beside stdout the bad output is left out, with its problem at FILE:LINE.
			cfg, err := load(t, tc.body)
			if err != nil {
				t.Fatalf("Load = %v, want the output disabled and the rest running", err)
			}
			if len(cfg.DisabledOutputs) != 1 || !strings.Contains(cfg.DisabledOutputs[0].Problems.Error(), "lanner.yaml:") ||
				!strings.Contains(cfg.DisabledOutputs[0].Problems.Error(), tc.want) {
				t.Fatalf("disabled outputs %+v, want one mentioning %q", cfg.DisabledOutputs, tc.want)
			}
			if cfg.anyExtraOutput() {
				t.Fatal("the bad output is still enabled")
			}
			// With no other output left it is an error, naming the output's problem.
			_, err = load(t, "stdout:\n  enabled: false\n"+tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "no output") {
				t.Fatalf("Load with nothing else = %v, want the output's problem and no output left", err)
			}
		})
	}
	// An unknown block named like an output is left out too; other unknown keys stay errors.
	cfg, err := load(t, "kafka_output:\n  enabled: true\nfile_output:\n  enabled: true\n  filename: /tmp/x\n")
	if err != nil || len(cfg.DisabledOutputs) != 1 || cfg.DisabledOutputs[0].Name != "kafka_output" ||
		!strings.Contains(cfg.DisabledOutputs[0].Problems.Error(), "lanner.yaml:1: kafka_output: unknown output") || !cfg.FileOutput.Enabled {
		t.Fatalf("unknown output: %v %+v", err, cfg)
	}
	if _, err := load(t, "kafka_output:\n  enabled: true\ncolour: red\n"); err == nil || !strings.Contains(err.Error(), `unknown key "colour"`) {
		t.Fatalf("unknown key beside an unknown output: %v", err)
	}
	// Disabled outputs are not validated: their defaults need no destination.
	if _, err := load(t, "http_output:\n  url: ftp://x\n"); err != nil {
		t.Fatalf("disabled output validated: %v", err)
	}
}
