package engine

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

var (
	regOnce sync.Once
	testReg *fields.Registry
)

// registry returns the real field registry, shared by the tests (it is read-only once built).
func registry() *fields.Registry {
	regOnce.Do(func() { testReg = fields.NewRegistry() })
	return testReg
}

// files names the contents a.yaml, b.yaml, c.yaml... in order.
func files(contents ...string) []File {
	out := make([]File, len(contents))
	for i, c := range contents {
		out[i] = File{Name: fmt.Sprintf("%c.yaml", 'a'+i), Data: []byte(c)}
	}
	return out
}

func load(contents ...string) (*Ruleset, *Result) {
	return Load(files(contents...), Options{Registry: registry()})
}

func loadMode(mode RuleMatching, contents ...string) (*Ruleset, *Result) {
	return Load(files(contents...), Options{Registry: registry(), RuleMatching: mode})
}

// rule writes a rule item; extra lines (already indented by two spaces) are appended.
func rule(name, cond string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- rule: %s\n  desc: d\n  condition: >-\n    %s\n  output: \"o %%proc.name\"\n  priority: WARNING\n", name, cond)
	for _, e := range extra {
		b.WriteString("  " + e + "\n")
	}
	return b.String()
}

func list(name string, items ...string) string {
	return fmt.Sprintf("- list: %s\n  items: [%s]\n", name, strings.Join(items, ", "))
}

func macro(name, cond string) string {
	return fmt.Sprintf("- macro: %s\n  condition: >-\n    %s\n", name, cond)
}

// sys makes a syscall event of type typ by process proc (with parent pproc when not empty).
func sys(typ, proc string) *event.Event {
	t, ok := event.TypeByName(typ)
	if !ok {
		panic("unknown event type " + typ)
	}
	th := &event.Thread{Tid: 42, Pid: 42, Name: proc, Container: &event.Container{ID: event.HostContainerID}}
	return &event.Event{Source: event.SourceSyscall, Type: t, Num: 1, Time: 1, Sys: &event.Syscall{Thread: th}}
}

// audit makes a k8s_audit event with the given verb and resource.
func audit(verb, resource string) *event.Event {
	doc := map[string]any{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a1", "stage": "ResponseComplete", "verb": verb,
		"user":      map[string]any{"username": "alice"},
		"objectRef": map[string]any{"resource": resource, "namespace": "default", "name": "x"},
	}
	return &event.Event{Source: event.SourceK8sAudit, Type: event.AuditEventType, Num: 1, Time: 1, Audit: &event.Audit{Doc: doc}}
}

func names(rs []*Rule) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return strings.Join(out, ",")
}

func diagStrings(ds []Diag) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// matched returns the names of the rules that fire for e, in firing order.
func matched(rs *Ruleset, e *event.Event) string {
	var got []string
	rs.Process(e, func(r *Rule, _ *event.Event) { got = append(got, r.Name) })
	return strings.Join(got, ",")
}

func canon(r *Rule) string { return filter.String(r.AST) }

func fatalDiags(t *testing.T, res *Result) {
	t.Helper()
	for _, d := range res.Errors {
		t.Errorf("unexpected error: %s", d)
	}
	if !res.OK() {
		t.FailNow()
	}
}

// krule writes a k8s_audit rule.
func krule(name, cond string) string {
	return "- rule: " + name + "\n  desc: d\n  condition: " + cond + "\n  output: \"v=%ka.verb\"\n  priority: NOTICE\n  source: k8s_audit\n"
}
