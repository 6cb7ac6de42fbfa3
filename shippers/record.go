package shippers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
)

// Record is one alert on its way to a destination, with what a destination document needs
// beyond Falco's JSON alert. It is what a spool stores, so it survives a restart unchanged.
type Record struct {
	// ID identifies the alert in every destination. It is derived from the alert itself
	// (NewRecord), so a record sent twice -- after a retry or a crash -- carries the same id,
	// and a destination that creates documents by id stores it once.
	ID    string
	Alert *alert.Alert
	// RuleDescription and Ruleset (the rules file that defined the rule) describe the rule in
	// ECS documents (rule.description, rule.ruleset); empty when unknown.
	RuleDescription string
	Ruleset         string
	// Chain is the alert's place in its node's tamper-evident audit trail (shippers/chain); nil
	// when the collector keeps no trail. Destinations that can carry it (Elasticsearch:
	// lanner.chain.*, Fluentd: lanner_chain) write it unchanged.
	Chain *ChainLink
	// ECSDocument is the alert's Elasticsearch document when it has already been built in this
	// process (the audit-trail chainer builds it to hash it), so that the Elasticsearch output
	// does not build it twice. It is a cache: not spooled, and nil means "build it".
	ECSDocument []byte
}

// ChainLink is one alert's link in a node's hash chain: the chain's epoch (a random id drawn when
// the chain's state was created, so a node whose state was wiped starts a new, separate chain),
// its sequence number in that epoch (1, 2, ...), the hash of the alert before it ("" for the
// first) and its own hash, which covers the alert, Seq, Prev and Epoch.
type ChainLink struct {
	Epoch string
	Seq   uint64
	Prev  string
	Hash  string
}

// NewRecord wraps a and fixes its id: a hash of hostname, source, rule, event time
// (nanoseconds) and output text. Two alerts with the same id describe the same rule matching the
// same-looking event at the same nanosecond on the same host, so storing one of them loses
// nothing a reader could tell apart.
func NewRecord(a *alert.Alert, ruleDescription, ruleset string) *Record {
	return &Record{ID: AlertID(a), Alert: a, RuleDescription: ruleDescription, Ruleset: ruleset}
}

// AlertID returns the deterministic id of a: 27 characters of unpadded base64url (160 bits of
// SHA-256), short enough for an Elasticsearch _id and long enough never to collide by chance.
func AlertID(a *alert.Alert) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(a.Hostname)
	field(a.Source.String())
	field(a.Rule)
	binary.BigEndian.PutUint64(n[:], uint64(a.Time.UnixNano()))
	h.Write(n[:])
	field(a.Output)
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:20])
}

// recordVersion is the version of the spooled form; a reader refuses forms it does not know
// instead of guessing.
const recordVersion = 1

// The spooled form is JSON: {"v":1,"id":...,"alert":<Falco JSON alert>,"message":...,
// "rule_description":...,"ruleset":...,"action":...,"audit":{...},"k8s":{...},"k8s_lookup":...,
// "chain":{...}}. The alert is
// kept exactly as Falco's JSON encoding writes it, so a spool file can be read with the same
// tools as Falco's output.

type wireAudit struct {
	User        string `json:"user,omitempty"`
	Resource    string `json:"resource,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	APIGroup    string `json:"api_group,omitempty"`
	APIVersion  string `json:"api_version,omitempty"`
	SourceIP    string `json:"source_ip,omitempty"`
}

type wireK8s struct {
	Namespace     string            `json:"namespace,omitempty"`
	PodName       string            `json:"pod_name,omitempty"`
	PodUID        string            `json:"pod_uid,omitempty"`
	NodeName      string            `json:"node_name,omitempty"`
	ContainerName string            `json:"container_name,omitempty"`
	OwnerKind     string            `json:"owner_kind,omitempty"`
	OwnerName     string            `json:"owner_name,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`

	PodIP           string            `json:"pod_ip,omitempty"`
	ContainerID     string            `json:"container_id,omitempty"`
	Image           string            `json:"image,omitempty"`
	ImageID         string            `json:"image_id,omitempty"`
	ReplicaSet      string            `json:"replicaset,omitempty"`
	Deployment      string            `json:"deployment,omitempty"`
	StatefulSet     string            `json:"statefulset,omitempty"`
	DaemonSet       string            `json:"daemonset,omitempty"`
	Job             string            `json:"job,omitempty"`
	CronJob         string            `json:"cronjob,omitempty"`
	NamespaceLabels map[string]string `json:"namespace_labels,omitempty"`
}

