package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestRulesFieldsText(t *testing.T) {
	out, err := runCmd(t, "rules", "fields", "--source", "syscall")
	if err != nil {
		t.Fatal(err)
	}
	r := fields.NewRegistry()
	for _, f := range r.Fields(event.SourceSyscall) {
		if !strings.Contains(out, "\n"+usage(f)) {
			t.Errorf("field %s missing from the listing", f.Name)
		}
	}
	for _, want := range []string{"Field Class:    proc\n", "Event Sources:  syscall\n", "Flags: suggested output field"} {
		if !strings.Contains(out, want) {
			t.Errorf("listing lacks %q", want)
		}
	}
	if strings.Contains(out, "ka.user.name") {
		t.Errorf("--source syscall listed a k8s_audit field")
	}
}

func TestRulesFieldsMarkdown(t *testing.T) {
	out, err := runCmd(t, "rules", "fields", "--markdown")
	if err != nil {
		t.Fatal(err)
	}
	r := fields.NewRegistry()
	for _, src := range event.Sources() {
		if !strings.Contains(out, "\n## Source `"+src.String()+"`\n") {
			t.Errorf("no section for source %s", src)
		}
		for _, f := range r.Fields(src) {
			row := "| `" + mdCell(usage(f)) + "` | " + f.Type.String() + " | "
			if !strings.Contains(out, row) {
				t.Errorf("no table row for %s %s", src, f.Name)
			}
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "| `") && strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") != 4 {
			t.Errorf("table row with a stray pipe: %s", line)
		}
	}
}

func TestRulesFieldsUsage(t *testing.T) {
	tests := []struct {
		f    fields.Field
		want string
	}{
		{fields.Field{Name: "proc.name"}, "proc.name"},
		{fields.Field{Name: "proc.aname", Flags: fields.ArgAllowed | fields.ArgIndex}, "proc.aname[N]"},
		{fields.Field{Name: "evt.arg", Flags: fields.ArgRequired | fields.ArgIndex | fields.ArgKey}, "evt.arg[KEY|N]"},
		{fields.Field{Name: "proc.env", Flags: fields.ArgAllowed | fields.ArgKey}, "proc.env[KEY]"},
		{fields.Field{Name: "jevt.value", Flags: fields.ArgRequired}, "jevt.value[ARG]"},
	}
	for _, tc := range tests {
		if got := usage(&tc.f); got != tc.want {
			t.Errorf("usage(%s) = %q, want %q", tc.f.Name, got, tc.want)
		}
	}
}

func TestRulesFieldsBadSource(t *testing.T) {
	if code := run([]string{"rules", "fields", "--source", "bogus"}); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}
