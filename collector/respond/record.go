package respond

import (
	"fmt"
	"strings"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/respond/playbook"
)

// Output fields of an action record. fieldAction also marks an alert as a record, so that the
// responder never acts on records (its own or another responder's).
const (
	fieldPlaybook  = "lanner.response.playbook"
	fieldAction    = "lanner.response.action"
	fieldResult    = "lanner.response.result"
	fieldDetail    = "lanner.response.detail"
	fieldObject    = "lanner.response.object"
	fieldDryRun    = "lanner.response.dry_run"
	fieldResponder = "lanner.response.responder"
	fieldRule      = "lanner.trigger.rule"
	fieldPriority  = "lanner.trigger.priority"
	fieldTime      = "lanner.trigger.time"
	fieldHost      = "lanner.trigger.hostname"
	fieldID        = "lanner.trigger.id"
)

// RecordTag is in the tags of every action record, so that outputs can route or filter records
// (filter.tags / exclude_tags).
const RecordTag = "lanner_response"

// RecordRule is the rule name of the records of action kind in playbook pb.
func RecordRule(pb string, kind playbook.Kind) string { return "Response: " + pb + "/" + string(kind) }

// record builds the action record of o: an alert of its own, shipped like any other, which says
// what acted (the responder and its playbook), on what, why (the triggering alert, by rule, host,
// time and id) and with what result. It carries the priority of the alert that caused it, so
// output filters treat it as they treat that alert.
func (r *Responder) record(ar *alertRun, pb *playbook.Playbook, o Outcome) *alert.Alert {
	now := r.now()
	trig := ar.a
	msg := fmt.Sprintf("Response %s %s: %s (playbook=%s object=%s trigger_rule=%q trigger_host=%s trigger_time=%s responder=%s dry_run=%t)",
		o.Action, o.Result, o.Detail, pb.Name, orNA(o.Object), trig.Rule, orNA(trig.Hostname),
		alert.AppendTime(nil, trig.Time), r.hostname, o.DryRun)
	var line strings.Builder
	line.Write(alert.AppendTime(nil, now))
	line.WriteString(": " + trig.Priority.String() + " ")
	prefix := line.Len()
	line.WriteString(msg)
	out := line.String()
	f := map[string]any{
		fieldPlaybook: pb.Name, fieldAction: string(o.Action), fieldResult: string(o.Result), fieldDetail: o.Detail,
		fieldObject: o.Object, fieldDryRun: o.DryRun, fieldResponder: r.hostname,
		fieldRule: trig.Rule, fieldPriority: trig.Priority.String(), fieldTime: string(alert.AppendTime(nil, trig.Time)),
		fieldHost: trig.Hostname, fieldID: ar.id,
		"k8s.ns.name": nilIfEmpty(ar.t.Namespace), "k8s.pod.name": nilIfEmpty(ar.t.Pod),
	}
	rec := &alert.Alert{Time: now, Rule: RecordRule(pb.Name, o.Action), Priority: trig.Priority,
		// No event source fits a record (event.Source names rule sources); consumers tell
		// records by their tag and lanner.response.* fields.
		Source: event.SourceUnknown,
		Tags:   []string{RecordTag, string(o.Action), string(o.Result)}, Output: out, Message: out[prefix:],
		OutputFields: f, Hostname: r.hostname, Action: string(o.Action)}
	if ar.t.Namespace != "" {
		k := &alert.K8sMeta{Namespace: ar.t.Namespace, PodName: ar.t.Pod}
		if ar.pod != nil {
			k.PodUID, k.NodeName, k.Labels = string(ar.pod.UID), ar.pod.Spec.NodeName, ar.pod.Labels
		}
		rec.K8s = k
	}
	return rec
}

func orNA(s string) string {
	if s == "" {
		return "<NA>"
	}
	return s
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
