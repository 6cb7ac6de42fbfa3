package alert

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// The tests use a synthetic registry (built with the real fields.Registry) whose extractors
// read from a table keyed by the event number, so that the formatter is tested without
// depending on the built-in field tables.

// testValues maps event number -> field name as written -> value (string, int64, bool,
// netip.Addr, []string). A field absent from the map is missing on that event.
type testValues map[uint64]map[string]any

func (tv testValues) get(e *event.Event, name string) (any, bool) {
	v, ok := tv[e.Num][name]
	return v, ok
}

func strField(tv testValues, src event.Source, name string, t fields.Type, fl fields.Flags) *fields.Field {
	return &fields.Field{Name: name, Source: src, Type: t, Flags: fl, Desc: "test field " + name,
		Build: func(arg string, hasArg bool) (*fields.Extractor, error) {
			key := name
			if hasArg {
				key = name + "[" + arg + "]"
			}
			return &fields.Extractor{Str: func(e *event.Event) (string, bool) {
				v, ok := tv.get(e, key)
				if !ok {
					return "", false
				}
				return v.(string), true
			}}, nil
		}}
}

func numField(tv testValues, src event.Source, name string, t fields.Type) *fields.Field {
	return &fields.Field{Name: name, Source: src, Type: t, Desc: "test field " + name,
		Build: func(string, bool) (*fields.Extractor, error) {
			return &fields.Extractor{Num: func(e *event.Event) (int64, bool) {
				v, ok := tv.get(e, name)
				if !ok {
					return 0, false
				}
				return v.(int64), true
			}}, nil
		}}
}

func newTestRegistry(t testing.TB, tv testValues) *fields.Registry {
	t.Helper()
	sys, k8s := event.SourceSyscall, event.SourceK8sAudit
	evtTime := func(src event.Source) *fields.Field {
		return &fields.Field{Name: "evt.time", Source: src, Type: fields.TypeAbsTime, Desc: "event time",
			Build: func(string, bool) (*fields.Extractor, error) {
				return &fields.Extractor{
					Num: func(e *event.Event) (int64, bool) { return e.Time, true },
					// Falco prints local time; the tests pin UTC so that they do not depend on TZ.
					Text: func(e *event.Event) (string, bool) {
						t := time.Unix(0, e.Time).UTC()
						return fmt.Sprintf("%02d:%02d:%02d.%09d", t.Hour(), t.Minute(), t.Second(), t.Nanosecond()), true
					},
				}, nil
			}}
	}
	fs := []*fields.Field{
		evtTime(sys), evtTime(k8s),
		strField(tv, sys, "evt.type", fields.TypeCharBuf, 0),
		strField(tv, sys, "proc.name", fields.TypeCharBuf, 0),
		strField(tv, sys, "proc.cmdline", fields.TypeCharBuf, 0),
		strField(tv, sys, "fd.name", fields.TypeFSPath, 0),
		strField(tv, sys, "evt.arg", fields.TypeCharBuf, fields.ArgRequired|fields.ArgKey|fields.ArgIndex),
		strField(tv, sys, "proc.env", fields.TypeCharBuf, fields.ArgAllowed|fields.ArgKey),
		strField(tv, sys, "fd.nameraw", fields.TypeCharBuf, fields.FilterOnly),
		strField(tv, sys, "evt.around", fields.TypeCharBuf, fields.FilterOnly),
		strField(tv, sys, "proc.aexe", fields.TypeCharBuf, fields.ArgAllowed|fields.ArgIndex|fields.NoTransformer),
		numField(tv, sys, "proc.tty", fields.TypeUint32),
		numField(tv, sys, "user.loginuid", fields.TypeInt64),
		numField(tv, sys, "fd.sport", fields.TypePort),
		numField(tv, sys, "evt.rawres", fields.TypeInt64),
		numField(tv, sys, "proc.vmsize", fields.TypeUint64),
		{Name: "evt.is_open_read", Source: sys, Type: fields.TypeBool, Desc: "bool",
			Build: func(string, bool) (*fields.Extractor, error) {
				return &fields.Extractor{Bool: func(e *event.Event) (bool, bool) {
					v, ok := tv.get(e, "evt.is_open_read")
					if !ok {
						return false, false
					}
					return v.(bool), true
				}}, nil
			}},
		{Name: "fd.sip", Source: sys, Type: fields.TypeIPAddr, Desc: "ip",
			Build: func(string, bool) (*fields.Extractor, error) {
				return &fields.Extractor{IP: func(e *event.Event) (netip.Addr, bool) {
					v, ok := tv.get(e, "fd.sip")
					if !ok {
						return netip.Addr{}, false
					}
					return v.(netip.Addr), true
				}}, nil
			}},
		{Name: "proc.aname", Source: sys, Type: fields.TypeCharBuf, Flags: fields.ArgAllowed | fields.ArgIndex | fields.NoTransformer, Desc: "ancestors",
			Build: func(arg string, hasArg bool) (*fields.Extractor, error) {
				if !hasArg {
					return &fields.Extractor{List: true, AnyOf: true, Strs: func(e *event.Event, dst []string) ([]string, bool) {
						v, ok := tv.get(e, "proc.aname")
						if !ok {
							return dst, false
						}
						return append(dst, v.([]string)...), true
					}}, nil
				}
				n, err := strconv.Atoi(arg)
				if err != nil || n < 0 {
					return nil, fmt.Errorf("invalid ancestor index %q", arg)
				}
				return &fields.Extractor{Str: func(e *event.Event) (string, bool) {
					v, ok := tv.get(e, "proc.aname")
					if !ok || n >= len(v.([]string)) {
						return "", false
					}
					return v.([]string)[n], true
				}}, nil
			}},
		strField(tv, sys, "container.id", fields.TypeCharBuf, fields.Suggested),
		strField(tv, sys, "container.name", fields.TypeCharBuf, fields.Suggested),
		strField(tv, sys, "container.image.repository", fields.TypeCharBuf, fields.Suggested),
		strField(tv, sys, "container.image.tag", fields.TypeCharBuf, fields.Suggested),
		strField(tv, sys, "k8s.pod.name", fields.TypeCharBuf, fields.Suggested),
		strField(tv, sys, "k8s.ns.name", fields.TypeCharBuf, fields.Suggested),
		strField(tv, k8s, "ka.user.name", fields.TypeCharBuf, 0),
		{Name: "ka.req.pod.containers.image", Source: k8s, Type: fields.TypeCharBuf, Flags: fields.IsList | fields.ArgAllowed | fields.ArgIndex, Desc: "images",
			Build: func(string, bool) (*fields.Extractor, error) {
				return &fields.Extractor{List: true, Strs: func(e *event.Event, dst []string) ([]string, bool) {
					v, ok := tv.get(e, "ka.req.pod.containers.image")
					if !ok {
						return dst, false
					}
					return append(dst, v.([]string)...), true
				}}, nil
			}},
	}
	r := &fields.Registry{}
	for _, f := range fs {
		if err := r.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return r
}
