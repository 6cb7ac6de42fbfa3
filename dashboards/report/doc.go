// Package report builds lanner's compliance report: what the alerts index says about a time
// window, in a form a person (an auditor, an on-call engineer) reads instead of the raw index.
//
// Collect asks Elasticsearch for the window's numbers with aggregations (totals by priority,
// rule, namespace and UTC day; the workloads that raised the most alerts; the Kubernetes audit
// alerts, who did what to which resource) and, through a TrailVerifier the caller provides, for
// the verdict on the alerts' hash chain. The result is a plain Report value. WriteHTML renders it
// as one self-contained HTML file (charts as inline SVG, CSS inline, printable) and WritePDF as
// an A4 PDF with the same sections; the charts are drawn with gonum's plot package.
//
// The package reads only the fields of lanner's ECS documents (shippers/elasticsearch) and the
// index template's types: keyword fields for terms, @timestamp for ranges and histograms,
// event.severity for "highest priority".
package report
