//go:build integration

package report

// The report against the real local Elasticsearch node, filled with replayed alerts by
// dashboardstest.Seed. Every number of the report is compared with a plain _count written
// here, on other fields where the index has them (falco.priority for the priority, which the
// report reads from event.severity), and with the alerts that were shipped.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/dashboards/dashboardstest"
	"github.com/lannersec/lanner/shippers/elasticsearch"
)

// esCount runs _count on target with the window and the extra filters (JSON clauses).
func esCount(t *testing.T, s *dashboardstest.Seeded, since, until time.Time, filters ...string) int64 {
	t.Helper()
	f := append([]string{fmt.Sprintf(`{"range":{"@timestamp":{"gte":%q,"lt":%q}}}`,
		since.UTC().Format(time.RFC3339Nano), until.UTC().Format(time.RFC3339Nano))}, filters...)
	var c struct{ Count int64 }
	if _, err := dashboardstest.Do(s.URL, "POST", "/"+s.Target+"/_count", `{"query":{"bool":{"filter":[`+strings.Join(f, ",")+`]}}}`, &c); err != nil {
		t.Fatal(err)
	}
	return c.Count
}

func termJSON(field, v string) string {
	b, _ := json.Marshal(map[string]any{"term": map[string]any{field: v}})
	return string(b)
}

// verifierFunc adapts a function to TrailVerifier.
type verifierFunc func(ctx context.Context, since, until time.Time) (TrailResult, error)

func (f verifierFunc) VerifyTrail(ctx context.Context, since, until time.Time) (TrailResult, error) {
	return f(ctx, since, until)
}

