package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannersec/lanner/collector/fields"
)

// compatDir locates shared/compat: ../shared/compat relative to the repository root (CI puts
// shared/ beside the clone), or LANNER_COMPAT_DIR.
func compatDir(t testing.TB) string {
	if d := os.Getenv("LANNER_COMPAT_DIR"); d != "" {
		return d
	}
	// The package is collector/engine: the repository root is two levels up.
	return filepath.Join("..", "..", "..", "shared", "compat")
}

func compatFile(t testing.TB, name string) File {
	t.Helper()
	p := filepath.Join(compatDir(t), name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading compat file (set LANNER_COMPAT_DIR to override): %v", err)
	}
	return File{Name: name, Data: data}
}

func TestLoadCompatFiles(t *testing.T) {
	reg := fields.NewRegistry()
	falco := compatFile(t, "falco_rules.yaml")
	k8s := compatFile(t, "k8s_audit_rules.yaml")
	for _, tc := range []struct {
		name                 string
		files                []File
		rules, macros, lists int
	}{
		{"falco_rules", []File{falco}, 25, 87, 49},
		{"k8s_audit_rules", []File{k8s}, 48, 45, 18},
		{"both", []File{falco, k8s}, 73, 132, 67},
		{"both reversed", []File{k8s, falco}, 73, 132, 67},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, res := Load(tc.files, Options{Registry: reg})
			for _, d := range res.Errors {
				t.Errorf("error: %s", d)
			}
			if !res.OK() {
				return
			}
			if res.Rules != tc.rules || res.Macros != tc.macros || res.Lists != tc.lists {
				t.Errorf("loaded %d rules, %d macros, %d lists; want %d/%d/%d", res.Rules, res.Macros, res.Lists, tc.rules, tc.macros, tc.lists)
			}
			if got := len(rs.Rules()); got != tc.rules {
				t.Errorf("compiled %d rules, want %d", got, tc.rules)
			}
			for _, r := range rs.Rules() {
				if r.AST == nil || r.match == nil || r.Formatter == nil {
					t.Errorf("rule %q not fully compiled", r.Name)
				}
			}
			// Falco loads both upstream files without a warning; so must we.
			for _, d := range res.Warnings {
				t.Errorf("warning: %s", d)
			}
			for _, p := range res.Plugins {
				if !p.Satisfied {
					t.Errorf("plugin requirement %v not satisfied", p.Alternatives)
				}
			}
		})
	}
}
