package respond

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/respond/playbook"
)

const minimal = "nats: {url: nats://127.0.0.1:4222}\nplaybooks:\n  - name: p\n    match: {priority: critical}\n    actions: [isolate_pod]\n"

func TestConfigDefaults(t *testing.T) {
	cfg, err := Parse("r.yaml", []byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DryRun || len(cfg.ProtectedNamespaces) != 1 || cfg.ProtectedNamespaces[0] != "kube-system" {
		t.Errorf("safety defaults: %+v", cfg)
	}
	if cfg.NATS.Subjects[0] != "falco.>" || cfg.NATS.Queue != "lanner-respond" || cfg.HTTP.Listen != ":8766" || cfg.HTTP.AlertPath != "" {
		t.Errorf("source defaults: %+v %+v", cfg.NATS, cfg.HTTP)
	}
	if cfg.RateLimit.Burst != 5 || cfg.RateLimit.Every != time.Minute || cfg.Isolation.PolicyName != "lanner-quarantine" {
		t.Errorf("defaults: %+v %+v", cfg.RateLimit, cfg.Isolation)
	}
	if !cfg.Outputs.Stdout.Enabled || cfg.Outputs.FileOutput.SpoolDir != "/var/lib/lanner/respond/spool/file" {
		t.Errorf("outputs: %+v", cfg.Outputs)
	}
	if len(cfg.Playbooks) != 1 || cfg.Playbooks[0].Name != "p" {
		t.Errorf("playbooks: %+v", cfg.Playbooks)
	}
	rc := cfg.RunConfig()
	if !rc.Stdout.Enabled || !rc.JSONOutput || rc.FileOutput.Enabled {
		t.Errorf("run config: %+v", rc.Stdout)
	}
}

func TestConfigFull(t *testing.T) {
	src := `dry_run: true
protected_namespaces: [kube-system, lanner]
log: {level: debug, format: json}
nats:
  url: nats://nats:4222
  subjects: ["falco.critical.>", "falco.*.lanner_interactive_shell_in_container"]
  queue: responders
  token: ${NATS_TOKEN}
http:
  listen: 127.0.0.1:0
  alert_path: /alerts
  bearer_token_file: /var/run/secrets/token
kubernetes: {kubeconfig: /etc/kube.conf}
isolation: {label_key: quarantine, label_value: "yes", policy_name: deny-quarantined}
notify_webhooks:
  security: {url: "${SLACK_URL}", timeout: 3s}
rate_limit: {burst: 2, every: 30s}
outputs:
  stdout: {enabled: false}
  file_output: {enabled: true, filename: ${DIR}/responses.jsonl, spool_dir: ${DIR}/spool}
playbooks:
  - name: p
    match: {priority: critical}
    actions: [isolate_pod, {notify: {webhook: security}}]
`
	env := map[string]string{"DIR": t.TempDir(), "NATS_TOKEN": "tok", "SLACK_URL": "https://hooks.slack.com/services/T/B/X"}
	cfg, err := Parse("r.yaml", []byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.DryRun || cfg.NATS.Token.Reveal() != "tok" || cfg.NotifyWebhooks["security"].URL.Reveal() != env["SLACK_URL"] ||
		cfg.NotifyWebhooks["security"].Timeout != 3*time.Second || cfg.Isolation.LabelKey != "quarantine" ||
		!cfg.Outputs.FileOutput.Enabled || cfg.Outputs.Stdout.Enabled || len(cfg.ProtectedNamespaces) != 2 {
		t.Errorf("config: %+v", cfg)
	}
	if s := cfg.NotifyWebhooks["security"].URL.String(); s != "<secret>" {
		t.Errorf("webhook URL prints as %q", s)
	}
}

func TestConfigBad(t *testing.T) {
	pb := "playbooks:\n  - name: p\n    match: {priority: critical}\n    actions: [isolate_pod]\n"
	for _, tc := range []struct{ name, src, want string }{
		{"unknown key", "nats: {url: nats://x:1, subject: [a]}\n" + pb, `r.yaml:1: unknown key "subject"`},
		{"no source", pb, "r.yaml: nats.url: no alert source"},
		{"no playbooks", "nats: {url: nats://x:1}\n", "r.yaml: playbooks: no playbooks"},
		{"bad url", "nats: {url: http://x:1}\n" + pb, `r.yaml:1: nats.url: "http://x:1" is not a nats:// or tls:// URL`},
		{"bad subject", "nats:\n  url: nats://x:1\n  subjects: [\"falco.>.x\"]\n" + pb, `r.yaml:3: nats.subjects: "falco.>.x" is not a NATS subject`},
		{"http without auth", "http: {alert_path: /alerts}\n" + pb, "r.yaml:1: http.bearer_token_file: no authentication"},
		{"http path taken", "http: {alert_path: /metrics, allow_unauthenticated: true}\n" + pb, `r.yaml:1: http.alert_path: "/metrics" is taken`},
		{"bad isolation label", "nats: {url: nats://x:1}\nisolation:\n  label_key: \"bad key\"\n" + pb, `r.yaml:3: isolation.label_key: "bad key"`},
		{"bad protected namespace", "nats: {url: nats://x:1}\nprotected_namespaces: [Kube_System]\n" + pb, `r.yaml:2: protected_namespaces: "Kube_System" is not a namespace name`},
		{"undefined webhook", "nats: {url: nats://x:1}\nplaybooks:\n  - name: p\n    match: {priority: critical}\n    actions:\n      - notify: {webhook: chat}\n",
			`r.yaml:6: playbook "p": notify: webhook "chat" is not defined under notify_webhooks`},
		{"bad webhook url", "nats: {url: nats://x:1}\nnotify_webhooks:\n  chat: {url: \"ftp://secret@x\"}\n" + pb,
			"r.yaml:3: notify_webhooks.chat.url: not an http:// or https:// URL"},
		{"bad playbook", "nats: {url: nats://x:1}\nplaybooks:\n  - name: p\n    match: {priority: critical}\n    actions: [isolate]\n",
			`r.yaml:5: playbook "p": unknown action "isolate"`},
		{"bad output", "nats: {url: nats://x:1}\noutputs:\n  stdout: {enabled: false}\n  http_output:\n    enabled: true\n    url: \"ftp://x\"\n" + pb,
			"r.yaml:6: outputs.http_output.url:"},
		{"no output", "nats: {url: nats://x:1}\noutputs: {stdout: {enabled: false}}\n" + pb, "r.yaml:2: outputs: no output for the action records"},
		{"bad burst", "nats: {url: nats://x:1}\nrate_limit: {burst: 0}\n" + pb, "r.yaml:2: rate_limit.burst: want at least 1"},
		{"unset env", "nats: {url: nats://x:1, token: ${NOPE}}\n" + pb, "r.yaml: environment variable ${NOPE} is not set"},
		{"bad log level", "nats: {url: nats://x:1}\nlog: {level: loud}\n" + pb, "r.yaml:2: log.level:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("r.yaml", []byte(tc.src), func(string) (string, bool) { return "", false })
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			var errs playbook.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n%v\nwant\n%s", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret@") {
				t.Errorf("error repeats the webhook URL: %v", err)
			}
		})
	}
}

func TestValidSubject(t *testing.T) {
	for s, want := range map[string]bool{"falco.>": true, "falco.*.x": true, ">": true, "a.b": true,
		"": false, "a..b": false, "a.>.b": false, "a.b*": false, "a b": false, ".a": false} {
		if validSubject(s) != want {
			t.Errorf("validSubject(%q) = %v", s, !want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("http: {alert_path: /a, allow_unauthenticated: true}\nplaybooks: [{name: a, match: {rule: x}, actions: [notify]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data, func(string) (string, bool) { return "v", true })
		if err == nil && len(cfg.Playbooks) == 0 {
			t.Fatal("accepted a configuration without playbooks")
		}
	})
}