func TestIntegrationReportMatchesDirectQueries(t *testing.T) {
	keep := os.Getenv("LANNER_REPORT_KEEP") != ""
	s := dashboardstest.Seed(t, dashboardstest.Options{Keep: keep})
	if keep {
		t.Logf("kept %s for inspection", s.Target)
	}
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var askedSince, askedUntil time.Time
	verifier := verifierFunc(func(_ context.Context, since, until time.Time) (TrailResult, error) {
		askedSince, askedUntil = since, until
		return TrailResult{Nodes: 1, Checked: 7, Intact: true}, nil
	})
	// Limits above the data, so that every bucket is in the report and can be compared.
	q := Query{Target: s.Target, Since: s.Since, Until: s.Until, TopRules: 1000, TopNamespaces: 1000, TopWorkloads: 1000, TopUsers: 1000, AuditLimit: 10000}
	r, err := Collect(ctx, client, q, verifier, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Totals.
	if want := esCount(t, s, s.Since, s.Until); r.Total != want || r.Total != int64(len(s.Records)) {
		t.Errorf("total %d, _count %d, shipped %d", r.Total, want, len(s.Records))
	}
	if r.Hosts != 1 {
		t.Errorf("%d hosts, want 1 (lanner-seed)", r.Hosts)
	}
	for _, src := range []string{"syscall", "k8s_audit"} {
		want := esCount(t, s, s.Since, s.Until, termJSON("event.provider", src))
		i := slices.IndexFunc(r.BySource, func(c Count) bool { return c.Key == src })
		if i < 0 || r.BySource[i].Count != want || want == 0 {
			t.Errorf("source %s: report %v, _count %d", src, r.BySource, want)
		}
	}

	// By priority: the report reads event.severity; the check counts falco.priority.
	var sum int64
	for _, p := range Priorities() {
		want := esCount(t, s, s.Since, s.Until, termJSON("falco.priority", p.String()))
		if r.ByPriority[p] != want {
			t.Errorf("priority %s: report %d, _count %d", p, r.ByPriority[p], want)
		}
		sum += want
	}
	if sum != r.Total {
		t.Errorf("priorities add up to %d of %d", sum, r.Total)
	}

	// By rule: every rule shipped, with its _count and the count of shipped records.
	shipped := map[string]int64{}
	highest := map[string]alert.Priority{}
	for _, rec := range s.Records {
		shipped[rec.Alert.Rule]++
		if h, ok := highest[rec.Alert.Rule]; !ok || rec.Alert.Priority < h {
			highest[rec.Alert.Rule] = rec.Alert.Priority
		}
	}
	if len(r.ByRule) != len(shipped) || r.RuleCount != int64(len(shipped)) || r.OtherRules != 0 {
		t.Errorf("%d rules in the report (%d counted, %d other alerts), %d shipped", len(r.ByRule), r.RuleCount, r.OtherRules, len(shipped))
	}
	for i, rc := range r.ByRule {
		want := esCount(t, s, s.Since, s.Until, termJSON("rule.name", rc.Rule))
		if rc.Count != want || rc.Count != shipped[rc.Rule] {
			t.Errorf("rule %q: report %d, _count %d, shipped %d", rc.Rule, rc.Count, want, shipped[rc.Rule])
		}
		if rc.Highest != highest[rc.Rule] {
			t.Errorf("rule %q: highest priority %s, shipped %s", rc.Rule, rc.Highest, highest[rc.Rule])
		}
		if i > 0 && rc.Count > r.ByRule[i-1].Count {
			t.Errorf("rules not in decreasing order of count at %d", i)
		}
	}
	if r.ByRule[0].Description == "" {
		t.Errorf("rule %q has no description", r.ByRule[0].Rule)
	}

	// By namespace, and the alerts without one.
	if len(r.ByNamespace) < 3 {
		t.Errorf("namespaces %v: the seed spreads alerts over at least 3", r.ByNamespace)
	}
	sum = 0
	for _, c := range r.ByNamespace {
		want := esCount(t, s, s.Since, s.Until, termJSON("orchestrator.namespace", c.Key))
		if c.Count != want {
			t.Errorf("namespace %s: report %d, _count %d", c.Key, c.Count, want)
		}
		sum += c.Count
	}
	none := esCount(t, s, s.Since, s.Until, `{"bool":{"must_not":{"exists":{"field":"orchestrator.namespace"}}}}`)
	if r.NoNamespace != none || none == 0 {
		t.Errorf("alerts without a namespace: report %d, _count %d", r.NoNamespace, none)
	}
	if sum+r.NoNamespace+r.OtherNamespaces != r.Total {
		t.Errorf("namespaces add up to %d+%d+%d of %d", sum, r.NoNamespace, r.OtherNamespaces, r.Total)
	}

	// By day: one bucket per UTC day of the window, each compared per priority.
	if len(r.Days) != 3 {
		t.Fatalf("%d days, want 3", len(r.Days))
	}
	for i, d := range r.Days {
		from := s.Since.AddDate(0, 0, i)
		if !d.Day.Equal(from) {
			t.Errorf("day %d is %s, want %s", i, d.Day, from)
		}
		if want := esCount(t, s, from, from.AddDate(0, 0, 1)); d.Total != want || want == 0 {
			t.Errorf("day %s: report %d, _count %d", from.Format(time.DateOnly), d.Total, want)
		}
		for _, p := range Priorities() {
			if want := esCount(t, s, from, from.AddDate(0, 0, 1), termJSON("falco.priority", p.String())); d.ByPriority[p] != want {
				t.Errorf("day %s priority %s: report %d, _count %d", from.Format(time.DateOnly), p, d.ByPriority[p], want)
			}
		}
	}

	// Workloads: each named one against a _count on its controller field, and its highest
	// priority against the shipped records.
	kindField := map[string]string{"Deployment": "kubernetes.deployment.name", "DaemonSet": "kubernetes.daemonset.name"}
	found := map[string]bool{}
	var wsum int64
	for _, w := range r.Workloads {
		wsum += w.Count
		if w.Name == "" {
			continue
		}
		found[w.Namespace+"/"+w.Name] = true
		want := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "syscall"), termJSON("orchestrator.namespace", w.Namespace), termJSON(kindField[w.Kind], w.Name))
		var recs int64
		top := alert.Debug
		for _, rec := range s.Records {
			if k := rec.Alert.K8s; k != nil && k.Namespace == w.Namespace && (k.Deployment == w.Name || k.DaemonSet == w.Name) {
				recs++
				top = min(top, rec.Alert.Priority)
			}
		}
		if w.Count != want || w.Count != recs {
			t.Errorf("workload %s %s/%s: report %d, _count %d, shipped %d", w.Kind, w.Namespace, w.Name, w.Count, want, recs)
		}
		if w.Highest != top {
			t.Errorf("workload %s/%s: highest %s, shipped %s", w.Namespace, w.Name, w.Highest, top)
		}
		if len(w.Pods) != 1 || len(w.Images) != 1 {
			t.Errorf("workload %s/%s: pods %v images %v, want one each", w.Namespace, w.Name, w.Pods, w.Images)
		}
	}
	for _, w := range dashboardstest.DefaultWorkloads() {
		if !found[w.Namespace+"/"+w.Name] {
			t.Errorf("workload %s/%s missing from %+v", w.Namespace, w.Name, r.Workloads)
		}
	}
	if want := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "syscall")); wsum != want {
		t.Errorf("workload rows add up to %d of %d syscall alerts", wsum, want)
	}

	// Kubernetes audit alerts: all of them (the limit is above), each with who and what.
	wantAudit := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "k8s_audit"))
	if r.AuditTotal != wantAudit || int64(len(r.Audit)) != wantAudit {
		t.Errorf("audit alerts: report %d (%d listed), _count %d", r.AuditTotal, len(r.Audit), wantAudit)
	}
	changes := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "k8s_audit"), `{"terms":{"event.action":["create","update","patch","delete","deletecollection"]}}`)
	if r.AuditChanges != changes {
		t.Errorf("audit changes: report %d, _count %d", r.AuditChanges, changes)
	}
	var usersSum int64
	for _, u := range r.AuditByUser {
		want := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "k8s_audit"), termJSON("user.name", u.User))
		wantChanges := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "k8s_audit"), termJSON("user.name", u.User),
			`{"terms":{"event.action":["create","update","patch","delete","deletecollection"]}}`)
		if u.Alerts != want || u.Changes != wantChanges {
			t.Errorf("audit user %s: report %d/%d changes, _count %d/%d", u.User, u.Alerts, u.Changes, want, wantChanges)
		}
		usersSum += u.Alerts
	}
	if noUser := esCount(t, s, s.Since, s.Until, termJSON("event.provider", "k8s_audit"), `{"bool":{"must_not":{"exists":{"field":"user.name"}}}}`); usersSum+noUser != wantAudit || len(r.AuditByUser) < 2 {
		t.Errorf("audit users %v add up to %d (+%d without a user) of %d", r.AuditByUser, usersSum, noUser, wantAudit)
	}
	var auditRecs int
	for _, rec := range s.Records {
		if rec.Alert.Source == event.SourceK8sAudit {
			auditRecs++
		}
	}
	if len(r.Audit) != auditRecs {
		t.Errorf("%d audit rows, %d audit alerts shipped", len(r.Audit), auditRecs)
	}
	withResource := 0
	for i, c := range r.Audit {
		if c.User == "" || c.Verb == "" || c.Rule == "" || c.Time.Before(s.Since) || !c.Time.Before(s.Until) {
			t.Errorf("audit row %d lacks who/what/when: %+v", i, c)
		}
		if i > 0 && c.Time.After(r.Audit[i-1].Time) {
			t.Errorf("audit rows not newest first at %d", i)
		}
		if c.Resource != "" {
			withResource++
		}
	}
	if withResource == 0 {
		t.Error("no audit row names its resource")
	}

	// The verifier was asked about the report's window, and its verdict is in the report.
	if !askedSince.Equal(s.Since) || !askedUntil.Equal(s.Until) || !r.Trail.Verified || !r.Trail.Result.Intact || r.Trail.Result.Checked != 7 {
		t.Errorf("trail: asked [%s, %s), got %+v", askedSince, askedUntil, r.Trail)
	}

	// Both renderings of the real data.
	var h, p bytes.Buffer
	if err := WriteHTML(&h, r); err != nil {
		t.Fatal(err)
	}
	if err := WritePDF(&p, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.String(), ">"+num(r.Total)+"<") || bytes.Count(h.Bytes(), []byte("<svg")) != 3 {
		t.Error("the HTML report lacks the total or a chart")
	}
	if pages := len(pageRe.FindAll(p.Bytes(), -1)); pages < 2 {
		t.Errorf("the PDF has %d pages", pages)
	}
	t.Logf("%s: %d alerts, %d rules, %d namespaces, %d workloads, %d audit alerts; HTML %d bytes, PDF %d bytes",
		s.Target, r.Total, len(r.ByRule), len(r.ByNamespace), len(r.Workloads), r.AuditTotal, h.Len(), p.Len())
}

