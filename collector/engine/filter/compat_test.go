package filter

import (
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// compatConditions returns every macro and rule condition of the upstream rules files lanner
// must load unmodified (without list substitution, which is the loader's job).
func compatConditions(t testing.TB) []string {
	var out []string
	for _, f := range []string{"falco_rules.yaml", "k8s_audit_rules.yaml"} {
		data, err := os.ReadFile("../../../../shared/compat/" + f)
		if err != nil {
			data, err = os.ReadFile("/work/shared/compat/" + f)
		}
		if err != nil {
			t.Logf("compat rules not found: %v", err)
			continue
		}
		var items []map[string]any
		if err := yaml.Unmarshal(data, &items); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, it := range items {
			if c, ok := it["condition"].(string); ok {
				out = append(out, c)
			}
		}
	}
	return out
}

func TestParseCompatConditions(t *testing.T) {
	conds := compatConditions(t)
	if len(conds) == 0 {
		t.Skip("compat rules files not available")
	}
	for _, c := range conds {
		n, err := Parse(c)
		if err != nil {
			t.Errorf("Parse(%q): %v", c, err)
			continue
		}
		s := String(n)
		n2, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(String) of %q = %q: %v", c, s, err)
			continue
		}
		if s2 := String(n2); s2 != s {
			t.Errorf("canonical form not stable:\n%s\n%s", s, s2)
		}
	}
}
