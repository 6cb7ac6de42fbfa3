// Package event holds the event model shared by lanner's event sources (live capture, the
// Kubernetes audit webhook, replay files), the field extractors and the rule engine.
//
// An Event is a source-tagged value with a type and a time. Rules never read an Event directly:
// every field is read through an extractor compiled by package fields, so the layout here can
// change without touching the rule language.
package event

import "fmt"

// Source names the stream an event comes from. Rules declare the source they apply to, and the
// engine only tests an event against rules of its source.
type Source uint8

// Sources lanner knows about. The zero value is invalid so that an uninitialised event is never
// taken for a syscall.
const (
	SourceUnknown Source = iota
	SourceSyscall
	SourceK8sAudit
	numSources
)

// NumSources is the number of valid sources plus one; arrays indexed by Source use it as length.
const NumSources = int(numSources)

var sourceNames = [...]string{SourceUnknown: "unknown", SourceSyscall: "syscall", SourceK8sAudit: "k8s_audit"}

// String returns the name rules files use for the source ("syscall", "k8s_audit").
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// ParseSource maps a rules-file source name to a Source.
func ParseSource(name string) (Source, bool) {
	for i, n := range sourceNames {
		if i != int(SourceUnknown) && n == name {
			return Source(i), true
		}
	}
	return SourceUnknown, false
}

// Sources returns every valid source, in a stable order.
func Sources() []Source { return []Source{SourceSyscall, SourceK8sAudit} }

// Event is one occurrence from a source. Exactly one of Sys and Audit is set, matching Source.
//
// Events are produced by one goroutine per source and handed to the engine by pointer; the engine
// and the extractors only read them. A source may reuse an Event after the engine returns.
type Event struct {
	Source Source
	// Type indexes the source's event-type table: for syscall events see TypeByName; k8s_audit
	// events all have type 0 (AuditEventType).
	Type uint16
	// Num is the event number within its source, starting at 1 (Falco's evt.num; the stable
	// rules' never_true macro is evt.num=0, which must never match a real event).
	Num uint64
	// Time is the event time in nanoseconds since the Unix epoch.
	Time int64

	Sys   *Syscall
	Audit *Audit
}

// AuditEventType is the only event type of the k8s_audit source.
const AuditEventType uint16 = 0
