package elasticsearch

import (
	"encoding/json"
	"sort"
	"testing"
)

// TestFieldsCoverDocument checks that Fields (what the template maps, the names the Kibana
// dashboards are checked against) types every leaf a full document carries: a field written
// but not mapped would be kept in _source yet be invisible to searches and dashboards
// (dynamic: false).
func TestFieldsCoverDocument(t *testing.T) {
	fields := Fields()
	r := testRecord(5)
	r.Alert.K8s = fullK8sMeta()
	d := decoded(t, r)
	var missing []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			if fields[path] == "flattened" {
				continue // one mapping for every key below
			}
			if sub, ok := v.(map[string]any); ok {
				walk(path+".", sub)
				continue
			}
			if _, ok := fields[path]; !ok {
				missing = append(missing, path)
			}
		}
	}
	walk("", d)
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("document fields the template does not map: %q", missing)
	}
}

func TestFieldsTypes(t *testing.T) {
	fields := Fields()
	for path, want := range map[string]string{
		"@timestamp": "date", "event.severity": "long", "falco.priority": "keyword", "rule.name": "keyword",
		"kubernetes.namespace": "keyword", "kubernetes.pod.name": "keyword", "kubernetes.deployment.name": "keyword",
		"container.image.name": "keyword", "user.name": "keyword", "threat.tactic.name": "keyword",
		"event.action": "keyword", "process.command_line.text": "text", "falco.output_fields": "flattened",
		"lanner.chain.seq": "long", "lanner.chain.prev": "keyword", "lanner.chain.hash": "keyword",
		"falco.output_fields.ka.target.resource": "keyword", "source.ip": "ip",
	} {
		if got := fields[path]; got != want {
			t.Errorf("Fields()[%q] = %q, want %q", path, got, want)
		}
	}
	for path, typ := range fields {
		if typ == "" || typ == "object" {
			t.Errorf("Fields()[%q] = %q: not a leaf type", path, typ)
		}
	}
}

// TestTemplateRuntimeFields checks that the runtime fields Fields reports are the ones the
// template installs, and that they carry no script (the smallest distribution has no painless).
func TestTemplateRuntimeFields(t *testing.T) {
	b, err := TemplateBody(DefaultConfig(), false)
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Template struct {
			Mappings struct {
				Runtime map[string]map[string]any `json:"runtime"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(b, &tmpl); err != nil {
		t.Fatal(err)
	}
	rt := tmpl.Template.Mappings.Runtime
	if len(rt) == 0 {
		t.Fatal("template has no runtime fields")
	}
	for name, def := range rt {
		if _, ok := def["script"]; ok {
			t.Errorf("runtime field %s has a script", name)
		}
		if Fields()[name] != def["type"] {
			t.Errorf("runtime field %s: template type %v, Fields() %q", name, def["type"], Fields()[name])
		}
	}
}
