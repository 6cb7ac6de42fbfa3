// Package fields is lanner's field registry: for each event source, the fields rules can name
// (evt.*, proc.*, fd.*, ... for syscall; ka.*, jevt.* for k8s_audit), their types, and the typed
// extractors that read them from an event.
//
// The rule compiler resolves every field name once, at load time, into an Extractor; evaluation
// then calls the extractor's typed function directly, so reading a field costs a function call and
// no allocation.
package fields