// parseK8sLookup reads K8sLookup.String() back. An outcome this build does not know (a spool
// written by a newer one) reads as no lookup rather than failing the whole record.
func parseK8sLookup(s string) alert.K8sLookup {
	for _, l := range []alert.K8sLookup{alert.K8sFound, alert.K8sFoundDeleted, alert.K8sUnknownContainer, alert.K8sCacheNotSynced} {
		if l.String() == s {
			return l
		}
	}
	return alert.K8sNotLooked
}

// MarshalBinary returns the spooled form of r. It is written by hand, not with encoding/json,
// because it runs once per alert per output on the collector's hot path; TestRecordRoundTrip
// and FuzzRecord check it against encoding/json's reading of it.
func (r *Record) MarshalBinary() ([]byte, error) {
	if r == nil || r.Alert == nil {
		return nil, errors.New("record: no alert")
	}
	if r.ID == "" {
		return nil, errors.New("record: no id (build records with NewRecord)")
	}
	b := make([]byte, 0, 1024)
	b = append(b, `{"v":1,"id":`...)
	b = AppendJSONString(b, r.ID)
	b = append(b, `,"alert":`...)
	b = r.Alert.AppendJSON(b)
	if r.Alert.Message != "" {
		b = append(b, `,"message":`...)
		b = AppendJSONString(b, r.Alert.Message)
	}
	if r.RuleDescription != "" {
		b = append(b, `,"rule_description":`...)
		b = AppendJSONString(b, r.RuleDescription)
	}
	if r.Ruleset != "" {
		b = append(b, `,"ruleset":`...)
		b = AppendJSONString(b, r.Ruleset)
	}
	if k := r.Alert.K8s; k != nil {
		kb, err := json.Marshal(&wireK8s{Namespace: k.Namespace, PodName: k.PodName, PodUID: k.PodUID,
			NodeName: k.NodeName, ContainerName: k.ContainerName, OwnerKind: k.OwnerKind,
			OwnerName: k.OwnerName, Labels: k.Labels, Annotations: k.Annotations,
			PodIP: k.PodIP, ContainerID: k.ContainerID, Image: k.Image, ImageID: k.ImageID,
			ReplicaSet: k.ReplicaSet, Deployment: k.Deployment, StatefulSet: k.StatefulSet,
			DaemonSet: k.DaemonSet, Job: k.Job, CronJob: k.CronJob, NamespaceLabels: k.NamespaceLabels})
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		b = append(b, `,"k8s":`...)
		b = append(b, kb...)
	}
	if t := r.Alert.Audit; t != nil {
		ab, err := json.Marshal((*wireAudit)(t))
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		b = append(b, `,"audit":`...)
		b = append(b, ab...)
	}
	if r.Alert.Action != "" {
		b = append(b, `,"action":`...)
		b = AppendJSONString(b, r.Alert.Action)
	}
	if l := r.Alert.K8sLookup; l != alert.K8sNotLooked {
		b = append(b, `,"k8s_lookup":`...)
		b = AppendJSONString(b, l.String())
	}
	if c := r.Chain; c != nil {
		b = append(b, `,"chain":{"epoch":`...)
		b = AppendJSONString(b, c.Epoch)
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, c.Seq, 10)
		b = append(b, `,"prev":`...)
		b = AppendJSONString(b, c.Prev)
		b = append(b, `,"hash":`...)
		b = AppendJSONString(b, c.Hash)
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// AppendJSONString appends s as a JSON string (encoding/json's escaping, minus its HTML
// escapes, which JSON does not need; invalid UTF-8 becomes U+FFFD). The spool record and the
// Elasticsearch documents share it so both escape a value the same way.
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	// Most strings need no escape at all: find the first byte that might, copy the rest at once.
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonPlain says which bytes AppendJSONString copies as they are: printable ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// UnmarshalRecord reads the spooled form written by MarshalBinary.
func UnmarshalRecord(data []byte) (*Record, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	w, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("record: not an object")
	}
	if ver, _ := w["v"].(int64); ver != recordVersion {
		return nil, fmt.Errorf("record: unknown version %v (want %d)", w["v"], recordVersion)
	}
	id, _ := w["id"].(string)
	if id == "" {
		return nil, errors.New("record: no id")
	}
	am, ok := w["alert"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("record %s: no alert", id)
	}
	a, err := alertFromMap(am)
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", id, err)
	}
	a.Message, _ = w["message"].(string)
	// Records spooled before "action" existed read with no action; destinations then fall back
	// to what the output fields say.
	a.Action, _ = w["action"].(string)
	if k, ok := w["k8s"].(map[string]any); ok {
		s := func(key string) string { v, _ := k[key].(string); return v }
		m := func(key string) map[string]string {
			src, _ := k[key].(map[string]any)
			if len(src) == 0 {
				return nil
			}
			out := make(map[string]string, len(src))
			for kk, vv := range src {
				out[kk], _ = vv.(string)
			}
			return out
		}
		a.K8s = &alert.K8sMeta{Namespace: s("namespace"), PodName: s("pod_name"), PodUID: s("pod_uid"),
			NodeName: s("node_name"), ContainerName: s("container_name"), OwnerKind: s("owner_kind"),
			OwnerName: s("owner_name"), Labels: m("labels"), Annotations: m("annotations"),
			PodIP: s("pod_ip"), ContainerID: s("container_id"), Image: s("image"), ImageID: s("image_id"),
			ReplicaSet: s("replicaset"), Deployment: s("deployment"), StatefulSet: s("statefulset"),
			DaemonSet: s("daemonset"), Job: s("job"), CronJob: s("cronjob"), NamespaceLabels: m("namespace_labels")}
	}
	if m, ok := w["audit"].(map[string]any); ok {
		s := func(key string) string { v, _ := m[key].(string); return v }
		a.Audit = &alert.AuditTarget{User: s("user"), Resource: s("resource"), Subresource: s("subresource"),
			Namespace: s("namespace"), Name: s("name"), APIGroup: s("api_group"), APIVersion: s("api_version"),
			SourceIP: s("source_ip")}
	}
	if l, ok := w["k8s_lookup"].(string); ok {
		a.K8sLookup = parseK8sLookup(l)
	}
	r := &Record{ID: id, Alert: a}
	if c, ok := w["chain"].(map[string]any); ok {
		l := &ChainLink{}
		l.Epoch, _ = c["epoch"].(string)
		l.Prev, _ = c["prev"].(string)
		l.Hash, _ = c["hash"].(string)
		switch n := c["seq"].(type) {
		case int64:
			if n < 0 {
				return nil, fmt.Errorf("record %s: chain seq %d", id, n)
			}
			l.Seq = uint64(n)
		case uint64:
			l.Seq = n
		default:
			return nil, fmt.Errorf("record %s: chain seq %v", id, c["seq"])
		}
		r.Chain = l
	}
	r.RuleDescription, _ = w["rule_description"].(string)
	r.Ruleset, _ = w["ruleset"].(string)
	return r, nil
}

