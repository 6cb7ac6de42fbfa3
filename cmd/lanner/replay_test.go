package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const replayRules = `
- rule: Anonymous request
  desc: a request by the anonymous user
  condition: ka.user.name = "system:anonymous"
  output: anonymous %ka.verb of %ka.target.resource (user=%ka.user.name)
  priority: WARNING
  source: k8s_audit
  tags: [k8s, b, a, k8s]
- rule: Any list
  desc: every list request
  condition: ka.verb = list
  output: list by %ka.user.name
  priority: INFO
  source: k8s_audit
`

const anonymousEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"list","user":{"username":"system:anonymous"},"objectRef":{"resource":"pods","apiVersion":"v1"},"requestReceivedTimestamp":"2026-11-20T10:00:01.000000Z","stageTimestamp":"2026-11-20T10:00:01.123457Z"}`

const adminEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseComplete","requestURI":"/api/v1/pods","verb":"get","user":{"username":"admin"},"objectRef":{"resource":"pods","apiVersion":"v1"},"stageTimestamp":"2026-11-20T10:00:02Z"}`

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "rules.yaml", replayRules)
	events := writeFile(t, dir, "events.jsonl", anonymousEvent+"\n"+adminEvent+"\n")
	anonFirst := `{"hostname":"node-7","output":"10:00:01.123457000: Warning anonymous list of pods (user=system:anonymous)","output_fields":{"evt.time":1795168801123457000,"ka.target.resource":"pods","ka.user.name":"system:anonymous","ka.verb":"list"},"priority":"Warning","rule":"Anonymous request","source":"k8s_audit","tags":["a","b","k8s"],"time":"2026-11-20T10:00:01.123457000Z"}` + "\n"
	anonList := `{"hostname":"node-7","output":"10:00:01.123457000: Informational list by system:anonymous","output_fields":{"evt.time":1795168801123457000,"ka.user.name":"system:anonymous"},"priority":"Informational","rule":"Any list","source":"k8s_audit","tags":[],"time":"2026-11-20T10:00:01.123457000Z"}` + "\n"
	tests := []struct {
		name     string
		matching string
		want     string
	}{
		{"first", "first", anonFirst},
		{"all", "all", anonFirst + anonList},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			fl := replayFlags{rules: []string{rules}, source: "auto", matching: tc.matching, timezone: "UTC"}
			if err := runReplay(&out, &errOut, fl, []string{events}, "node-7"); err != nil {
				t.Fatalf("runReplay: %v (stderr %s)", err, errOut.String())
			}
			if out.String() != tc.want {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out.String(), tc.want)
			}
			if errOut.Len() != 0 {
				t.Fatalf("unexpected stderr: %s", errOut.String())
			}
		})
	}
}

func TestReplayBadLineSkipped(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "rules.yaml", replayRules)
	events := writeFile(t, dir, "events.jsonl", "{not json\n"+anonymousEvent+"\n")
	var out, errOut bytes.Buffer
	fl := replayFlags{rules: []string{rules}, source: "auto", matching: "first", timezone: "UTC"}
	err := runReplay(&out, &errOut, fl, []string{events}, "h")
	if !errors.Is(err, errSkipped) {
		t.Fatalf("err = %v, want errSkipped", err)
	}
	if !strings.HasPrefix(errOut.String(), events+":1: ") {
		t.Fatalf("stderr = %q, want it to start with %q", errOut.String(), events+":1: ")
	}
	if n := strings.Count(out.String(), "\n"); n != 1 || !strings.Contains(out.String(), `"rule":"Anonymous request"`) {
		t.Fatalf("stdout = %q, want the one alert of the good line", out.String())
	}
}

func TestReplayRulesErrorExit2(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "- rule: x\n  desc: d\n  condition: proc.nme = a\n  output: o\n  priority: WARNING\n")
	events := writeFile(t, dir, "events.jsonl", anonymousEvent+"\n")
	var out, errOut bytes.Buffer
	fl := replayFlags{rules: []string{bad}, source: "auto", matching: "first", timezone: "UTC"}
	err := runReplay(&out, &errOut, fl, []string{events}, "h")
	var ue *usageError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want a usage error (exit 2)", err)
	}
	if !strings.HasPrefix(errOut.String(), bad+":3:") || !strings.Contains(errOut.String(), `rule "x"`) {
		t.Fatalf("stderr = %q, want FILE:LINE:COL: rule \"x\": ...", errOut.String())
	}
	if out.Len() != 0 {
		t.Fatalf("stdout = %q, want nothing", out.String())
	}
}

