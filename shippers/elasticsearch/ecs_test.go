package elasticsearch

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/shippers"
)

func slogTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

// get walks a decoded document by dotted path.
func get(d map[string]any, path string) any {
	var cur any = d
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func TestDocument(t *testing.T) {
	r := testRecord(5)
	r.Alert.K8s = &alert.K8sMeta{Namespace: "default", PodName: "web-1", PodUID: "u-1", NodeName: "n1",
		ContainerName: "nginx", OwnerKind: "Deployment", OwnerName: "web", Labels: map[string]string{"app.kubernetes.io/name": "web"}}
	b, err := Document(r)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]any{
		"@timestamp":                 "2026-11-26T10:00:00.000000005Z",
		"event.kind":                 "alert",
		"event.severity":             float64(2), // notice
		"event.id":                   r.ID,
		"event.action":               "execve",
		"rule.name":                  "Terminal shell in container",
		"rule.description":           "A shell was used as the entrypoint",
		"rule.ruleset":               "falco_rules.yaml",
		"process.name":               "bash",
		"process.executable":         "/usr/bin/bash",
		"process.command_line":       "bash -i",
		"process.pid":                float64(4242),
		"process.parent.name":        "runc",
		"process.parent.pid":         float64(1),
		"user.id":                    "0",
		"user.name":                  "root",
		"container.id":               "abcdef012345",
		"container.image.name":       "nginx",
		"orchestrator.type":          "kubernetes",
		"orchestrator.namespace":     "default",
		"orchestrator.resource.name": "web-1",
		"orchestrator.resource.id":   "u-1",
		"kubernetes.pod.name":        "web-1",
		"kubernetes.node.name":       "n1",
		"kubernetes.deployment.name": "web",
		"host.name":                  "node-1",
		"observer.product":           "lanner",
		"threat.framework":           "MITRE ATT&CK",
		"falco.rule":                 "Terminal shell in container",
		"falco.priority":             "Notice",
		"message":                    r.Alert.Output,
	} {
		if got := get(d, path); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if got := get(d, "threat.technique.id"); len(got.([]any)) != 1 || got.([]any)[0] != "T1059" {
		t.Errorf("threat.technique.id = %v", got)
	}
	if got := get(d, "threat.tactic.name"); got.([]any)[0] != "Execution" {
		t.Errorf("threat.tactic.name = %v", got)
	}
	if got := get(d, "event.category"); got.([]any)[0] != "process" {
		t.Errorf("event.category = %v", got)
	}
	of := get(d, "falco.output_fields").(map[string]any)
	if of["proc.cmdline"] != "bash -i" {
		t.Errorf("falco.output_fields keeps Falco's keys: %v", of)
	}
	if _, ok := of["fd.name"]; ok {
		t.Error("a null output field was kept")
	}
	if get(d, "kubernetes.labels").(map[string]any)["app_kubernetes_io/name"] != "web" {
		t.Errorf("labels not dedotted: %v", get(d, "kubernetes.labels"))
	}
}

func TestSeverityMapping(t *testing.T) {
	for p, want := range map[alert.Priority]int{alert.Emergency: 7, alert.PriorityAlert: 6, alert.Critical: 5, alert.Error: 4,
		alert.Warning: 3, alert.Notice: 2, alert.Informational: 1, alert.Debug: 0} {
		if got := severity(p); got != want {
			t.Errorf("severity(%s) = %d, want %d", p, got, want)
		}
	}
}

func TestTemplateBody(t *testing.T) {
	b, err := TemplateBody(DefaultConfig(), false)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	json.Unmarshal(b, &tmpl)
	if _, ok := tmpl["data_stream"]; !ok {
		t.Fatal("data stream template lacks data_stream")
	}
	props := get(tmpl, "template.mappings.properties").(map[string]any)
	for path, want := range map[string]string{"@timestamp": "date", "source.ip": "ip", "process.pid": "long",
		"rule.name": "keyword", "falco.output_fields": "flattened", "event.severity": "long"} {
		cur := props
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			cur = cur[p].(map[string]any)["properties"].(map[string]any)
		}
		if got := cur[parts[len(parts)-1]].(map[string]any)["type"]; got != want {
			t.Errorf("%s mapped as %v, want %s", path, got, want)
		}
	}
	if strings.Contains(string(b), "lifecycle") {
		t.Fatal("template names an ILM policy without ILM")
	}
	b, _ = TemplateBody(DefaultConfig(), true)
	if !strings.Contains(string(b), `"index.lifecycle.name":"lanner-alerts"`) {
		t.Fatal("template with ILM does not name the policy")
	}
}