// ParseFalcoJSON reads one Falco JSON alert (as Falco, `lanner replay` and Alert.AppendJSON
// write it) back into an Alert. output_fields numbers become int64, uint64 or float64 as the
// engine produces them. Message is recovered from Output when Output has Falco's
// "<time>: <Priority> " prefix.
func ParseFalcoJSON(data []byte) (*alert.Alert, error) {
	v, err := parseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("falco alert: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("falco alert: not an object")
	}
	a, err := alertFromMap(m)
	if err != nil {
		return nil, err
	}
	a.Message = messageOf(a.Output, a.Priority)
	return a, nil
}

// alertFromMap builds an Alert from a parsed Falco JSON alert.
func alertFromMap(m map[string]any) (*alert.Alert, error) {
	str := func(k string) string { v, _ := m[k].(string); return v }
	rule := str("rule")
	if rule == "" {
		return nil, errors.New("falco alert: no rule")
	}
	t, err := time.Parse(time.RFC3339Nano, str("time"))
	if err != nil {
		return nil, fmt.Errorf("falco alert: time: %w", err)
	}
	p, err := alert.ParsePriority(str("priority"))
	if err != nil {
		return nil, fmt.Errorf("falco alert: %w", err)
	}
	src, ok := event.ParseSource(str("source"))
	if !ok {
		src = event.SourceUnknown
	}
	var tags []string
	if l, ok := m["tags"].([]any); ok {
		tags = make([]string, 0, len(l))
		for _, t := range l {
			if s, ok := t.(string); ok {
				tags = append(tags, s)
			}
		}
	}
	of, _ := m["output_fields"].(map[string]any)
	return &alert.Alert{Time: t, Rule: rule, Priority: p, Source: src, Tags: tags,
		Output: str("output"), OutputFields: of, Hostname: str("hostname")}, nil
}

// messageOf strips Falco's "<time>: <Priority> " prefix from an output line.
func messageOf(output string, p alert.Priority) string {
	marker := ": " + p.String() + " "
	if i := bytes.Index([]byte(output), []byte(marker)); i >= 0 {
		return output[i+len(marker):]
	}
	return output
}

func fromJSONNumber(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(v), 10, 64); err == nil {
			return u
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f
		}
		return string(v)
	case []any:
		for i := range v {
			v[i] = fromJSONNumber(v[i])
		}
		return v
	default:
		return v
	}
}
