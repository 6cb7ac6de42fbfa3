package playbook

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/lannersec/lanner/collector/alert"
)

const good = `# responder configuration (only playbooks are read here)
dry_run: false
playbooks:
  - name: isolate-shells
    description: terminal shells in production pods
    match:
      rule: [Lanner Interactive Shell in Container, Terminal shell in container]
      priority: notice
      tags: [shell]
      namespaces: [shop, payments]
      pod_labels: "app=web,tier!=db"
    rate_limit: {burst: 3, every: 1m}
    actions:
      - label_pod:
          labels: {lanner.dev/suspicious: "true"}
      - isolate_pod
      - notify: {webhook: security, ignore_errors: true}
  - name: kill-miners
    dry_run: true
    match:
      rule_regex: "(?i)crypto ?min"
      exclude_namespaces: [kube-system]
    actions:
      - delete_pod: {grace_period: 0}
      - scale_to_zero
      - cordon_node:
      - taint_node: {key: lanner.dev/compromised, value: "yes", effect: NoExecute}
  - name: grace
    match: {priority: critical}
    actions:
      - delete_pod: {grace_period: 30s}
      - taint_node: {key: lanner.dev/compromised}
`

func TestParseGood(t *testing.T) {
	pbs, err := ParseFile("respond.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(pbs) != 3 {
		t.Fatalf("got %d playbooks, want 3", len(pbs))
	}
	a := pbs[0]
	if a.Name != "isolate-shells" || a.Line != 4 || a.DryRun || a.RateLimit == nil || a.RateLimit.Burst != 3 || a.RateLimit.Every != time.Minute {
		t.Errorf("first playbook: %+v", a)
	}
	if len(a.Match.Rules) != 2 || !a.Match.HasPriority || a.Match.MinPriority != alert.Notice || a.Match.PodLabels == nil {
		t.Errorf("first match: %+v", a.Match)
	}
	if len(a.Actions) != 3 || a.Actions[0].Kind != LabelPod || a.Actions[0].Labels["lanner.dev/suspicious"] != "true" ||
		a.Actions[1].Kind != IsolatePod || a.Actions[1].Line != 16 || a.Actions[2].Webhook != "security" || !a.Actions[2].IgnoreErrors {
		t.Errorf("first actions: %+v", a.Actions)
	}
	b := pbs[1]
	if !b.DryRun || b.Match.RuleRegex == nil || b.RateLimit != nil {
		t.Errorf("second playbook: %+v", b)
	}
	if got := b.Actions[0].GracePeriod; got == nil || *got != 0 {
		t.Errorf("grace_period 0: got %v", got)
	}
	if tn := b.Actions[3].Taint; tn.Key != "lanner.dev/compromised" || tn.Value != "yes" || tn.Effect != corev1.TaintEffectNoExecute {
		t.Errorf("taint: %+v", tn)
	}
	c := pbs[2]
	if got := c.Actions[0].GracePeriod; got == nil || *got != 30*time.Second {
		t.Errorf("grace_period 30s: got %v", got)
	}
	if c.Actions[1].Taint.Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("default effect: %v", c.Actions[1].Taint.Effect)
	}
}