// TestIntegrationReportWindow checks the window's edges: one day of the three, the end
// excluded, and a window before any alert.
func TestIntegrationReportWindow(t *testing.T) {
	s := dashboardstest.Seed(t, dashboardstest.Options{Days: 2})
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day1 := s.Since.AddDate(0, 0, 1)
	r, err := Collect(ctx, client, Query{Target: s.Target, Since: day1, Until: s.Until}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := esCount(t, s, day1, s.Until); r.Total != want || want == 0 || r.Total == int64(len(s.Records)) {
		t.Errorf("second day: report %d, _count %d, all %d", r.Total, want, len(s.Records))
	}
	if len(r.Days) != 1 || !r.Days[0].Day.Equal(day1) {
		t.Errorf("days %+v, want only %s", r.Days, day1)
	}
	if r.Trail.Verified {
		t.Error("no verifier, but the trail is marked verified")
	}
	// A week before the seed: every section empty, the days present with zeros.
	r, err = Collect(ctx, client, Query{Target: s.Target, Since: s.Since.AddDate(0, 0, -7), Until: s.Since}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 0 || len(r.ByRule) != 0 || len(r.Workloads) != 0 || len(r.Audit) != 0 || len(r.Days) != 7 {
		t.Errorf("empty window: total %d rules %d workloads %d audit %d days %d", r.Total, len(r.ByRule), len(r.Workloads), len(r.Audit), len(r.Days))
	}
	// A data stream that does not exist is an error that names it.
	_, err = Collect(ctx, client, Query{Target: "logs-lanner.alerts-nosuch" + strings.ToLower(dashboardstest.UniqueName("x")), Since: s.Since, Until: s.Until}, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no index or data stream") {
		t.Errorf("missing target: %v", err)
	}
}
