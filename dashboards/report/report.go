package report

import (
	"context"
	"time"

	"github.com/lannersec/lanner/collector/alert"
)

// TrailVerifier checks the tamper-evident hash chain of the alerts shipped in a window
// (lanner.chain.seq, .prev and .hash). The report only renders its verdict; the caller wires an
// implementation (`lanner audit verify`'s). VerifyTrail is called once per report and may take
// as long as reading the window's documents takes; it must honour ctx.
type TrailVerifier interface {
	VerifyTrail(ctx context.Context, since, until time.Time) (TrailResult, error)
}

// TrailResult is a verifier's verdict.
type TrailResult struct {
	// Nodes is how many nodes' chains were checked (each node chains its own alerts).
	Nodes int
	// Checked is how many documents were checked.
	Checked int
	// Intact is true when no chain has a gap, a reordering or a modified document.
	Intact bool
	// Problems says what is wrong, one line each, naming nodes and sequence numbers.
	Problems []string
}

// Trail is what the report says about the audit trail.
type Trail struct {
	// Verified is false when no verifier was given (the report says "not verified").
	Verified bool
	// Err is set when the verifier failed to run (not when it found the chain broken).
	Err    string
	Result TrailResult
}

// Count is one bucket of a breakdown.
type Count struct {
	Key   string
	Count int64
}

// RuleCount is one rule's alerts.
type RuleCount struct {
	Rule        string
	Description string
	// Highest is the most severe priority the rule's alerts had (a rule's priority can be
	// overridden between versions, so it is read from the alerts).
	Highest alert.Priority
	Count   int64
}

// Day is one UTC day's alerts.
type Day struct {
	Day        time.Time
	Total      int64
	ByPriority [8]int64 // indexed by alert.Priority
}

// Workload is a group of alerts from one workload's containers.
type Workload struct {
	Namespace string
	// Kind and Name: the controller (Deployment, StatefulSet, DaemonSet, CronJob, Job) or, for
	// a pod without one, "Pod" and the pod's name. Both are "" for alerts from containers that
	// were not resolved to a pod (and from the host).
	Kind, Name string
	Pods       []string
	Images     []string
	Count      int64
	Highest    alert.Priority
}

// AuditChange is one Kubernetes audit alert: who did what to which object, and which rule saw it.
type AuditChange struct {
	Time        time.Time
	User        string
	Verb        string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
	Rule        string
	Priority    alert.Priority
}

// AuditUser is one user's Kubernetes audit alerts.
type AuditUser struct {
	User            string
	Alerts, Changes int64
}

// Report is everything the report shows. Collect fills it; the writers only render it.
type Report struct {
	Title string
	// Target is the data stream, index or pattern queried.
	Target string
	// Since and Until bound the window: [Since, Until).
	Since, Until time.Time
	Generated    time.Time

	Total int64
	// Hosts is how many distinct hosts (nodes) raised alerts (an approximate count above 3000).
	Hosts int64
	// BySource splits the total between syscall and k8s_audit alerts.
	BySource []Count
	// ByPriority is indexed by alert.Priority.
	ByPriority [8]int64

	ByRule     []RuleCount
	OtherRules int64 // alerts of rules beyond ByRule
	RuleCount  int64 // distinct rules

	ByNamespace     []Count
	OtherNamespaces int64 // alerts of namespaces beyond ByNamespace
	NoNamespace     int64 // alerts without a namespace (host processes, cluster-scoped audit events)

	Days []Day

	Workloads      []Workload
	WorkloadsTotal int // how many workloads there were before the cut to the top ones

	// AuditByUser counts the audit alerts of each user (the most active first).
	AuditByUser []AuditUser
	Audit       []AuditChange
	AuditTotal  int64 // all k8s_audit alerts of the window (Audit holds the newest ones)
	// AuditChanges counts the audit alerts of mutating verbs (create, update, patch, delete).
	AuditChanges int64

	Trail Trail
}

// Priorities are the eight priorities, most severe first.
func Priorities() []alert.Priority {
	return []alert.Priority{alert.Emergency, alert.PriorityAlert, alert.Critical, alert.Error,
		alert.Warning, alert.Notice, alert.Informational, alert.Debug}
}

// priorityOfSeverity maps ECS event.severity back to the priority (the shipper writes
// severity = 7 - priority).
func priorityOfSeverity(sev float64) alert.Priority {
	p := alert.Priority(7 - int(sev))
	if !p.Valid() {
		return alert.Debug
	}
	return p
}

// AtLeastWarning is the number of alerts of priority Warning or more severe.
func (r *Report) AtLeastWarning() int64 {
	var n int64
	for p := alert.Emergency; p <= alert.Warning; p++ {
		n += r.ByPriority[p]
	}
	return n
}

// mutating reports whether an audit verb changes the cluster.
func mutating(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}
