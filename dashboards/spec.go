package dashboards

// The saved objects, as Go values. Ids are fixed and readable: Kibana's import overwrites an
// object with the same id, so a new lanner release replaces its own dashboards in place, and
// users' copies (saved under new ids) are never touched.

// DataViewID is the id of the data view every other object refers to.
const DataViewID = "lanner-alerts"

// Provider values of event.provider: the source of the alert.
const (
	providerSyscall  = "syscall"
	providerK8sAudit = "k8s_audit"
)

// Chart is how a visualization draws its aggregation.
type Chart int

const (
	// TimeSeries counts alerts per @timestamp interval, stacked by the first Terms field.
	TimeSeries Chart = iota
	// Bar counts alerts per value of the one Terms field, as horizontal bars.
	Bar
	// Table counts alerts per combination of the Terms fields, one column each.
	Table
)

// Terms is one bucketed field of a visualization: its top Size values by alert count.
type Terms struct {
	Field string
	Label string
	Size  int
	// Missing adds a bucket for the alerts without the field (Lens's "(missing value)"), so
	// that a table keeps rows whose first column is empty: pods not run by a Deployment.
	Missing bool
}

// missingLabel is the key Lens shows for the Missing bucket.
const missingLabel = "(missing value)"

// Filter restricts an object to documents whose Field equals Value (a KQL `field : "value"`
// query in Kibana, a term query in Elasticsearch).
type Filter struct {
	Field, Value string
}

// Visualization is one Lens visualization.
type Visualization struct {
	ID, Title, Description string
	Chart                  Chart
	Terms                  []Terms
	Filter                 *Filter
}

// SavedSearch is a Discover session: the alert table with these columns, newest first.
type SavedSearch struct {
	ID, Title, Description string
	Columns                []string
	Filter                 *Filter
}

// Panel places an object (a visualization or a saved search, by id) on a dashboard's
// 48-column grid.
type Panel struct {
	Ref        string
	X, Y, W, H int
}

// Dashboard is a dashboard of panels; Filter is its query bar.
type Dashboard struct {
	ID, Title, Description string
	Filter                 *Filter
	Panels                 []Panel
}

// Set is a complete, self-contained set of saved objects around one data view.
type Set struct {
	DataViewName   string
	Visualizations []Visualization
	Searches       []SavedSearch
	Dashboards     []Dashboard
}

// Lanner returns lanner's saved objects.
func Lanner() Set {
	syscall := &Filter{Field: "event.provider", Value: providerSyscall}
	audit := &Filter{Field: "event.provider", Value: providerK8sAudit}
	return Set{
		DataViewName: "lanner alerts",
		Visualizations: []Visualization{
			{ID: "lanner-alerts-over-time", Title: "Alerts over time by priority",
				Description: "Alerts per interval, stacked by Falco priority (Emergency to Debug).",
				Chart:       TimeSeries, Terms: []Terms{{Field: "falco.priority", Label: "Priority", Size: 8}}},
			{ID: "lanner-top-rules", Title: "Top rules",
				Description: "The rules that fired most.",
				Chart:       Bar, Terms: []Terms{{Field: "rule.name", Label: "Rule", Size: 10}}},
			{ID: "lanner-top-namespaces", Title: "Top namespaces",
				Description: "Namespaces of the pods that raised the most runtime alerts.",
				Chart:       Bar, Terms: []Terms{{Field: "kubernetes.namespace", Label: "Namespace", Size: 10}}, Filter: syscall},
			{ID: "lanner-top-workloads", Title: "Top pods and deployments",
				Description: "Runtime alerts per deployment and pod.",
				Chart:       Table, Filter: syscall, Terms: []Terms{
					{Field: "kubernetes.deployment.name", Label: "Deployment", Size: 10, Missing: true},
					{Field: "kubernetes.pod.name", Label: "Pod", Size: 10}}},
			{ID: "lanner-top-images", Title: "Top container images",
				Description: "Images of the containers that raised the most runtime alerts.",
				Chart:       Bar, Terms: []Terms{{Field: "container.image.name", Label: "Image", Size: 10}}, Filter: syscall},
			{ID: "lanner-top-users", Title: "Top users (processes)",
				Description: "User names of the processes behind runtime alerts.",
				Chart:       Bar, Terms: []Terms{{Field: "user.name", Label: "User", Size: 10}}, Filter: syscall},
			{ID: "lanner-mitre-tactics", Title: "MITRE ATT&CK tactics",
				Description: "Alerts per ATT&CK tactic, from the rules' mitre_* tags.",
				Chart:       Bar, Terms: []Terms{{Field: "threat.tactic.name", Label: "Tactic", Size: 14}}},
			{ID: "lanner-audit-over-time", Title: "Kubernetes audit alerts over time by verb",
				Description: "Audit alerts per interval, stacked by API verb.",
				Chart:       TimeSeries, Terms: []Terms{{Field: "event.action", Label: "Verb", Size: 10}}, Filter: audit},
			{ID: "lanner-audit-users", Title: "Kubernetes audit alerts by user",
				Description: "API users whose requests raised the most alerts.",
				Chart:       Bar, Terms: []Terms{{Field: "user.name", Label: "User", Size: 10}}, Filter: audit},
			{ID: "lanner-audit-verbs", Title: "Kubernetes audit alerts by verb",
				Chart: Bar, Terms: []Terms{{Field: "event.action", Label: "Verb", Size: 10}}, Filter: audit},
			{ID: "lanner-audit-resources", Title: "Kubernetes audit alerts by resource",
				Description: "API resources acted on (resource/subresource of the audit event's objectRef).",
				Chart:       Bar, Terms: []Terms{{Field: "orchestrator.resource.type", Label: "Resource", Size: 10}}, Filter: audit},
			{ID: "lanner-audit-activity", Title: "Kubernetes audit activity by user, verb and resource",
				Chart: Table, Filter: audit, Terms: []Terms{
					{Field: "user.name", Label: "User", Size: 10},
					{Field: "event.action", Label: "Verb", Size: 10},
					{Field: "orchestrator.resource.type", Label: "Resource", Size: 10}}},
		},
		Searches: []SavedSearch{
			{ID: "lanner-alert-table", Title: "lanner alerts",
				Description: "Every alert, newest first.",
				Columns: []string{"falco.priority", "rule.name", "kubernetes.namespace", "kubernetes.pod.name",
					"container.image.name", "user.name", "process.command_line", "message"}},
			{ID: "lanner-audit-table", Title: "lanner Kubernetes audit alerts",
				Description: "Alerts from the API server's audit events, newest first.",
				Columns: []string{"falco.priority", "rule.name", "user.name", "event.action",
					"orchestrator.resource.type", "orchestrator.namespace", "message"},
				Filter: audit},
		},
		Dashboards: []Dashboard{
			{ID: "lanner-runtime-security-overview", Title: "Runtime security overview",
				Description: "lanner's alerts: when, which rules, where (namespace, workload, image), who, and the ATT&CK tactics.",
				Panels: []Panel{
					{Ref: "lanner-alerts-over-time", X: 0, Y: 0, W: 48, H: 12},
					{Ref: "lanner-top-rules", X: 0, Y: 12, W: 24, H: 14},
					{Ref: "lanner-mitre-tactics", X: 24, Y: 12, W: 24, H: 14},
					{Ref: "lanner-top-namespaces", X: 0, Y: 26, W: 16, H: 14},
					{Ref: "lanner-top-images", X: 16, Y: 26, W: 16, H: 14},
					{Ref: "lanner-top-users", X: 32, Y: 26, W: 16, H: 14},
					{Ref: "lanner-top-workloads", X: 0, Y: 40, W: 48, H: 14},
					{Ref: "lanner-alert-table", X: 0, Y: 54, W: 48, H: 20},
				}},
			{ID: "lanner-kubernetes-audit", Title: "Kubernetes audit",
				Description: "Alerts raised by Kubernetes API server audit events: who did what to which resource.",
				Filter:      audit,
				Panels: []Panel{
					{Ref: "lanner-audit-over-time", X: 0, Y: 0, W: 48, H: 12},
					{Ref: "lanner-audit-users", X: 0, Y: 12, W: 16, H: 14},
					{Ref: "lanner-audit-verbs", X: 16, Y: 12, W: 16, H: 14},
					{Ref: "lanner-audit-resources", X: 32, Y: 12, W: 16, H: 14},
					{Ref: "lanner-audit-activity", X: 0, Y: 26, W: 48, H: 16},
					{Ref: "lanner-audit-table", X: 0, Y: 42, W: 48, H: 20},
				}},
		},
	}
}

