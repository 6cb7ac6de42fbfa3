package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/lannersec/lanner/collector/alert"
)

// Defaults of Query.
const (
	DefaultTopRules      = 15
	DefaultTopNamespaces = 15
	DefaultTopWorkloads  = 15
	DefaultTopUsers      = 15
	DefaultAuditLimit    = 200
	// MaxDays bounds the window: the per-day table and chart have one row and bar per day.
	MaxDays = 400
)

// Query says what to report on.
type Query struct {
	// Target is the data stream, index or index pattern of lanner's alerts.
	Target string
	// Since and Until bound the window [Since, Until).
	Since, Until time.Time
	// Title heads the report; "" means "lanner compliance report".
	Title string
	// Top* bound the breakdown tables (0 means the Default*); AuditLimit bounds the audit
	// table (the newest alerts are kept; the total is always counted).
	TopRules, TopNamespaces, TopWorkloads, TopUsers, AuditLimit int
	// Now stamps the report (zero means time.Now()).
	Now time.Time
}

func (q *Query) validate() error {
	var errs []error
	if q.Target == "" {
		errs = append(errs, errors.New("no index or data stream to read"))
	}
	switch {
	case q.Since.IsZero() || q.Until.IsZero():
		errs = append(errs, errors.New("the window needs a start and an end"))
	case !q.Since.Before(q.Until):
		errs = append(errs, fmt.Errorf("the window's start %s is not before its end %s", q.Since.UTC().Format(time.RFC3339), q.Until.UTC().Format(time.RFC3339)))
	case q.Until.Sub(q.Since) > MaxDays*24*time.Hour:
		errs = append(errs, fmt.Errorf("the window spans %.0f days: at most %d", q.Until.Sub(q.Since).Hours()/24, MaxDays))
	}
	for _, n := range []int{q.TopRules, q.TopNamespaces, q.TopWorkloads, q.TopUsers, q.AuditLimit} {
		if n < 0 || n > 10000 {
			errs = append(errs, fmt.Errorf("a table limit of %d: want 0 to 10000", n))
		}
	}
	if q.Title == "" {
		q.Title = "lanner compliance report"
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&q.TopRules, DefaultTopRules)
	def(&q.TopNamespaces, DefaultTopNamespaces)
	def(&q.TopWorkloads, DefaultTopWorkloads)
	def(&q.TopUsers, DefaultTopUsers)
	def(&q.AuditLimit, DefaultAuditLimit)
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	return errors.Join(errs...)
}

