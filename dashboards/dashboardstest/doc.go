// Package dashboardstest fills a real Elasticsearch node with lanner alerts for the integration
// tests of what reads the alerts index: the Kibana dashboards and `lanner report`.
//
// Seed replays lanner's event corpora (rules/testdata/lanner_events.jsonl through
// rules/lanner_rules.yaml, and collector/audit/testdata/k8s_audit_events.jsonl through the
// upstream k8s_audit_rules.yaml) through the real engine and alert builder, enriches the
// syscall alerts with the real enrich cache fed by client-go's fake clientset (so that
// kubernetes.deployment.name and its kin are set as in a cluster), and ships them with the real
// shippers/elasticsearch shipper into an index or data stream of the test's own. The corpora are
// replayed on several days, a different number of times each day, and their containers are
// spread over a few workloads in several namespaces, so that per-day, per-namespace and
// per-workload aggregations have more than one bucket.
//
// It is for tests only and takes a testing.TB everywhere.
package dashboardstest
