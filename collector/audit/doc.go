// Package audit turns Kubernetes audit JSON (audit.k8s.io Event and EventList documents, as the
// kube-apiserver's webhook backend posts them and as audit log files hold them) into k8s_audit
// events for the rule engine.
//
// Decoding is shared by the webhook source and by replay, so both accept exactly the same input:
// one Event, one EventList, or a JSON array of either, like Falco's k8saudit plugin.
package audit
