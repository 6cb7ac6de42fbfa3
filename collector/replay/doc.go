// Package replay reads recorded events from files so that rules can be tested and demonstrated
// without a kernel or an API server: `lanner replay` and the rule corpora are built on it.
//
// A replay file holds one JSON document per line. A line is either a Kubernetes audit Event or
// EventList (as audit logs and the webhook carry them, decoded by package audit) or a syscall
// event in lanner's own JSON form, documented in docs/replay-format.md. The source is detected per
// line unless the caller forces one. Events are numbered from 1 per source, in reading order,
// the way Falco numbers events (evt.num).
//
// Reading is strict: a line that is not a valid event is reported as a *LineError naming the file
// and line, and the reader moves on to the next line, so one bad line never hides the rest.
package replay
