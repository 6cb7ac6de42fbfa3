package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runRules runs the CLI with separate stdout and stderr and returns the exit status run() would.
func runRules(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.Execute()
	var ue *usageError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ue):
		errb.WriteString(ue.msg)
		code = 2
	default:
		errb.WriteString(err.Error())
		code = 1
	}
	return out.String(), errb.String(), code
}

func compatPath(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("LANNER_COMPAT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "compat")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("compat file (set LANNER_COMPAT_DIR to override): %v", err)
	}
	return p
}

func tempRules(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRulesValidateCompat(t *testing.T) {
	falco, k8s := compatPath(t, "falco_rules.yaml"), compatPath(t, "k8s_audit_rules.yaml")
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{falco}, "25 rules, 87 macros, 49 lists loaded\n"},
		{[]string{k8s}, "48 rules, 45 macros, 18 lists loaded\n"},
		{[]string{falco, k8s}, "73 rules, 132 macros, 67 lists loaded\n"},
	} {
		args := []string{"rules", "validate"}
		for _, f := range tc.files {
			args = append(args, "-r", f)
		}
		out, errOut, code := runRules(t, args...)
		if code != 0 || !strings.HasSuffix(out, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.files, code, out, errOut)
		}
		if !strings.Contains(out, "satisfied by lanner's built-in") {
			t.Errorf("%v: plugin requirements not reported: %q", tc.files, out)
		}
	}
}

func TestRulesValidateErrors(t *testing.T) {
	p := tempRules(t, "- rule: r\n  desc: d\n  condition: evt.type = open and proc.nme = x\n  output: o\n  priority: info\n- rule: s\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: urgent\n")
	out, errOut, code := runRules(t, "rules", "validate", "-r", p)
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	want := p + `:10:13: rule "s": Invalid priority "urgent": use one of emergency, alert, critical, error, warning, notice, informational (info), debug`
	if strings.TrimSpace(errOut) != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}

	p = tempRules(t, "- rule: r\n  desc: d\n  condition: evt.type = open and proc.nme = x\n  output: o\n  priority: info\n- macro: m\n  condition: nope\n")
	_, errOut, code = runRules(t, "rules", "validate", "-r", p)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 2 || len(lines) != 2 || lines[0] != p+`:7:14: macro "m": Undefined macro 'nope' used in filter.` ||
		lines[1] != p+`:3:34: rule "r": unknown field "proc.nme" for source syscall` {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}

	if _, errOut, code := runRules(t, "rules", "validate", "-r", filepath.Join(t.TempDir(), "missing.yaml")); code != 2 || !strings.Contains(errOut, "cannot read rules file") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	if _, _, code := runRules(t, "rules", "validate"); code != 2 {
		t.Errorf("no -r: exit %d", code)
	}
}

func TestRulesValidateWarnings(t *testing.T) {
	p := tempRules(t, "- list: unused\n  items: [a]\n- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: info\n  colour: red\n")
	out, errOut, code := runRules(t, "rules", "validate", "-r", p)
	if code != 0 || !strings.HasSuffix(out, "1 rules, 0 macros, 1 lists loaded\n") {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, w := range []string{
		"warning: " + p + `:8:3: rule "r": Unknown key 'colour' ignored (LOAD_UNKNOWN_KEY)`,
		"warning: " + p + `:1:3: list "unused": List not referred to by any other rule/macro (LOAD_UNUSED_LIST)`,
	} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
}

func TestRulesList(t *testing.T) {
	p := tempRules(t, "- list: sh\n  items: [bash, zsh]\n- rule: Shell\n  desc: d\n  condition: evt.type = execve and proc.name in (sh)\n  output: o\n  priority: info\n  tags: [b, a]\n"+
		"- rule: Off\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: CRITICAL\n  enabled: false\n")
	out, _, code := runRules(t, "rules", "list", "-r", p)
	want := "NAME   PRIORITY       SOURCE   ENABLED  TAGS\n" +
		"Shell  Informational  syscall  true     a,b\n" +
		"Off    Critical       syscall  false    -\n"
	if code != 0 || out != want {
		t.Errorf("exit %d, got:\n%s\nwant:\n%s", code, out, want)
	}
	out, _, code = runRules(t, "rules", "list", "-r", p, "--conditions")
	if code != 0 || !strings.Contains(out, "a,b   (evt.type = execve and proc.name in (bash, zsh))\n") || !strings.Contains(out, "  evt.type = open\n") {
		t.Errorf("--conditions: exit %d, got:\n%s", code, out)
	}
	if _, _, code := runRules(t, "rules", "list", "-r", tempRules(t, "- rule: x\n")); code != 2 {
		t.Errorf("bad file: exit %d", code)
	}
}

func TestRulesListCompat(t *testing.T) {
	out, _, code := runRules(t, "rules", "list", "-r", compatPath(t, "falco_rules.yaml"), "--conditions")
	if code != 0 || strings.Count(out, "\n") != 26 || !strings.Contains(out, "Read sensitive file untrusted") {
		t.Errorf("exit %d, %d lines", code, strings.Count(out, "\n"))
	}
}

func TestRulesExplain(t *testing.T) {
	lib := tempRules(t, "- list: shells\n  items: [bash, sh]\n- macro: spawned\n  condition: evt.type in (execve, execveat)\n- macro: shell\n  condition: proc.name in (shells)\n")
	for _, tc := range []struct {
		args        []string
		out, errSub string
		code        int
	}{
		{[]string{"-r", lib, "spawned and shell"}, "(evt.type in (execve, execveat) and proc.name in (bash, sh))\n", "", 0},
		{[]string{"-r", lib, "spawned and not trusted"}, "(evt.type in (execve, execveat) and not trusted)\n", `warning: "trusted" is not a macro`, 0},
		{[]string{"proc.name in (a, b) and not proc.pname = sshd"}, "(proc.name in (a, b) and not proc.pname = sshd)\n", "", 0},
		{[]string{"-r", lib, "spawned and (proc.name = x or"}, "", "condition:1:30: expected blank or '(' after 'or'\n  spawned and (proc.name = x or\n                               ^", 2},
		{[]string{"proc.name = a b"}, "", "condition:1:15: unexpected token after 'a', expecting 'or', 'and'", 2},
	} {
		out, errOut, code := runRules(t, append([]string{"rules", "explain"}, tc.args...)...)
		if code != tc.code || out != tc.out || !strings.Contains(errOut, tc.errSub) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, out, errOut)
		}
	}
	if _, _, code := runRules(t, "rules", "explain"); code != 2 {
		t.Errorf("no condition: exit %d", code)
	}
}

func TestRulesCommandsHaveExamples(t *testing.T) {
	for _, sub := range []string{"validate", "list", "explain"} {
		out, _, code := runRules(t, "rules", sub, "--help")
		if code != 0 || !strings.Contains(out, "Examples:\n  lanner rules "+sub) {
			t.Errorf("%s --help: exit %d, no example:\n%s", sub, code, out)
		}
	}
}
