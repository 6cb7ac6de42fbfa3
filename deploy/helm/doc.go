// Package helm renders lanner's Helm chart (deploy/helm/lanner) with the Helm SDK, the same
// template engine and values merging `helm template` uses, without a helm binary or a cluster.
//
// It exists for two callers: the chart's tests (chart_test.go), which render the chart under
// several values sets and decode every object strictly into the typed Kubernetes API objects,
// and the generator of the plain manifests (deploy/helm/render, writing
// deploy/manifests/lanner.yaml), whose output those tests keep in step with the chart.
package helm