// Fields returns the fields v aggregates on or filters by.
func (v Visualization) Fields() []string {
	var out []string
	if v.Chart == TimeSeries {
		out = append(out, timeField)
	}
	for _, t := range v.Terms {
		out = append(out, t.Field)
	}
	if v.Filter != nil {
		out = append(out, v.Filter.Field)
	}
	return out
}

// timeField is the data view's time field, the documents' @timestamp.
const timeField = "@timestamp"

// SearchBody returns the Elasticsearch search Kibana's Lens sends for v, in its simplest form:
// the filter as a term query and, as aggregations, a date_histogram on @timestamp for a time
// series, then one terms aggregation per Terms field, each nested in the one before, ordered by
// count. Tests run it against a real node; a report can run it too.
func (v Visualization) SearchBody() map[string]any {
	body := map[string]any{"size": 0, "track_total_hits": true}
	if v.Filter != nil {
		body["query"] = map[string]any{"bool": map[string]any{"filter": []any{v.Filter.termQuery()}}}
	}
	var aggs []map[string]any
	if v.Chart == TimeSeries {
		aggs = append(aggs, map[string]any{"date_histogram": map[string]any{
			"field": timeField, "fixed_interval": "1h", "min_doc_count": 1}})
	}
	for _, t := range v.Terms {
		terms := map[string]any{"field": t.Field, "size": t.Size}
		if t.Missing {
			terms["missing"] = missingLabel
		}
		aggs = append(aggs, map[string]any{"terms": terms})
	}
	// Nest from the innermost out: "a" holds "b" holds "c".
	var inner map[string]any
	for i := len(aggs) - 1; i >= 0; i-- {
		if inner != nil {
			aggs[i]["aggs"] = map[string]any{AggName(i + 1): inner}
		}
		inner = aggs[i]
	}
	if inner != nil {
		body["aggs"] = map[string]any{AggName(0): inner}
	}
	return body
}

// AggName is the name SearchBody gives the aggregation at nesting depth i (0 outermost).
func AggName(i int) string { return "level" + string(rune('0'+i)) }

func (f *Filter) termQuery() map[string]any {
	return map[string]any{"term": map[string]any{f.Field: f.Value}}
}

// kql is f as a KQL query for Kibana's query bar.
func (f *Filter) kql() string {
	if f == nil {
		return ""
	}
	return f.Field + ` : "` + f.Value + `"`
}
