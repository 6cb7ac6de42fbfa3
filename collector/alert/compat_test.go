package alert

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// compatFile finds one of the upstream rules files lanner must load unmodified: in the engine's
// testdata when it has a copy, else in the shared compat folder beside the repository.
func compatFile(t *testing.T, name string) []byte {
	t.Helper()
	for _, p := range []string{
		filepath.Join("..", "engine", "testdata", name),
		filepath.Join("..", "..", "..", "shared", "compat", name),
	} {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	t.Skipf("%s not found", name)
	return nil
}

// TestUpstreamOutputsCompile compiles the output of every upstream rule with the built-in
// registry and formats it on an empty event: every token must resolve, none may be filter-only.
func TestUpstreamOutputsCompile(t *testing.T) {
	r := fields.NewRegistry()
	b, err := NewBuilder(r, "node")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file  string
		src   event.Source
		rules int
	}{
		{"falco_rules.yaml", event.SourceSyscall, 25},
		{"k8s_audit_rules.yaml", event.SourceK8sAudit, 48},
	} {
		var docs []map[string]any
		if err := yaml.Unmarshal(compatFile(t, tc.file), &docs); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		n := 0
		for _, d := range docs {
			rule, ok := d["rule"].(string)
			out, ok2 := d["output"].(string)
			if !ok || !ok2 {
				continue
			}
			n++
			f, err := NewFormatter(out, tc.src, r)
			if err != nil {
				t.Errorf("%s: rule %q: %v", tc.file, rule, err)
				continue
			}
			e := &event.Event{Source: tc.src, Num: 1, Time: 1}
			if tc.src == event.SourceSyscall {
				e.Sys = &event.Syscall{}
			} else {
				e.Audit = &event.Audit{}
			}
			a := b.Build(e, rule, Warning, nil, f)
			if n == 3 && os.Getenv("SHOWJSON") != "" {
				t.Logf("%s", a.AppendJSON(nil))
			}
			if len(a.AppendJSON(nil)) == 0 {
				t.Errorf("rule %q: empty JSON", rule)
			}
		}
		if n != tc.rules {
			t.Errorf("%s: %d rules with an output, want %d", tc.file, n, tc.rules)
		}
	}
}
