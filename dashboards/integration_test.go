//go:build integration

package dashboards

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/lannersec/lanner/dashboards/dashboardstest"
)

// TestIntegrationVisualizationsHaveBuckets fills the real local node with replayed alerts
// (syscall and Kubernetes audit, enriched, shipped by the real shipper into indices made from
// lanner's index template) and, for every visualization, runs the aggregation it stands for:
// each level (date histogram, terms, nested terms) must return buckets. It also asks
// _field_caps, the call a Kibana data view makes, whether every field is aggregatable there.
func TestIntegrationVisualizationsHaveBuckets(t *testing.T) {
	s := dashboardstest.Seed(t, dashboardstest.Options{})

	// What a Kibana data view over these indices would list.
	var caps struct {
		Fields map[string]map[string]struct {
			Type         string `json:"type"`
			Aggregatable bool   `json:"aggregatable"`
		} `json:"fields"`
	}
	var names []string
	for _, v := range Lanner().Visualizations {
		names = append(names, v.Fields()...)
	}
	if _, err := dashboardstest.Do(s.URL, "GET", "/"+s.Target+"/_field_caps?fields="+url.QueryEscape(strings.Join(names, ",")), "", &caps); err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		types := caps.Fields[f]
		if len(types) != 1 {
			t.Errorf("field %s: _field_caps types %v, want exactly one", f, types)
			continue
		}
		for typ, c := range types {
			if !c.Aggregatable {
				t.Errorf("field %s (%s): not aggregatable on the node", f, typ)
			}
		}
	}

	for _, v := range Lanner().Visualizations {
		t.Run(v.ID, func(t *testing.T) {
			body, err := json.Marshal(v.SearchBody())
			if err != nil {
				t.Fatal(err)
			}
			var res struct {
				Hits struct {
					Total struct{ Value int } `json:"total"`
				} `json:"hits"`
				Aggregations map[string]json.RawMessage `json:"aggregations"`
			}
			if _, err := dashboardstest.Do(s.URL, "POST", "/"+s.Target+"/_search", string(body), &res); err != nil {
				t.Fatal(err)
			}
			if res.Hits.Total.Value == 0 {
				t.Fatalf("no alert matches the visualization's filter %+v", v.Filter)
			}
			levels := len(v.Terms)
			if v.Chart == TimeSeries {
				levels++
			}
			// per level: how many buckets, and the keys of the deepest level.
			counts := make([]int, levels)
			var leaves []string
			var walk func(raw json.RawMessage, depth int, path string)
			walk = func(raw json.RawMessage, depth int, path string) {
				var agg struct {
					Buckets []map[string]json.RawMessage `json:"buckets"`
				}
				if err := json.Unmarshal(raw, &agg); err != nil {
					t.Fatalf("level %d: %v", depth, err)
				}
				for _, b := range agg.Buckets {
					counts[depth]++
					key := string(b["key_as_string"])
					if key == "" {
						key = string(b["key"])
					}
					if depth+1 < levels {
						walk(b[AggName(depth+1)], depth+1, path+key+" / ")
					} else {
						leaves = append(leaves, path+key+" ("+string(b["doc_count"])+")")
					}
				}
			}
			walk(res.Aggregations[AggName(0)], 0, "")
			for i, n := range counts {
				if n == 0 {
					t.Fatalf("level %d (%s) has no buckets over %d matching alerts", i, levelField(v, i), res.Hits.Total.Value)
				}
			}
			if len(leaves) > 5 {
				leaves = append(leaves[:5], "...")
			}
			t.Logf("%d alerts, buckets per level %v: %s", res.Hits.Total.Value, counts, strings.Join(leaves, "; "))
		})
	}
}

func levelField(v Visualization, i int) string {
	if v.Chart == TimeSeries {
		if i == 0 {
			return timeField
		}
		i--
	}
	return v.Terms[i].Field
}
