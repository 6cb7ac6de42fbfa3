// Package nats is the NATS output: every alert published as Falco's JSON alert on a subject
// built from a template, by default falco.<priority>.<rule> as falcosidekick publishes, so a
// responder subscribes to what it acts on (falco.critical.>, falco.*.terminal_shell_in_container).
// One long-lived connection serves every alert; a batch is delivered once the server answered
// the flush that follows its messages.
package nats
