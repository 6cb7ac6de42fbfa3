// Package respond is lanner's response engine: the responder that acts on alerts. It runs as its
// own Deployment (`lanner respond`), apart from the node agent (`lanner run`), so that the
// DaemonSet on every node never holds write access to the cluster: only this one small
// component does, limited by RBAC to the verbs its enabled actions need (ClusterRole).
//
// Alerts arrive as Falco JSON alerts, from NATS subjects (NATSSource, the subjects lanner's and
// falcosidekick's NATS outputs publish on) or POSTed over HTTP (AlertHandler). The Responder
// matches each against the playbooks of its configuration (package playbook) and runs the
// actions of every matching playbook in order, through client-go: delete, label or isolate the
// pod, cordon or taint its node, scale its workload to zero, notify a chat webhook.
//
// Safety rules hold for every action: it is idempotent (a repeated alert finds the work done
// and changes nothing), rate limited (a token bucket per playbook and action), never touches a
// protected namespace (kube-system by default), and can be dry-run per playbook or globally.
// Every action taken, dry-run, refused, rate limited, skipped or failed is recorded as an alert
// of its own (rule "Response: <playbook>/<action>") and written to a Sink, which lanner wires to
// the same outputs `lanner run` ships to, so the audit trail says who or what acted and why.
package respond
