// Package efk holds no code: it is the home of the EFK example's tests (efk_test.go), which check
// that the manifests in this directory are valid Kubernetes objects, that Fluentd, Elasticsearch,
// the NetworkPolicy and lanner's chart values agree on ports, names and tags, and that
// lanner-values.yaml gives a configuration lanner's own loader accepts.
package efk
