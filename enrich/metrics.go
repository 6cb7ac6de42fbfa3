package enrich

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Lookup results, the values of the result label of lanner_enrich_lookups_total.
const (
	resultHit        = "hit"
	resultDeletedHit = "deleted_pod_hit"
	resultMiss       = "miss"
)

type metrics struct {
	hit, deletedHit, miss prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, c *Cache) (*metrics, error) {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lanner_enrich_lookups_total",
		Help: "Container-id lookups in the pod cache, by result: hit (live pod), deleted_pod_hit (pod deleted or container replaced within the grace period), miss.",
	}, []string{"result"})
	m := &metrics{
		hit:        lookups.WithLabelValues(resultHit),
		deletedHit: lookups.WithLabelValues(resultDeletedHit),
		miss:       lookups.WithLabelValues(resultMiss),
	}
	if reg == nil {
		return m, nil
	}
	collectors := []prometheus.Collector{
		lookups,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanner_enrich_pods",
			Help: "Pods in the cache (this node's pods, or the cluster's with AllNodes).",
		}, func() float64 { return float64(len(c.pods.GetStore().ListKeys())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanner_enrich_deleted_entries",
			Help: "Deleted pods and replaced containers kept resolvable for the grace period.",
		}, func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			return float64(c.deleted.len())
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanner_enrich_owner_objects",
			Help: "ReplicaSets and Jobs in the cache (metadata only), used to name Deployments and CronJobs.",
		}, func() float64 { return float64(len(c.rs.GetStore().ListKeys()) + len(c.jobs.GetStore().ListKeys())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "lanner_enrich_synced",
			Help: "1 once every informer of the pod cache has finished its initial list.",
		}, func() float64 {
			if c.HasSynced() {
				return 1
			}
			return 0
		}),
	}
	for _, col := range collectors {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}
