package alert

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// Alert is what a matched rule produces. The first fields are those of Falco's JSON alert;
// K8s carries enrichment that shippers add to their own document formats (the Falco JSON form
// leaves it out, so that consumers of Falco's output read lanner's unchanged).
type Alert struct {
	// Time is the event time.
	Time     time.Time
	Rule     string
	Priority Priority
	Source   event.Source
	// Tags are the rule's tags, sorted and without duplicates (Falco keeps them in a std::set).
	Tags []string
	// Output is the full text line Falco prints: "<evt.time>: <Priority> <message>".
	Output string
	// Message is the rule's output alone (Falco's json_include_message_property).
	Message string
	// OutputFields has one entry per %token of the message and prefix, keyed by the token as
	// written; values are string, int64, uint64, float64, bool, []any, or nil when missing.
	OutputFields map[string]any
	Hostname     string
	// Action is what the event did, whatever the rule's output prints: the syscall or event name
	// for syscall alerts (evt.type), the verb for Kubernetes audit alerts. Destinations that
	// classify alerts (ECS event.category/type/action) read it; Falco's JSON alert leaves it out.
	Action string
	// Audit is what a Kubernetes audit event acted on and who acted, whatever the rule's output
	// prints (nil for other sources): destinations index it (ECS orchestrator.resource.*,
	// user.name, source.ip) so that audit activity can be grouped by user, verb and resource.
	Audit *AuditTarget
	// K8s is the Kubernetes context of the event, when an enricher found one.
	K8s *K8sMeta
	// K8sLookup says whether an enricher looked the event's container up and what it found, so
	// that an alert from a container the pod cache does not know still ships, marked as such
	// (K8s is nil then). The zero value means no lookup was made (host events, audit events,
	// replay without a cache).
	K8sLookup K8sLookup
}

// K8sLookup is the outcome of an enricher's lookup of an alert's container.
type K8sLookup uint8

// Lookup outcomes. Shippers write String() (ECS: lanner.k8s.lookup).
const (
	K8sNotLooked K8sLookup = iota
	// K8sFound: the container belongs to a live pod of the cache.
	K8sFound
	// K8sFoundDeleted: the container belonged to a pod deleted (or a container replaced) within
	// the cache's grace period; the metadata is the pod's last known state.
	K8sFoundDeleted
	// K8sUnknownContainer: the cache has no pod for the container id (not a Kubernetes
	// container, a pod of another node, or an event that came before the pod's status).
	K8sUnknownContainer
	// K8sCacheNotSynced: the cache had not finished its initial list, so the miss says nothing.
	K8sCacheNotSynced
)

var k8sLookupNames = [...]string{"", "found", "found_deleted_pod", "unknown_container", "cache_not_synced"}

// String returns the outcome's name ("" for K8sNotLooked).
func (l K8sLookup) String() string {
	if int(l) < len(k8sLookupNames) {
		return k8sLookupNames[l]
	}
	return fmt.Sprintf("k8s_lookup(%d)", uint8(l))
}

// K8sMeta is the Kubernetes context an enricher attaches to an alert: where the workload runs
// and what owns it. Shippers map it to their document formats (ECS orchestrator.* and
// kubernetes.* for Elasticsearch).
type K8sMeta struct {
	Namespace string
	PodName   string
	PodUID    string
	NodeName  string
	// ContainerName is the container's name in the pod spec.
	ContainerName string
	// OwnerKind and OwnerName name the controller at the top of the owner chain (Deployment,
	// DaemonSet, StatefulSet, Job, CronJob...).
	OwnerKind, OwnerName string
	Labels               map[string]string
	Annotations          map[string]string

	// Fields below were added with the enrich package; all are optional.

	PodIP string
	// ContainerID is the full id (64 hex) of the container the event came from.
	ContainerID string
	// Image is the container's image as the runtime reports it in the pod status (the spec's
	// image while the status has none); ImageID is the resolved reference (repo@sha256:...).
	Image, ImageID string
	// Each owner of the chain, as far as it could be resolved (Deployment through ReplicaSet,
	// CronJob through Job).
	ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob string
	NamespaceLabels                                              map[string]string
}

// AuditTarget is the actor and object of a Kubernetes audit event (its user and objectRef).
type AuditTarget struct {
	User        string // user.username
	Resource    string // objectRef.resource (pods, clusterrolebindings...)
	Subresource string // objectRef.subresource (exec, log...)
	Namespace   string
	Name        string
	APIGroup    string
	APIVersion  string
	SourceIP    string // the first of sourceIPs
}