func TestMatch(t *testing.T) {
	pbs, err := ParseFile("respond.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	m := &pbs[0].Match
	shell := &alert.Alert{Rule: "Terminal shell in container", Priority: alert.Warning, Tags: []string{"container", "shell"}}
	for _, tc := range []struct {
		name string
		a    *alert.Alert
		ns   string
		want bool
	}{
		{"all criteria", shell, "shop", true},
		{"other namespace", shell, "dev", false},
		{"no namespace", shell, "", false},
		{"less severe", &alert.Alert{Rule: shell.Rule, Priority: alert.Informational, Tags: shell.Tags}, "shop", false},
		{"missing tag", &alert.Alert{Rule: shell.Rule, Priority: alert.Critical, Tags: []string{"container"}}, "shop", false},
		{"other rule", &alert.Alert{Rule: "Write below etc", Priority: alert.Critical, Tags: shell.Tags}, "shop", false},
	} {
		if got := m.Alert(tc.a, tc.ns); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if !m.NeedsPod() || !m.Pod(map[string]string{"app": "web", "tier": "front"}) || m.Pod(map[string]string{"app": "web", "tier": "db"}) {
		t.Error("pod_labels app=web,tier!=db misapplied")
	}
	re := &pbs[1].Match
	if !re.Alert(&alert.Alert{Rule: "Detect Crypto Miners Using the Stratum Protocol"}, "x") ||
		!re.Alert(&alert.Alert{Rule: "cryptomining"}, "") ||
		re.Alert(&alert.Alert{Rule: "Detect Crypto Miners"}, "kube-system") {
		t.Error("rule_regex / exclude_namespaces misapplied")
	}
}

// Every bad playbook is refused with the file and the line of what is wrong.
func TestParseBad(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown action", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - kill_pod\n",
			`f.yaml:5: playbook "a": unknown action "kill_pod"`},
		{"unknown action in mapping", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - isolate_pod\n      - quarantine: {}\n",
			`f.yaml:6: playbook "a": unknown action "quarantine"`},
		{"bad selector", "playbooks:\n  - name: a\n    match:\n      pod_labels: \"app in (web\"\n    actions: [isolate_pod]\n",
			`f.yaml:4: playbook "a": match.pod_labels: bad label selector`},
		{"bad regex", "playbooks:\n  - name: a\n    match:\n      rule_regex: \"(shell\"\n    actions: [isolate_pod]\n",
			`f.yaml:4: playbook "a": match.rule_regex: error parsing regexp`},
		{"bad priority", "playbooks:\n  - name: a\n    match:\n      priority: urgent\n    actions: [isolate_pod]\n",
			`f.yaml:4: playbook "a": match.priority: invalid priority "urgent"`},
		{"unknown playbook key", "playbooks:\n  - name: a\n    match: {priority: error}\n    dryrun: true\n    actions: [isolate_pod]\n",
			`f.yaml:4: playbook: unknown key "dryrun"`},
		{"unknown match key", "playbooks:\n  - name: a\n    match: {priority: error, namespace: x}\n    actions: [isolate_pod]\n",
			`f.yaml:3: playbook "a": match: unknown key "namespace"`},
		{"unknown parameter", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - delete_pod: {grace: 3}\n",
			`f.yaml:5: playbook "a": delete_pod: unknown key "grace"`},
		{"parameter of another action", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - isolate_pod: {labels: {a: b}}\n",
			`f.yaml:5: playbook "a": isolate_pod: unknown key "labels"`},
		{"no criterion", "playbooks:\n  - name: a\n    match: {}\n    actions: [isolate_pod]\n",
			`f.yaml:3: playbook "a": match: no criterion`},
		{"no match", "playbooks:\n  - name: a\n    actions: [isolate_pod]\n",
			`f.yaml:2: playbook "a": no match`},
		{"no actions", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions: []\n",
			`f.yaml:4: playbook "a": actions: want a non-empty list`},
		{"no name", "playbooks:\n  - match: {priority: error}\n    actions: [isolate_pod]\n",
			`f.yaml:2: playbook: no name`},
		{"duplicate", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions: [isolate_pod]\n  - name: a\n    match: {priority: error}\n    actions: [isolate_pod]\n",
			`f.yaml:5: playbook "a": defined twice (first at line 2)`},
		{"bad label key", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - label_pod: {labels: {\"bad key\": x}}\n",
			`f.yaml:5: playbook "a": label_pod: labels: key "bad key"`},
		{"bad label value", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - label_pod:\n          labels:\n            quarantine: \"not ok!\"\n",
			`f.yaml:7: playbook "a": label_pod: labels: quarantine: value "not ok!"`},
		{"label_pod without labels", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - label_pod: {}\n",
			`f.yaml:5: playbook "a": label_pod: no labels`},
		{"bad effect", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - taint_node: {key: k, effect: Evict}\n",
			`f.yaml:5: playbook "a": taint_node: effect "Evict"`},
		{"taint without key", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - taint_node: {value: v}\n",
			`f.yaml:5: playbook "a": taint_node: no key`},
		{"notify without webhook", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - notify\n",
			`f.yaml:5: playbook "a": notify: no webhook`},
		{"negative grace", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - delete_pod: {grace_period: -5s}\n",
			`f.yaml:5: playbook "a": delete_pod: grace_period: must not be negative`},
		{"fractional grace", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - delete_pod: {grace_period: 1500ms}\n",
			`f.yaml:5: playbook "a": delete_pod: grace_period: Kubernetes counts whole seconds`},
		{"bad dry_run", "playbooks:\n  - name: a\n    dry_run: maybe\n    match: {priority: error}\n    actions: [isolate_pod]\n",
			`f.yaml:3: dry_run: want true or false, got "maybe"`},
		{"bad namespace", "playbooks:\n  - name: a\n    match: {namespaces: [Prod_1]}\n    actions: [isolate_pod]\n",
			`f.yaml:3: playbook "a": match.namespaces: "Prod_1" is not a namespace name`},
		{"bad burst", "playbooks:\n  - name: a\n    match: {priority: error}\n    rate_limit: {burst: 0}\n    actions: [isolate_pod]\n",
			`f.yaml:4: rate_limit.burst: want a whole number of at least 1`},
		{"two actions in one entry", "playbooks:\n  - name: a\n    match: {priority: error}\n    actions:\n      - {isolate_pod: {}, delete_pod: {}}\n",
			`f.yaml:5: playbook "a": action: want an action name`},
		{"not a list", "playbooks: {name: a}\n", `f.yaml:1: playbooks: want a list of playbooks`},
		{"yaml syntax", "playbooks:\n  - name: a\n   match: x\n", `f.yaml:1: did not find expected '-' indicator`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pbs, err := ParseFile("f.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", pbs)
			}
			if pbs != nil {
				t.Errorf("playbooks returned beside errors: %v", pbs)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not Errors: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

// All problems of a file are reported at once, in file order.
func TestParseReportsEveryProblem(t *testing.T) {
	src := "playbooks:\n  - name: a\n    match: {priority: urgent}\n    actions: [kill]\n  - name: b\n    match: {rule_regex: '('}\n    actions: [isolate_pod]\n"
	_, err := ParseFile("f.yaml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for i, line := range []int{3, 4, 6} {
		if errs[i].Line != line {
			t.Errorf("error %d at line %d, want %d: %v", i, errs[i].Line, line, errs[i])
		}
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "dry_run: true\n", "playbooks:\n", "[]\n"} {
		pbs, err := ParseFile("f.yaml", []byte(src))
		if err != nil || len(pbs) != 0 {
			t.Errorf("%q: got %v, %v", src, pbs, err)
		}
	}
}

// FuzzParseFile: the loader never panics, and what it accepts is usable: every playbook has a
// name, a criterion and at least one valid action; what it refuses names a line.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("playbooks:\n  - name: a\n    match: {priority: error}\n    actions: [kill]\n"))
	f.Add([]byte("- &p {name: a, match: {rule: x}, actions: [isolate_pod]}\n- *p\n"))
	f.Add([]byte("playbooks: [{name: a, match: {pod_labels: 'a in (b'}, actions: [{taint_node: {key: k}}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pbs, err := ParseFile("f.yaml", data)
		if err != nil {
			if pbs != nil {
				t.Fatalf("playbooks beside an error: %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not Errors: %T %v", err, err)
			}
			return
		}
		for _, pb := range pbs {
			if pb.Name == "" || len(pb.Actions) == 0 {
				t.Fatalf("accepted an incomplete playbook: %+v", pb)
			}
			for _, a := range pb.Actions {
				if !a.Kind.Valid() {
					t.Fatalf("accepted unknown action %q", a.Kind)
				}
			}
		}
	})
}
