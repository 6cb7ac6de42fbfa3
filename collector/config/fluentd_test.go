package config

import (
	"testing"
)

// TestFluentdBlock checks that a fluentd: block parses into the output's settings and that its
// problems are reported under fluentd.<key>.
func TestFluentdBlock(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		wantKey string // "" = valid
	}{
		{"valid", "fluentd:\n  enabled: true\n  host: fluentd.logging\n  tag: falco.alert\n  ack_timeout: 2s\n", ""},
		{"bad tag", "fluentd:\n  enabled: true\n  tag: \"a..b\"\n", "fluentd.tag"},
		{"bad network", "fluentd:\n  enabled: true\n  network: udp\n", "fluentd.network"},
		{"bad overflow", "fluentd:\n  enabled: true\n  overflow: lose\n", "fluentd.overflow"},
		{"disabled is not checked", "fluentd:\n  enabled: false\n  network: udp\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			if _, err := Parse("lanner.yaml", []byte(tc.yaml), &cfg, func(string) (string, bool) { return "", false }); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ps := cfg.Validate()
			var keys []string
			for _, p := range ps {
				keys = append(keys, p.Key)
			}
			if tc.wantKey == "" {
				if len(ps) != 0 {
					t.Fatalf("problems %v, want none", ps)
				}
				return
			}
			found := false
			for _, k := range keys {
				found = found || k == tc.wantKey
			}
			if !found {
				t.Fatalf("problems at %v, want one at %s", keys, tc.wantKey)
			}
		})
	}
	cfg := Default()
	if _, err := Parse("lanner.yaml", []byte("fluentd:\n  enabled: true\n  host: fluentd.logging\n  tag: falco.alert\n"), &cfg, func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
	if f := cfg.Fluentd; f.Host != "fluentd.logging" || f.Tag != "falco.alert" || f.Port != 24224 || f.SpoolDir != "/var/lib/lanner/spool/fluentd" {
		t.Fatalf("fluentd block = %+v", f)
	}
}
