// Package playbook reads the responder's playbooks: which alerts a playbook matches (rule name or
// regular expression, minimum priority, tags, namespace, pod labels) and the actions it runs, in
// order, when one does. Everything is checked at load time, so a misspelt action, a bad regular
// expression, label selector or priority is an error naming FILE:LINE before the responder acts
// on any alert, never a surprise at the moment it should have acted.
//
// The package knows nothing of Kubernetes clients or of how actions run (package respond does);
// it only holds the parsed, validated form.
package playbook