func TestReplayFlagErrors(t *testing.T) {
	tests := [][]string{
		{"replay", "events.jsonl"},
		{"replay", "-r", "rules.yaml"},
		{"replay", "-r", "rules.yaml", "--source", "bogus", "events.jsonl"},
		{"replay", "-r", "rules.yaml", "--rule-matching", "some", "events.jsonl"},
		{"replay", "-r", "rules.yaml", "--timezone", "Mars/Base", "events.jsonl"},
		{"replay", "-r", "/nonexistent/rules.yaml", "events.jsonl"},
	}
	for _, args := range tests {
		if code := run(args); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestResolveHostname(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	host := func() (string, error) { return "kernel-name", nil }
	noHost := func() (string, error) { return "", errors.New("no") }
	tests := []struct {
		env  map[string]string
		host func() (string, error)
		want string
	}{
		{map[string]string{"LANNER_HOSTNAME": "l", "FALCO_HOSTNAME": "f"}, host, "l"},
		{map[string]string{"FALCO_HOSTNAME": "f"}, host, "f"},
		{map[string]string{}, host, "kernel-name"},
		{map[string]string{}, noHost, ""},
	}
	for _, tc := range tests {
		if got := resolveHostname(env(tc.env), tc.host); got != tc.want {
			t.Errorf("resolveHostname(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}

const apiRule = `
- rule: Talk to the API server
  desc: connect to the API server by name
  condition: evt.type = connect and fd.sip.name = "kubernetes.default.svc.cluster.local"
  output: "%proc.name connected to %fd.sip.name (%fd.name)"
  priority: NOTICE
`

const connectEvent = `{"type":"connect","time":"2024-06-10T06:13:39.000020000Z","res":0,"params":[{"name":"res","value":"0","raw":0},{"name":"tuple","value":"10.244.1.30:48766->10.96.0.1:443"},{"name":"fd","value":"3","raw":3}],"thread":{"pid":8100,"name":"curl","exe":"curl","exepath":"/usr/bin/curl","uid":0,"user":"root"},"fd":{"num":3,"type":"ipv4","l4proto":"tcp","cip":"10.244.1.30","cport":48766,"sip":"10.96.0.1","sport":443,"connected":true}}`

func TestReplayResolve(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "rules.yaml", apiRule)
	events := writeFile(t, dir, "events.jsonl", connectEvent+"\n")
	tests := []struct {
		name    string
		resolve []string
		alerts  int
	}{
		{"no resolver, no name, no match", nil, 0},
		{"resolved", []string{"kubernetes.default.svc.cluster.local=10.96.0.1"}, 1},
		{"other address", []string{"kubernetes.default.svc.cluster.local=10.96.0.2"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			fl := replayFlags{rules: []string{rules}, source: "syscall", matching: "first", timezone: "UTC", resolve: tc.resolve}
			if err := runReplay(&out, &errOut, fl, []string{events}, "h"); err != nil {
				t.Fatalf("runReplay: %v (stderr %s)", err, errOut.String())
			}
			if n := strings.Count(out.String(), "\n"); n != tc.alerts {
				t.Fatalf("%d alerts, want %d: %s", n, tc.alerts, out.String())
			}
			if tc.alerts == 1 && !strings.Contains(out.String(), `Notice curl connected to kubernetes.default.svc.cluster.local (10.244.1.30:48766->10.96.0.1:443)`) {
				t.Fatalf("unexpected alert %s", out.String())
			}
		})
	}
}

func TestParseResolve(t *testing.T) {
	if _, err := parseResolve([]string{"a=1.2.3.4", "a=::1", "b=10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"noequals", "=1.2.3.4", "a=not-an-ip", "a="} {
		if _, err := parseResolve([]string{bad}); err == nil {
			t.Errorf("parseResolve(%q) succeeded", bad)
		}
	}
}