// auditTargetOf reads the AuditTarget of an audit event (nil when it has none of it).
func auditTargetOf(e *event.Event) *AuditTarget {
	if e.Source != event.SourceK8sAudit || e.Audit == nil {
		return nil
	}
	d := e.Audit.Doc
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }
	t := &AuditTarget{}
	if u, ok := d["user"].(map[string]any); ok {
		t.User = str(u, "username")
	}
	if o, ok := d["objectRef"].(map[string]any); ok {
		t.Resource, t.Subresource = str(o, "resource"), str(o, "subresource")
		t.Namespace, t.Name = str(o, "namespace"), str(o, "name")
		t.APIGroup, t.APIVersion = str(o, "apiGroup"), str(o, "apiVersion")
	}
	if ips, ok := d["sourceIPs"].([]any); ok && len(ips) > 0 {
		t.SourceIP, _ = ips[0].(string)
	}
	if *t == (AuditTarget{}) {
		return nil
	}
	return t
}

// Builder turns a matched rule and its event into an Alert: it adds Falco's "%evt.time:
// <Priority> " prefix and the suggested output fields that Falco's default configuration
// (append_output: suggested_output: true) appends to every rule of a source. A Builder is
// built once and is safe for concurrent use.
type Builder struct {
	hostname string
	prefix   [event.NumSources]*Formatter
	suffix   [event.NumSources]*Formatter
}

// BuilderOption changes how a Builder renders alerts.
type BuilderOption func(*builderConfig)

type builderConfig struct {
	noSuggested bool
	iso8601     bool
}

// WithoutSuggestedFields leaves out the suggested fields, like falco.yaml without
// `suggested_output: true`.
func WithoutSuggestedFields() BuilderOption {
	return func(c *builderConfig) { c.noSuggested = true }
}

// WithISO8601Time prefixes outputs with %evt.time.iso8601 instead of %evt.time, like
// falco.yaml's time_format_iso_8601: true.
func WithISO8601Time() BuilderOption {
	return func(c *builderConfig) { c.iso8601 = true }
}

// NewBuilder compiles the prefix and suggested-field formats for every source the registry
// knows. hostname is written into every alert (the caller resolves it: lanner uses
// LANNER_HOSTNAME, then FALCO_HOSTNAME, then the kernel's host name).
func NewBuilder(r *fields.Registry, hostname string, opts ...BuilderOption) (*Builder, error) {
	if r == nil {
		return nil, errors.New("alert builder: no field registry")
	}
	var cfg builderConfig
	for _, o := range opts {
		o(&cfg)
	}
	b := &Builder{hostname: hostname}
	timeField := "evt.time"
	if cfg.iso8601 {
		timeField = "evt.time.iso8601"
	}
	for _, src := range event.Sources() {
		all := r.Fields(src)
		if len(all) == 0 {
			continue
		}
		p, err := NewFormatter("*%"+timeField, src, r)
		if err != nil {
			return nil, fmt.Errorf("alert builder: %s prefix: %w", src, err)
		}
		b.prefix[src] = p
		if cfg.noSuggested {
			continue
		}
		if sfx := suggestedFormat(r.Suggested(src)); sfx != "" {
			s, err := NewFormatter(sfx, src, r)
			if err != nil {
				return nil, fmt.Errorf("alert builder: %s suggested fields: %w", src, err)
			}
			b.suffix[src] = s
		}
	}
	return b, nil
}

// suggestedFormat returns " a_b=%a.b c_d=%c.d..." for the suggested fields, in the registry's
// order (Falco's: container.id, container.name, container.image.repository,
// container.image.tag, k8s.pod.name, k8s.ns.name), each named with its dots made underscores as
// Falco's format_suggested_field does.
func suggestedFormat(sug []*fields.Field) string {
	var sb strings.Builder
	for _, f := range sug {
		sb.WriteByte(' ')
		sb.WriteString(strings.ReplaceAll(f.Name, ".", "_"))
		sb.WriteString("=%")
		sb.WriteString(f.Name)
	}
	return sb.String()
}

// SuggestedFormat returns the text the builder appends to every rule output of src (empty when
// none), so that `lanner rules list` can show a rule's effective output.
func (b *Builder) SuggestedFormat(src event.Source) string {
	if int(src) >= event.NumSources || b.suffix[src] == nil {
		return ""
	}
	return b.suffix[src].String()
}

