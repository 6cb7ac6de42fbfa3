//go:build integration

package dashboardstest

import (
	"testing"
)

// TestIntegrationSeed checks what the helper promises its users: every alert is in the index,
// spread over several days and namespaces, and the syscall alerts are enriched with their
// workload.
func TestIntegrationSeed(t *testing.T) {
	s := Seed(t, Options{})
	var res struct {
		Aggregations struct {
			Days struct {
				Buckets []struct {
					DocCount int `json:"doc_count"`
				}
			} `json:"days"`
			NS  struct{ Buckets []struct{ Key string } } `json:"ns"`
			Dep struct{ Buckets []struct{ Key string } } `json:"dep"`
			Src struct {
				Buckets []struct {
					Key      string
					DocCount int `json:"doc_count"`
				}
			} `json:"src"`
		}
	}
	body := `{"size":0,"aggs":{
	  "days":{"date_histogram":{"field":"@timestamp","calendar_interval":"1d","time_zone":"UTC"}},
	  "ns":{"terms":{"field":"orchestrator.namespace","size":50}},
	  "dep":{"terms":{"field":"kubernetes.deployment.name","size":50}},
	  "src":{"terms":{"field":"event.provider"}}}}`
	if _, err := Do(s.URL, "POST", "/"+s.Target+"/_search", body, &res); err != nil {
		t.Fatal(err)
	}
	a := res.Aggregations
	if len(a.Days.Buckets) != 3 {
		t.Errorf("%d days, want 3", len(a.Days.Buckets))
	}
	for i := 1; i < len(a.Days.Buckets); i++ {
		if a.Days.Buckets[i].DocCount <= a.Days.Buckets[i-1].DocCount {
			t.Errorf("day %d has %d alerts, day %d %d: want more on each later day", i, a.Days.Buckets[i].DocCount, i-1, a.Days.Buckets[i-1].DocCount)
		}
	}
	deps := map[string]bool{}
	for _, b := range a.Dep.Buckets {
		deps[b.Key] = true
	}
	for _, w := range DefaultWorkloads() {
		if w.Kind == "Deployment" && !deps[w.Name] {
			t.Errorf("no alert from deployment %s (deployments %v)", w.Name, deps)
		}
	}
	if len(a.NS.Buckets) < 3 {
		t.Errorf("namespaces %v: want at least 3", a.NS.Buckets)
	}
	if len(a.Src.Buckets) != 2 {
		t.Errorf("sources %v: want syscall and k8s_audit", a.Src.Buckets)
	}
	t.Logf("%d alerts in %s: days %v sources %v", len(s.Records), s.Target, a.Days.Buckets, a.Src.Buckets)
}
