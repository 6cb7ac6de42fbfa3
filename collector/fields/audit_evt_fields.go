package fields

import (
	"strconv"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// auditEvtFields returns the generic evt.* fields that Falco offers for plugin sources such as
// k8s_audit. Falco's alert formatter prefixes every output with %evt.time, so at least that one
// must exist for every source; the others let rules and outputs say the same things they say for
// syscall events.
func auditEvtFields() []*Field {
	src := event.SourceK8sAudit
	num := func(name string, t Type, desc string, fn func(e *event.Event) int64, text func(ns int64) string) *Field {
		return &Field{
			Name: name, Source: src, Type: t, Desc: desc,
			Build: func(string, bool) (*Extractor, error) {
				x := &Extractor{Num: func(e *event.Event) (int64, bool) { return fn(e), true }}
				if text != nil {
					x.Text = func(e *event.Event) (string, bool) { return text(fn(e)), true }
				}
				return x, nil
			},
		}
	}
	str := func(name, desc string, fn func(e *event.Event) string) *Field {
		return &Field{
			Name: name, Source: src, Type: TypeCharBuf, Desc: desc,
			Build: func(string, bool) (*Extractor, error) {
				return &Extractor{Str: func(e *event.Event) (string, bool) { return fn(e), true }}, nil
			},
		}
	}
	evTime := func(e *event.Event) int64 { return e.Time }
	local := func(layout string) func(int64) string {
		return func(ns int64) string { return time.Unix(0, ns).Format(layout) }
	}
	return []*Field{
		num("evt.num", TypeUint64, "The event number within its source, starting at 1.", func(e *event.Event) int64 { return int64(e.Num) }, nil),
		num("evt.time", TypeAbsTime, "The event time, printed as local clock time with nanoseconds.", evTime, local("15:04:05.000000000")),
		num("evt.time.s", TypeAbsTime, "The event time, printed as local clock time in seconds.", evTime, local("15:04:05")),
		num("evt.time.iso8601", TypeAbsTime, "The event time, printed in ISO 8601 with nanoseconds, UTC.", evTime, kaISOTime),
		num("evt.datetime", TypeAbsTime, "The event time, printed as local date and time with nanoseconds.", evTime, local("2006-01-02 15:04:05.000000000")),
		num("evt.datetime.s", TypeAbsTime, "The event time, printed as local date and time in seconds.", evTime, local("2006-01-02 15:04:05")),
		num("evt.rawtime", TypeAbsTime, "The event time in nanoseconds since the epoch.", evTime, func(ns int64) string { return strconv.FormatInt(ns, 10) }),
		num("evt.rawtime.s", TypeAbsTime, "The integer part of the event time in seconds since the epoch.", func(e *event.Event) int64 { return e.Time / 1e9 }, nil),
		num("evt.rawtime.ns", TypeAbsTime, "The fractional part of the event time, in nanoseconds.", func(e *event.Event) int64 { return e.Time % 1e9 }, nil),
		str("evt.source", "The event source name (k8s_audit).", func(e *event.Event) string { return e.Source.String() }),
		str("evt.pluginname", "The name of the plugin that produced the event (k8saudit for audit events).", func(*event.Event) string { return "k8saudit" }),
	}
}