// Build makes the alert for a rule that matched e. msg is the rule's compiled output; tags are
// copied, sorted and deduplicated.
//
// Output and Message hold the text as formatted, unescaped: the JSON encoding escapes it once, so
// a consumer of the JSON alert reads the command line exactly as it ran. Text-line outputs use
// TextLine, which escapes control characters so that a value cannot forge a log line.
func (b *Builder) Build(e *event.Event, rule string, prio Priority, tags []string, msg *Formatter) *Alert {
	src := e.Source
	a := &Alert{
		Time:     time.Unix(0, e.Time),
		Rule:     rule,
		Priority: prio,
		Source:   src,
		Tags:     normalizeTags(tags),
		Hostname: b.hostname,
		Action:   actionOf(e),
		Audit:    auditTargetOf(e),
	}
	n := 1
	if msg != nil {
		n += len(msg.keys)
	}
	var pre, sfx *Formatter
	if int(src) < event.NumSources {
		pre, sfx = b.prefix[src], b.suffix[src]
	}
	if sfx != nil {
		n += len(sfx.keys)
	}
	a.OutputFields = make(map[string]any, n)

	var buf [1024]byte
	line := buf[:0]
	if pre != nil {
		line = pre.appendRaw(line, e)
		pre.AddFields(a.OutputFields, e)
	} else {
		// A source without fields (no evt.time) still gets a readable prefix.
		line = strconv.AppendInt(line, e.Time, 10)
	}
	line = append(line, ": "...)
	line = append(line, prio.String()...)
	line = append(line, ' ')
	msgStart := len(line)
	if msg != nil {
		line = msg.appendRaw(line, e)
		msg.AddFields(a.OutputFields, e)
	}
	if sfx != nil {
		line = sfx.appendRaw(line, e)
		sfx.AddFields(a.OutputFields, e)
	}
	a.Output = string(line)
	a.Message = a.Output[msgStart:]
	return a
}

// actionOf returns Alert.Action for e: the evt.type name of a syscall event, the verb of an
// audit event ("" when the event has none).
func actionOf(e *event.Event) string {
	switch e.Source {
	case event.SourceSyscall:
		return event.TypeName(e.Type)
	case event.SourceK8sAudit:
		if e.Audit != nil {
			if v, ok := e.Audit.Doc["verb"].(string); ok {
				return v
			}
		}
	}
	return ""
}

// TextLine returns Output escaped like a JSON string without its quotes, as Falco prints its text
// output: a newline or terminal escape inside a field value cannot start a new log line.
func (a *Alert) TextLine() string { return string(appendEscaped(nil, a.Output)) }

func normalizeTags(tags []string) []string {
	out := make([]string, len(tags))
	copy(out, tags)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedUnique(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// AppendJSON appends the alert as Falco's JSON alert (json_output: true with the default
// json_include_* settings): keys sorted, time in UTC with nanoseconds, priority long name.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"hostname":`...)
	dst = appendJSONString(dst, a.Hostname)
	dst = append(dst, `,"output":`...)
	dst = appendJSONString(dst, a.Output)
	dst = append(dst, `,"output_fields":`...)
	dst = appendJSONObject(dst, a.OutputFields)
	dst = append(dst, `,"priority":`...)
	dst = appendJSONString(dst, a.Priority.String())
	dst = append(dst, `,"rule":`...)
	dst = appendJSONString(dst, a.Rule)
	dst = append(dst, `,"source":`...)
	dst = appendJSONString(dst, a.Source.String())
	dst = append(dst, `,"tags":`...)
	tags := a.Tags
	if !sortedUnique(tags) {
		tags = normalizeTags(tags)
	}
	dst = appendJSONValue(dst, tags)
	dst = append(dst, `,"time":"`...)
	dst = AppendTime(dst, a.Time)
	return append(dst, `"}`...)
}

// MarshalJSON returns Falco's JSON alert.
func (a *Alert) MarshalJSON() ([]byte, error) {
	return a.AppendJSON(make([]byte, 0, 1024)), nil
}

// AppendTime appends t as Falco writes an alert time: UTC, "2006-01-02T15:04:05" and always
// nine fractional digits, then "Z".
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	dst = append(dst, '.')
	ns := t.Nanosecond()
	var digits [9]byte
	for i := 8; i >= 0; i-- {
		digits[i] = byte('0' + ns%10)
		ns /= 10
	}
	dst = append(dst, digits[:]...)
	return append(dst, 'Z')
}
