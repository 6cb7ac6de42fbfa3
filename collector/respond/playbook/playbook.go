package playbook

import (
	"regexp"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lannersec/lanner/collector/alert"
)

// Kind names an action.
type Kind string

// The actions a playbook may run.
const (
	// DeletePod deletes the alert's pod (its controller, if any, starts a fresh one).
	DeletePod Kind = "delete_pod"
	// LabelPod sets labels on the alert's pod.
	LabelPod Kind = "label_pod"
	// IsolatePod puts the quarantine label on the pod and makes sure a deny-all NetworkPolicy
	// selecting that label exists in its namespace.
	IsolatePod Kind = "isolate_pod"
	// CordonNode marks the pod's node unschedulable.
	CordonNode Kind = "cordon_node"
	// TaintNode adds a taint to the pod's node.
	TaintNode Kind = "taint_node"
	// ScaleToZero scales the pod's owning Deployment (through its ReplicaSet), StatefulSet or
	// bare ReplicaSet to zero replicas.
	ScaleToZero Kind = "scale_to_zero"
	// Notify posts a Slack-compatible message to an incoming webhook.
	Notify Kind = "notify"
)

// Kinds returns every action kind, in documentation order.
func Kinds() []Kind {
	return []Kind{DeletePod, LabelPod, IsolatePod, CordonNode, TaintNode, ScaleToZero, Notify}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds(), k) }

// Cluster reports whether the action calls the Kubernetes API (every action but notify), so that
// protected namespaces and dry runs apply to it.
func (k Kind) Cluster() bool { return k.Valid() && k != Notify }

// Playbook is one named response: when an alert matches, its actions run in order.
type Playbook struct {
	Name        string
	Description string
	Line        int // line of the playbook's first key, for messages
	Match       Match
	// DryRun makes every action of this playbook record what it would do without doing it.
	DryRun bool
	// RateLimit overrides the responder's default for each action of this playbook; nil keeps it.
	RateLimit *RateLimit
	Actions   []Action
}

// RateLimit is a token bucket: Burst actions at once, then one more every Every.
type RateLimit struct {
	Burst int
	// Every is the refill period of one token; 0 never refills (Burst actions in all).
	Every time.Duration
}

// Action is one step of a playbook with its parameters (only those of its Kind are set).
type Action struct {
	Kind Kind
	Line int
	// IgnoreErrors lets the playbook go on to its next action when this one fails; by default a
	// failure stops the playbook, since later actions often build on earlier ones.
	IgnoreErrors bool

	// GracePeriod (delete_pod) overrides the pod's terminationGracePeriodSeconds; nil keeps it.
	GracePeriod *time.Duration
	// Labels (label_pod) are set on the pod.
	Labels map[string]string
	// Taint (taint_node) is added to the node.
	Taint corev1.Taint
	// Webhook (notify) names an entry of the responder's notify_webhooks.
	Webhook string
}

// Match says which alerts a playbook acts on. Every criterion that is set must hold.
type Match struct {
	// Rules are rule names; with RuleRegex, an alert matches when its rule is one of Rules or
	// RuleRegex matches it. Both empty: any rule.
	Rules     []string
	RuleRegex *regexp.Regexp
	// MinPriority applies when HasPriority: the alert is at least this severe.
	MinPriority alert.Priority
	HasPriority bool
	// Tags must all be among the alert's tags.
	Tags []string
	// Namespaces, when set, must hold the alert's namespace; ExcludeNamespaces must not.
	Namespaces        []string
	ExcludeNamespaces []string
	// PodLabels, when set, must match the labels of the alert's pod as the cluster has them
	// now (the responder reads the pod).
	PodLabels labels.Selector
}

// Alert reports whether a and its namespace (the pod's, "" when the alert names none) satisfy
// every criterion but PodLabels.
func (m *Match) Alert(a *alert.Alert, namespace string) bool {
	// The cheap criteria first: a regular expression runs only for alerts that pass the rest.
	if m.HasPriority && !a.Priority.AtLeast(m.MinPriority) {
		return false
	}
	if len(m.Namespaces) > 0 && !slices.Contains(m.Namespaces, namespace) {
		return false
	}
	if namespace != "" && slices.Contains(m.ExcludeNamespaces, namespace) {
		return false
	}
	for _, t := range m.Tags {
		if !slices.Contains(a.Tags, t) {
			return false
		}
	}
	if len(m.Rules) > 0 || m.RuleRegex != nil {
		return slices.Contains(m.Rules, a.Rule) || (m.RuleRegex != nil && m.RuleRegex.MatchString(a.Rule))
	}
	return true
}

// NeedsPod reports whether matching needs the pod's current labels.
func (m *Match) NeedsPod() bool { return m.PodLabels != nil }

// Pod reports whether a pod with podLabels satisfies PodLabels (true when it is not set).
func (m *Match) Pod(podLabels map[string]string) bool {
	return m.PodLabels == nil || m.PodLabels.Matches(labels.Set(podLabels))
}
