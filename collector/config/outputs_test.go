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
			_, err := load(t, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	// Disabled outputs are not validated: their defaults need no destination.
	if _, err := load(t, "http_output:\n  url: ftp://x\n"); err != nil {
		t.Fatalf("disabled output validated: %v", err)
	}
}
