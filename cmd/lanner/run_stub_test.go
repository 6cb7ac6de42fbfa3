//go:build !(linux && lannerbpf)

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// A binary built without eBPF says so in one message, with what to do, and exits 1.
func TestRunWithoutBPFSaysWhatToDo(t *testing.T) {
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"run", "-r", "../../rules/lanner_rules.yaml", "--http.enabled=false"})
	err := root.Execute()
	if err == nil {
		t.Fatal("run succeeded without eBPF")
	}
	var ue *usageError
	if errors.As(err, &ue) {
		t.Fatalf("a missing capability is a runtime error (exit 1), not a usage error: %v", err)
	}
	for _, want := range []string{"cannot start live capture", "built without eBPF support", "make build", "--capture.enabled=false"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if out.Len() != 0 {
		t.Errorf("stdout: %q", out.String())
	}
}