// Collect queries Elasticsearch (through tr, an *elasticsearch.Client or any esapi.Transport)
// for the window's numbers and, when v is not nil, asks v to verify the audit trail. A failing
// verifier does not fail the report: its error is shown in the trail section. logger may be nil.
func Collect(ctx context.Context, tr esapi.Transport, q Query, v TrailVerifier, logger *slog.Logger) (*Report, error) {
	if err := q.validate(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if tr == nil {
		return nil, errors.New("report: no Elasticsearch client")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Report{Title: q.Title, Target: q.Target, Since: q.Since.UTC(), Until: q.Until.UTC(), Generated: q.Now.UTC()}
	c := &client{tr: tr, target: q.Target}
	start := time.Now()
	if err := c.overview(ctx, q, r); err != nil {
		return nil, err
	}
	if err := c.workloads(ctx, q, r); err != nil {
		return nil, err
	}
	if err := c.audit(ctx, q, r); err != nil {
		return nil, err
	}
	logger.Info("report data collected", "target", q.Target, "since", r.Since, "until", r.Until,
		"alerts", r.Total, "took", time.Since(start).Round(time.Millisecond))
	if v != nil {
		r.Trail.Verified = true
		res, err := v.VerifyTrail(ctx, r.Since, r.Until)
		if err != nil {
			logger.Warn("audit trail verification failed to run", "err", err)
			r.Trail.Err = err.Error()
		} else {
			r.Trail.Result = res
		}
	}
	return r, nil
}

type client struct {
	tr     esapi.Transport
	target string
}

// search runs one _search on the target and decodes the answer into out.
func (c *client) search(ctx context.Context, what string, body map[string]any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("report: %s: encoding the query: %w", what, err)
	}
	res, err := esapi.SearchRequest{Index: []string{c.target}, Body: bytes.NewReader(b)}.Do(ctx, c.tr)
	if err != nil {
		return fmt.Errorf("report: %s: searching %s: %w", what, c.target, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("report: %s: reading the answer: %w", what, err)
	}
	if res.StatusCode == http.StatusNotFound {
		return fmt.Errorf("report: %s: no index or data stream %q on the cluster (check --data-stream/--index)", what, c.target)
	}
	if res.IsError() {
		return fmt.Errorf("report: %s: searching %s: %s: %s", what, c.target, res.Status(), bytes.TrimSpace(truncate(data, 2048)))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("report: %s: decoding the answer: %w", what, err)
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return append(b[:n:n], "..."...)
	}
	return b
}

// window is the time filter every query starts from.
func window(q Query, more ...map[string]any) map[string]any {
	f := []any{map[string]any{"range": map[string]any{"@timestamp": map[string]any{
		"gte": q.Since.UTC().Format(time.RFC3339Nano), "lt": q.Until.UTC().Format(time.RFC3339Nano),
		"format": "strict_date_optional_time"}}}}
	for _, m := range more {
		f = append(f, m)
	}
	return map[string]any{"bool": map[string]any{"filter": f}}
}

func term(field string, v any) map[string]any {
	return map[string]any{"term": map[string]any{field: v}}
}

// terms is a terms aggregation ordered by count, then key, so that ties read the same in every run.
func terms(field string, size int) map[string]any {
	return map[string]any{"field": field, "size": size, "order": []any{
		map[string]any{"_count": "desc"}, map[string]any{"_key": "asc"}}}
}

var mutatingVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}

type bucket struct {
	Key      json.RawMessage `json:"key"`
	KeyStr   string          `json:"key_as_string"`
	DocCount int64           `json:"doc_count"`
}

func (b bucket) key() string {
	var s string
	if json.Unmarshal(b.Key, &s) == nil {
		return s
	}
	return string(b.Key)
}

func (b bucket) number() float64 {
	var f float64
	json.Unmarshal(b.Key, &f)
	return f
}

type termsAgg struct {
	Other   int64    `json:"sum_other_doc_count"`
	Buckets []bucket `json:"buckets"`
}

type valueAgg struct {
	Value *float64 `json:"value"`
}

type countAgg struct {
	DocCount int64 `json:"doc_count"`
}

// overview fills the totals and the breakdowns by source, priority, rule, namespace and day.
func (c *client) overview(ctx context.Context, q Query, r *Report) error {
	sev := map[string]any{"terms": map[string]any{"field": "event.severity", "size": 16}}
	changes := map[string]any{"filter": map[string]any{"terms": map[string]any{"event.action": mutatingVerbs}}}
	body := map[string]any{
		"size": 0, "track_total_hits": true, "query": window(q),
		"aggs": map[string]any{
			"hosts":      map[string]any{"cardinality": map[string]any{"field": "host.name"}},
			"sources":    map[string]any{"terms": terms("event.provider", 10)},
			"severity":   sev,
			"rule_count": map[string]any{"cardinality": map[string]any{"field": "rule.name"}},
			"rules": map[string]any{"terms": terms("rule.name", q.TopRules), "aggs": map[string]any{
				"highest": map[string]any{"max": map[string]any{"field": "event.severity"}},
				"desc":    map[string]any{"top_hits": map[string]any{"size": 1, "_source": map[string]any{"includes": []string{"rule.description"}}}},
			}},
			"namespaces":   map[string]any{"terms": terms("orchestrator.namespace", q.TopNamespaces)},
			"no_namespace": map[string]any{"missing": map[string]any{"field": "orchestrator.namespace"}},
			"days": map[string]any{"date_histogram": map[string]any{
				"field": "@timestamp", "calendar_interval": "1d", "time_zone": "UTC", "min_doc_count": 0,
				// Every day of the window gets a bucket, also the days without alerts.
				"extended_bounds": map[string]any{"min": q.Since.UnixMilli(), "max": q.Until.UnixMilli() - 1},
			}, "aggs": map[string]any{"severity": sev}},
			"audit": map[string]any{"filter": term("event.provider", "k8s_audit"), "aggs": map[string]any{
				"changes": changes,
				"users":   map[string]any{"terms": terms("user.name", q.TopUsers), "aggs": map[string]any{"changes": changes}},
			}},
		},
	}
	var res struct {
		Hits struct {
			Total struct{ Value int64 } `json:"total"`
		} `json:"hits"`
		Aggs struct {
			Hosts     valueAgg `json:"hosts"`
			Sources   termsAgg `json:"sources"`
			Severity  termsAgg `json:"severity"`
			RuleCount valueAgg `json:"rule_count"`
			Rules     struct {
				Other   int64 `json:"sum_other_doc_count"`
				Buckets []struct {
					bucket
					Highest valueAgg `json:"highest"`
					Desc    struct {
						Hits struct {
							Hits []struct {
								Source struct {
									Rule struct{ Description string } `json:"rule"`
								} `json:"_source"`
							} `json:"hits"`
						} `json:"hits"`
					} `json:"desc"`
				} `json:"buckets"`
			} `json:"rules"`
			Namespaces  termsAgg `json:"namespaces"`
			NoNamespace countAgg `json:"no_namespace"`
			Days        struct {
				Buckets []struct {
					bucket
					Severity termsAgg `json:"severity"`
				} `json:"buckets"`
			} `json:"days"`
			Audit struct {
				DocCount int64    `json:"doc_count"`
				Changes  countAgg `json:"changes"`
				Users    struct {
					Buckets []struct {
						bucket
						Changes countAgg `json:"changes"`
					} `json:"buckets"`
				} `json:"users"`
			} `json:"audit"`
		} `json:"aggregations"`
	}
	if err := c.search(ctx, "totals", body, &res); err != nil {
		return err
	}
	a := &res.Aggs
	r.Total = res.Hits.Total.Value
	if a.Hosts.Value != nil {
		r.Hosts = int64(*a.Hosts.Value)
	}
	for _, b := range a.Sources.Buckets {
		r.BySource = append(r.BySource, Count{Key: b.key(), Count: b.DocCount})
	}
	for _, b := range a.Severity.Buckets {
		r.ByPriority[priorityOfSeverity(b.number())] += b.DocCount
	}
	if a.RuleCount.Value != nil {
		r.RuleCount = int64(*a.RuleCount.Value)
	}
	for _, b := range a.Rules.Buckets {
		rc := RuleCount{Rule: b.key(), Count: b.DocCount, Highest: alert.Debug}
		if b.Highest.Value != nil {
			rc.Highest = priorityOfSeverity(*b.Highest.Value)
		}
		if h := b.Desc.Hits.Hits; len(h) > 0 {
			rc.Description = strings.TrimSpace(h[0].Source.Rule.Description)
		}
		r.ByRule = append(r.ByRule, rc)
	}
	r.OtherRules = a.Rules.Other
	for _, b := range a.Namespaces.Buckets {
		r.ByNamespace = append(r.ByNamespace, Count{Key: b.key(), Count: b.DocCount})
	}
	r.OtherNamespaces = a.Namespaces.Other
	r.NoNamespace = a.NoNamespace.DocCount
	for _, b := range a.Days.Buckets {
		d := Day{Day: time.UnixMilli(int64(b.number())).UTC(), Total: b.DocCount}
		for _, s := range b.Severity.Buckets {
			d.ByPriority[priorityOfSeverity(s.number())] += s.DocCount
		}
		r.Days = append(r.Days, d)
	}
	r.AuditTotal = a.Audit.DocCount
	r.AuditChanges = a.Audit.Changes.DocCount
	for _, b := range a.Audit.Users.Buckets {
		r.AuditByUser = append(r.AuditByUser, AuditUser{User: b.key(), Alerts: b.DocCount, Changes: b.Changes.DocCount})
	}
	return nil
}

// workloadSources are the composite aggregation's keys, in order. Alerts are grouped by
// namespace, controller and pod; images are collected per group.
var workloadSources = []struct{ name, field string }{
	{"ns", "orchestrator.namespace"},
	{"deployment", "kubernetes.deployment.name"},
	{"statefulset", "kubernetes.statefulset.name"},
	{"daemonset", "kubernetes.daemonset.name"},
	{"cronjob", "kubernetes.cronjob.name"},
	{"job", "kubernetes.job.name"},
	{"pod", "orchestrator.resource.name"},
	{"image", "container.image.name"},
}

// maxWorkloadPages bounds the composite paging (1000 keys a page): a window with more
// distinct (namespace, workload, pod, image) combinations is cut, and the report says so.
const maxWorkloadPages = 50

// workloads fills the top workloads of the syscall alerts (audit alerts have no workload).
func (c *client) workloads(ctx context.Context, q Query, r *Report) error {
	var sources []any
	for _, s := range workloadSources {
		sources = append(sources, map[string]any{s.name: map[string]any{"terms": map[string]any{"field": s.field, "missing_bucket": true}}})
	}
	type key struct{ ns, kind, name string }
	groups := map[key]*Workload{}
	var after map[string]any
	for page := 0; ; page++ {
		if page == maxWorkloadPages {
			return fmt.Errorf("report: workloads: more than %d distinct workload keys in the window: narrow it", maxWorkloadPages*1000)
		}
		comp := map[string]any{"size": 1000, "sources": sources}
		if after != nil {
			comp["after"] = after
		}
		body := map[string]any{"size": 0, "query": window(q, term("event.provider", "syscall")),
			"aggs": map[string]any{"w": map[string]any{"composite": comp, "aggs": map[string]any{
				"highest": map[string]any{"max": map[string]any{"field": "event.severity"}}}}}}
		var res struct {
			Aggs struct {
				W struct {
					AfterKey map[string]any `json:"after_key"`
					Buckets  []struct {
						Key      map[string]*string `json:"key"`
						DocCount int64              `json:"doc_count"`
						Highest  valueAgg           `json:"highest"`
					} `json:"buckets"`
				} `json:"w"`
			} `json:"aggregations"`
		}
		if err := c.search(ctx, "workloads", body, &res); err != nil {
			return err
		}
		for _, b := range res.Aggs.W.Buckets {
			get := func(k string) string {
				if v := b.Key[k]; v != nil {
					return *v
				}
				return ""
			}
			k := key{ns: get("ns")}
			switch {
			case get("deployment") != "":
				k.kind, k.name = "Deployment", get("deployment")
			case get("statefulset") != "":
				k.kind, k.name = "StatefulSet", get("statefulset")
			case get("daemonset") != "":
				k.kind, k.name = "DaemonSet", get("daemonset")
			case get("cronjob") != "":
				k.kind, k.name = "CronJob", get("cronjob")
			case get("job") != "":
				k.kind, k.name = "Job", get("job")
			case get("pod") != "":
				k.kind, k.name = "Pod", get("pod")
			}
			w := groups[k]
			if w == nil {
				w = &Workload{Namespace: k.ns, Kind: k.kind, Name: k.name, Highest: alert.Debug}
				groups[k] = w
			}
			w.Count += b.DocCount
			if b.Highest.Value != nil {
				w.Highest = min(w.Highest, priorityOfSeverity(*b.Highest.Value))
			}
			if p := get("pod"); p != "" && !slices.Contains(w.Pods, p) {
				w.Pods = append(w.Pods, p)
			}
			if im := get("image"); im != "" && !slices.Contains(w.Images, im) {
				w.Images = append(w.Images, im)
			}
		}
		if res.Aggs.W.AfterKey == nil || len(res.Aggs.W.Buckets) == 0 {
			break
		}
		after = res.Aggs.W.AfterKey
	}
	all := make([]Workload, 0, len(groups))
	for _, w := range groups {
		slices.Sort(w.Pods)
		slices.Sort(w.Images)
		all = append(all, *w)
	}
	slices.SortFunc(all, func(a, b Workload) int {
		switch {
		case a.Count != b.Count:
			return int(b.Count - a.Count)
		case a.Highest != b.Highest:
			return int(a.Highest - b.Highest)
		case a.Namespace != b.Namespace:
			return strings.Compare(a.Namespace, b.Namespace)
		}
		return strings.Compare(a.Kind+"/"+a.Name, b.Kind+"/"+b.Name)
	})
	r.WorkloadsTotal = len(all)
	r.Workloads = all[:min(len(all), q.TopWorkloads)]
	return nil
}

// audit fills the newest Kubernetes audit alerts of the window.
func (c *client) audit(ctx context.Context, q Query, r *Report) error {
	body := map[string]any{
		"size": q.AuditLimit, "query": window(q, term("event.provider", "k8s_audit")),
		"sort": []any{map[string]any{"@timestamp": "desc"}, map[string]any{"event.id": "asc"}},
		"_source": []string{"@timestamp", "user.name", "event.action", "orchestrator.namespace", "rule.name",
			"event.severity", "url.original", "falco.output_fields"},
	}
	var res struct {
		Hits struct {
			Hits []struct {
				Source auditSource `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := c.search(ctx, "Kubernetes audit alerts", body, &res); err != nil {
		return err
	}
	for _, h := range res.Hits.Hits {
		r.Audit = append(r.Audit, h.Source.change())
	}
	return nil
}

type auditSource struct {
	Timestamp time.Time             `json:"@timestamp"`
	User      struct{ Name string } `json:"user"`
	Event     struct {
		Action   string
		Severity float64
	} `json:"event"`
	Orchestrator struct{ Namespace string } `json:"orchestrator"`
	Rule         struct{ Name string }      `json:"rule"`
	URL          struct {
		Original string
	} `json:"url"`
	Falco struct {
		OutputFields map[string]any `json:"output_fields"`
	} `json:"falco"`
}

// change reads an audit alert's who, what and which from the document. The ECS fields carry
// the user, the verb and the namespace; the resource and the object's name are in the output
// fields when the rule prints them (ka.target.*), and otherwise in the request URI.
func (s auditSource) change() AuditChange {
	f := s.Falco.OutputFields
	str := func(k string) string {
		v, _ := f[k].(string)
		if v == "<NA>" {
			return ""
		}
		return v
	}
	c := AuditChange{Time: s.Timestamp.UTC(), User: s.User.Name, Verb: s.Event.Action, Rule: s.Rule.Name,
		Priority: priorityOfSeverity(s.Event.Severity), Namespace: s.Orchestrator.Namespace}
	if c.User == "" {
		c.User = str("ka.user.name")
	}
	if c.Verb == "" {
		c.Verb = str("ka.verb")
	}
	c.Resource, c.Subresource = str("ka.target.resource"), str("ka.target.subresource")
	c.Name = str("ka.target.name")
	if c.Name == "" {
		c.Name = str("ka.resp.name")
	}
	if c.Namespace == "" {
		c.Namespace = str("ka.target.namespace")
	}
	uri := s.URL.Original
	if uri == "" {
		uri = str("ka.uri")
	}
	if uri != "" {
		ns, res, name, sub := parseURI(uri)
		if c.Namespace == "" {
			c.Namespace = ns
		}
		if c.Resource == "" {
			c.Resource = res
		}
		if c.Name == "" {
			c.Name = name
		}
		if c.Subresource == "" {
			c.Subresource = sub
		}
	}
	return c
}

// parseURI reads a Kubernetes API request path: /api/v1/namespaces/NS/RES/NAME/SUB or
// /apis/GROUP/VERSION/..., with or without the namespace part; the query is ignored.
func parseURI(uri string) (ns, resource, name, sub string) {
	path, _, _ := strings.Cut(uri, "?")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		return "", "", "", ""
	}
	if len(parts) >= 2 && parts[0] == "namespaces" {
		if len(parts) == 2 {
			return "", "namespaces", parts[1], ""
		}
		ns, parts = parts[1], parts[2:]
	}
	at := func(i int) string {
		if i < len(parts) {
			return parts[i]
		}
		return ""
	}
	return ns, at(0), at(1), at(2)
}
