// Package audit turns Kubernetes audit JSON (audit.k8s.io Event and EventList documents, as the
// kube-apiserver's webhook backend posts them and as audit log files hold them) into k8s_audit
// events for the rule engine.
//
// Decoding is shared by the webhook source and by replay, so both accept exactly the same input:
// one Event, one EventList, or a JSON array of either, like Falco's k8saudit plugin.
//
// Webhook is the HTTPS endpoint the API server's audit webhook backend posts to (/k8s-audit):
// it authenticates the API server (bearer token or client certificate), bounds the body, and
// hands each request's events to a bounded queue the run command drains into the engine,
// answering 503 with Retry-After when the queue is full. Server is its TLS listener. See
// docs/kubernetes-audit.md.
package audit