// TestDocumentActionWithoutOutputField checks that an alert whose rule output prints neither
// evt.type nor ka.verb (lanner's own rules, most users' rules) is still classified from the
// action the alert carries, not filed as a generic process event.
func TestDocumentActionWithoutOutputField(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      event.Source
		action   string
		fields   map[string]any
		category string
		typ      string
	}{
		{"file created", event.SourceSyscall, "openat", map[string]any{"fd.name": "/etc/x", "evt.arg.flags": "O_WRONLY|O_CREAT"}, "file", "creation"},
		{"file read", event.SourceSyscall, "openat", map[string]any{"fd.name": "/etc/shadow"}, "file", "access"},
		{"connection", event.SourceSyscall, "connect", map[string]any{"fd.name": "1.2.3.4:1->5.6.7.8:2"}, "network", "connection"},
		{"no action, no evt.type", event.SourceSyscall, "", map[string]any{"fd.name": "/etc/x"}, "process", "info"},
		{"audit delete", event.SourceK8sAudit, "delete", map[string]any{"ka.target.name": "web"}, "configuration", "deletion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecord(1)
			r.Alert.Source = tc.src
			r.Alert.Action = tc.action
			r.Alert.OutputFields = tc.fields
			b, err := Document(r)
			if err != nil {
				t.Fatal(err)
			}
			var d map[string]any
			if err := json.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			ev, _ := d["event"].(map[string]any)
			cat, _ := ev["category"].([]any)
			typ, _ := ev["type"].([]any)
			if len(cat) != 1 || cat[0] != tc.category || len(typ) != 1 || typ[0] != tc.typ {
				t.Fatalf("event.category %v, event.type %v; want [%s] [%s]", cat, typ, tc.category, tc.typ)
			}
			if tc.action != "" && ev["action"] != tc.action {
				t.Fatalf("event.action %v, want %s", ev["action"], tc.action)
			}
		})
	}
}

// An audit alert's actor and object land in ECS fields whatever the rule printed.
func TestDocumentAuditTarget(t *testing.T) {
	r := testRecord(1)
	r.Alert.Source = event.SourceK8sAudit
	r.Alert.Action = "create"
	r.Alert.OutputFields = map[string]any{"ka.user.name": "printed-user"}
	r.Alert.Audit = &alert.AuditTarget{User: "alice", Resource: "pods", Subresource: "exec", Namespace: "shop",
		Name: "web-1", APIGroup: "apps", APIVersion: "v1", SourceIP: "10.0.0.9"}
	b, err := Document(r)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		User         struct{ Name string }
		Source       struct{ IP string }
		Orchestrator struct {
			Type       string
			Namespace  string
			APIVersion string `json:"api_version"`
			Resource   struct{ Type, Name string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	o := d.Orchestrator
	if d.User.Name != "alice" || d.Source.IP != "10.0.0.9" || o.Type != "kubernetes" || o.Namespace != "shop" ||
		o.Resource.Type != "pods/exec" || o.Resource.Name != "web-1" || o.APIVersion != "apps/v1" {
		t.Fatalf("audit target in the document: %+v\n%s", d, b)
	}
	for _, f := range []string{"orchestrator.resource.type", "orchestrator.resource.name", "orchestrator.api_version", "source.ip", "user.name"} {
		if typ := Fields()[f]; typ != "keyword" && typ != "ip" {
			t.Errorf("%s mapped as %q, want an aggregatable type", f, typ)
		}
	}
}

// A reused builder caches what depends on the rule alone (rule.id, threat.*) and recomputes it
// when the same rule comes with other tags; ids of every common type come out as jsonScalar
// would write them.
func TestBuilderRuleCacheAndIDs(t *testing.T) {
	var b Builder
	doc := func(r *shippers.Record) map[string]any {
		t.Helper()
		data, ok := b.AppendDocument(nil, r)
		if !ok {
			t.Fatalf("not canonical: %s", data)
		}
		var d map[string]any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	r := testRecord(1)
	d := doc(r)
	if got := get(d, "threat.technique.id"); !reflect.DeepEqual(got, []any{"T1059"}) {
		t.Fatalf("threat.technique.id = %v", got)
	}
	r = testRecord(2)
	r.Alert.Tags = []string{"mitre_privilege_escalation", "T1611"}
	d = doc(r)
	if got := get(d, "threat.technique.id"); !reflect.DeepEqual(got, []any{"T1611"}) {
		t.Fatalf("after new tags, threat.technique.id = %v", got)
	}
	if got := get(d, "threat.tactic.name"); !reflect.DeepEqual(got, []any{"Privilege Escalation"}) {
		t.Fatalf("after new tags, threat.tactic.name = %v", got)
	}
	if got := get(d, "rule.id"); got != ruleID(r.Alert.Rule) {
		t.Fatalf("rule.id = %v", got)
	}
	r.Alert.Tags = nil
	d = doc(r)
	if get(d, "threat.framework") != nil || get(d, "tags") != nil {
		t.Fatalf("without tags: threat %v, tags %v", get(d, "threat.framework"), get(d, "tags"))
	}

	for _, v := range []any{int64(1000), 1000, uint64(1000), float64(1000), "1000", math.Copysign(0, -1),
		float64(12.5), float64(1e21), "10 00", "x", true} {
		r := testRecord(3)
		r.Alert.OutputFields["user.uid"] = v
		r.Alert.OutputFields["group.gid"] = v
		d := doc(r)
		want := strings.Trim(strings.TrimSpace(jsonScalar(v)), `"`)
		if got := get(d, "user.id"); got != want {
			t.Errorf("user.uid %T %v: user.id = %v, want %q", v, v, got, want)
		}
		if got := get(d, "process.group.id"); got != strings.Trim(jsonScalar(v), `"`) {
			t.Errorf("group.gid %T %v: process.group.id = %v", v, v, got)
		}
	}
}
