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
// "k8s":{...},"rule_description":...,"ruleset":...}. The alert is kept exactly as Falco's JSON
// encoding writes it, so a spool file can be read with the same tools as Falco's output.
type wireRecord struct {
	V               int             `json:"v"`
	ID              string          `json:"id"`
	Alert           json.RawMessage `json:"alert"`
	Message         string          `json:"message,omitempty"`
	K8s             *wireK8s        `json:"k8s,omitempty"`
	RuleDescription string          `json:"rule_description,omitempty"`
	Ruleset         string          `json:"ruleset,omitempty"`
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
}

// MarshalBinary returns the spooled form of r.
func (r *Record) MarshalBinary() ([]byte, error) {
	if r == nil || r.Alert == nil {
		return nil, errors.New("record: no alert")
	}
	if r.ID == "" {
		return nil, errors.New("record: no id (build records with NewRecord)")
	}
	w := wireRecord{V: recordVersion, ID: r.ID, Alert: r.Alert.AppendJSON(nil),
		Message: r.Alert.Message, RuleDescription: r.RuleDescription, Ruleset: r.Ruleset}
	if k := r.Alert.K8s; k != nil {
		w.K8s = &wireK8s{Namespace: k.Namespace, PodName: k.PodName, PodUID: k.PodUID,
			NodeName: k.NodeName, ContainerName: k.ContainerName, OwnerKind: k.OwnerKind,
			OwnerName: k.OwnerName, Labels: k.Labels, Annotations: k.Annotations}
	}
	return json.Marshal(&w)
}

// wireRecordIn is wireRecord for reading: the alert is decoded in the same pass.
type wireRecordIn struct {
	V               int       `json:"v"`
	ID              string    `json:"id"`
	Alert           falcoJSON `json:"alert"`
	Message         string    `json:"message"`
	K8s             *wireK8s  `json:"k8s"`
	RuleDescription string    `json:"rule_description"`
	Ruleset         string    `json:"ruleset"`
}

// UnmarshalRecord reads the spooled form written by MarshalBinary.
func UnmarshalRecord(data []byte) (*Record, error) {
	var w wireRecordIn
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if w.V != recordVersion {
		return nil, fmt.Errorf("record: unknown version %d (want %d)", w.V, recordVersion)
	}
	if w.ID == "" {
		return nil, errors.New("record: no id")
	}
	a, err := w.Alert.alert()
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", w.ID, err)
	}
	a.Message = w.Message
	if k := w.K8s; k != nil {
		a.K8s = &alert.K8sMeta{Namespace: k.Namespace, PodName: k.PodName, PodUID: k.PodUID,
			NodeName: k.NodeName, ContainerName: k.ContainerName, OwnerKind: k.OwnerKind,
			OwnerName: k.OwnerName, Labels: k.Labels, Annotations: k.Annotations}
	}
	return &Record{ID: w.ID, Alert: a, RuleDescription: w.RuleDescription, Ruleset: w.Ruleset}, nil
}

type falcoJSON struct {
	Hostname     string         `json:"hostname"`
	Output       string         `json:"output"`
	OutputFields map[string]any `json:"output_fields"`
	Priority     string         `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         []string       `json:"tags"`
	Time         string         `json:"time"`
}

// ParseFalcoJSON reads one Falco JSON alert (as Falco, `lanner replay` and Alert.AppendJSON
// write it) back into an Alert. output_fields numbers become int64, uint64 or float64 as the
// engine produces them. Message is recovered from Output when Output has Falco's
// "<time>: <Priority> " prefix.
func ParseFalcoJSON(data []byte) (*alert.Alert, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var f falcoJSON
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("falco alert: %w", err)
	}
	a, err := f.alert()
	if err != nil {
		return nil, err
	}
	a.Message = messageOf(f.Output, a.Priority)
	return a, nil
}

// alert converts a decoded Falco JSON alert (numbers as json.Number).
func (f *falcoJSON) alert() (*alert.Alert, error) {
	if f.Rule == "" {
		return nil, errors.New("falco alert: no rule")
	}
	t, err := time.Parse(time.RFC3339Nano, f.Time)
	if err != nil {
		return nil, fmt.Errorf("falco alert: time: %w", err)
	}
	p, err := alert.ParsePriority(f.Priority)
	if err != nil {
		return nil, fmt.Errorf("falco alert: %w", err)
	}
	src, ok := event.ParseSource(f.Source)
	if !ok {
		src = event.SourceUnknown
	}
	for k, v := range f.OutputFields {
		f.OutputFields[k] = fromJSONNumber(v)
	}
	return &alert.Alert{Time: t, Rule: f.Rule, Priority: p, Source: src, Tags: f.Tags,
		Output: f.Output, OutputFields: f.OutputFields, Hostname: f.Hostname}, nil
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
