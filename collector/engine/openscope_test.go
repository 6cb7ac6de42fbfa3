package engine_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/fields"
)

// TestOpenScopeStableRules pins what the kernel is told to report of the opens when Falco's
// stable rules and lanner's own rules run: write opens, non-canonical paths and the sensitive
// files, and not the common read-only opens (which no stable rule can match).
func TestOpenScopeStableRules(t *testing.T) {
	dir := os.Getenv("LANNER_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "compat")
	}
	var files []engine.File
	for _, p := range []string{filepath.Join(dir, "falco_rules.yaml"), filepath.Join("..", "..", "rules", "lanner_rules.yaml")} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading rules (set LANNER_COMPAT_DIR to override): %v", err)
		}
		files = append(files, engine.File{Name: filepath.Base(p), Data: data})
	}
	rs, res := engine.Load(files, engine.Options{Registry: fields.NewRegistry()})
	if !res.OK() {
		t.Fatalf("loading the rules: %v", res.Err())
	}
	s := rs.OpenScope()
	t.Logf("scope: %+q", s.Prefixes)
	if s.Any || !s.Writes || !s.Odd {
		t.Fatalf("scope %#v: want writes and odd paths, not every open", s)
	}
	for _, want := range []string{"/etc/shadow\x00", "/etc/sudoers\x00", "/etc/pam.d", "/etc/sudoers.d", "/root/.ssh/id_rsa\x00"} {
		if !slices.Contains(s.Prefixes, want) {
			t.Errorf("prefixes %q lack %q", s.Prefixes, want)
		}
	}
	for _, p := range s.Prefixes {
		if p == "/" || p == "/etc" || p == "/etc/" {
			t.Errorf("prefix %q reports ordinary reads", p)
		}
	}
	// A rule that reads any file widens it to every open; a priority above it narrows it back.
	extra := engine.File{Name: "extra.yaml", Data: []byte(`
- rule: any read
  desc: d
  condition: evt.type = openat and evt.is_open_read = true
  output: o
  priority: DEBUG
`)}
	rs, res = engine.Load(append(files, extra), engine.Options{Registry: fields.NewRegistry()})
	if !res.OK() {
		t.Fatalf("loading the rules: %v", res.Err())
	}
	if !rs.OpenScope().Any {
		t.Fatalf("scope %#v with a rule on every read: want Any", rs.OpenScope())
	}
	rs.SetMinPriority(alert.Informational)
	if rs.OpenScope().Any {
		t.Fatal("the DEBUG rule is below the minimum priority: it must not widen the scope")
	}
}
