package fields

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// Event types the evt.is_open_* fields know.
var (
	typeOpen, _          = event.TypeByName("open")
	typeOpenat, _        = event.TypeByName("openat")
	typeOpenat2, _       = event.TypeByName("openat2")
	typeOpenByHandle, _  = event.TypeByName("open_by_handle_at")
	typeCreat, _         = event.TypeByName("creat")
	asyncTypeContainer   = event.TypeContainer
	asyncTypeAsyncEvent  = event.TypeAsyncEvent
	asyncTypeNotify      = event.TypeNotification
	asyncTypeInfra       = event.TypeInfra
	firstNonSyscallEvent = event.FirstNonSyscallType
)

// paramCache finds a parameter by name, remembering where it was last time: an event type keeps
// its parameters in a fixed order, so the next event of the type usually has it at the same
// position and the lookup is one string comparison. Each extractor owns one (extractors run on
// one goroutine at a time).
type paramCache struct{ idx int }

func (c *paramCache) get(s *event.Syscall, name string) (*event.Param, bool) {
	if c.idx < len(s.Params) && s.Params[c.idx].Name == name {
		return &s.Params[c.idx], true
	}
	for i := range s.Params {
		if s.Params[i].Name == name {
			c.idx = i
			return &s.Params[i], true
		}
	}
	return nil, false
}

// hasRes reports whether an event carries a return value: every system call exit does, the
// scheduler and meta events (procexit, container...) do not.
func hasRes(e *event.Event) bool {
	return e.Sys != nil && e.Type < firstNonSyscallEvent
}

func isOpen(t uint16) bool {
	return t == typeOpen || t == typeOpenat || t == typeOpenat2 || t == typeOpenByHandle
}

// Kernel open(2) access modes and the flags the open fields test.
const (
	oAccMode = 0o3
	oWronly  = 0o1
	oRdwr    = 0o2
	oCreat   = 0o100
	oTmpfile = 0o20200000
)

// openAccess tells whether an open event's flags ask for reading and for writing. A flags
// parameter with a raw value is read as the kernel's open(2) flags; one with text only is read
// by its names (O_RDONLY, O_WRONLY, O_RDWR), as Falco prints them.
func openAccess(e *event.Event, pc *paramCache) (read, write bool) {
	p, ok := pc.get(e.Sys, "flags")
	if !ok {
		// Falco reads a missing flags parameter as 0: no access asked.
		return false, false
	}
	if p.HasRaw {
		switch p.Raw & oAccMode {
		case 0:
			return true, false
		case oWronly:
			return false, true
		case oRdwr:
			return true, true
		}
		return false, false
	}
	rdwr := hasFlagToken(p.Value, "O_RDWR")
	return rdwr || hasFlagToken(p.Value, "O_RDONLY"), rdwr || hasFlagToken(p.Value, "O_WRONLY")
}

func openFlag(e *event.Event, raw int64, name string) bool {
	p, ok := e.Sys.Param("flags")
	if !ok {
		return false
	}
	if p.HasRaw {
		return p.Raw&raw == raw
	}
	return hasFlagToken(p.Value, name)
}

// openMode returns the mode parameter of an open event as permission bits.
func openMode(e *event.Event) (int64, bool) {
	p, ok := e.Sys.Param("mode")
	if !ok {
		return 0, false
	}
	if p.HasRaw {
		return p.Raw, true
	}
	v, err := strconv.ParseInt(strings.TrimSpace(p.Value), 8, 64)
	return v, err == nil
}

// formatClock renders ts like Falco's ts_to_string: optional "YYYY-MM-DD ", then "HH:MM:SS", then
// optional ".nnnnnnnnn", in loc.
func formatClock(ts int64, loc *time.Location, date, ns bool) string {
	t := time.Unix(0, ts).In(loc)
	layout := "15:04:05"
	if ns {
		layout += ".000000000"
	}
	if date {
		layout = "2006-01-02 " + layout
	}
	return t.Format(layout)
}

// FormatISO8601 renders ts as Falco's evt.time.iso8601 and the alert "time": UTC with nanoseconds.
func FormatISO8601(ts int64) string {
	return time.Unix(0, ts).UTC().Format("2006-01-02T15:04:05.000000000Z")
}

func timeField(name, desc string, render func(ts int64) string) *Field {
	return &Field{Name: name, Type: TypeCharBuf, Desc: desc, Build: noArg(func() *Extractor {
		str := func(e *event.Event) (string, bool) { return render(e.Time), true }
		return &Extractor{
			Str:  str,
			Text: str,
			// Falco writes every clock-time field as integer nanoseconds in output_fields.
			JSON: func(e *event.Event) (any, bool) { return e.Time, true },
		}
	})}
}

// renderArgs renders the parameters as Falco's evt.args: "name=value" pairs, space separated,
// with the raw number in front of a symbolic value ("flags=577(O_WRONLY|O_CREAT|O_TRUNC)").
func renderArgs(s *event.Syscall) string {
	var b strings.Builder
	for i := range s.Params {
		p := &s.Params[i]
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		if p.HasRaw {
			raw := strconv.FormatInt(p.Raw, 10)
			if p.Value != raw && p.Value != "" {
				b.WriteString(raw)
				b.WriteByte('(')
				b.WriteString(p.Value)
				b.WriteByte(')')
				continue
			}
			b.WriteString(raw)
			continue
		}
		b.WriteString(p.Value)
	}
	return b.String()
}

func evtArgBuild(arg string, hasArg bool) (*Extractor, error) {
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 0 {
			return nil, fmt.Errorf("parameter index %d is negative", n)
		}
		return &Extractor{Str: func(e *event.Event) (string, bool) {
			if e.Sys == nil || n >= len(e.Sys.Params) {
				return "", false
			}
			return e.Sys.Params[n].Value, true
		}}, nil
	}
	if err := validKey(arg); err != nil {
		return nil, err
	}
	pc := &paramCache{}
	return &Extractor{Str: func(e *event.Event) (string, bool) {
		if e.Sys == nil {
			return "", false
		}
		p, ok := pc.get(e.Sys, arg)
		if !ok {
			return "", false
		}
		return p.Value, true
	}}, nil
}

func evtRawArgBuild(arg string, hasArg bool) (*Extractor, error) {
	if err := validKey(arg); err != nil {
		return nil, err
	}
	if _, err := strconv.Atoi(arg); err == nil {
		return nil, fmt.Errorf("evt.rawarg takes a parameter name, not an index (%q)", arg)
	}
	return &Extractor{Num: func(e *event.Event) (int64, bool) {
		if e.Sys == nil {
			return 0, false
		}
		p, ok := e.Sys.Param(arg)
		if !ok || !p.HasRaw {
			return 0, false
		}
		return p.Raw, true
	}}, nil
}

func openAccessField(name, desc string, read bool) *Field {
	return &Field{Name: name, Type: TypeBool, Desc: desc, Build: noArg(func() *Extractor {
		pc := &paramCache{}
		return &Extractor{Bool: func(e *event.Event) (bool, bool) {
			if e.Sys == nil {
				return false, false
			}
			if !isOpen(e.Type) {
				return false, true
			}
			r, w := openAccess(e, pc)
			if read {
				return r, true
			}
			return w, true
		}}
	})}
}

func evtFields(c *config) []*Field {
	sys := func(e *event.Event) bool { return e.Sys != nil }
	return []*Field{
		numField("evt.num", TypeUint64, 0, "Event number within its source, starting at 1.",
			func(e *event.Event) (int64, bool) { return int64(e.Num), true }),
		timeField("evt.time", "Event time of day in the local time zone, with nanoseconds (HH:MM:SS.nnnnnnnnn).",
			func(ts int64) string { return formatClock(ts, c.loc, false, true) }),
		timeField("evt.time.s", "Event time of day in the local time zone, without nanoseconds.",
			func(ts int64) string { return formatClock(ts, c.loc, false, false) }),
		timeField("evt.time.iso8601", "Event time in ISO 8601 form, UTC, with nanoseconds.", FormatISO8601),
		timeField("evt.datetime", "Event date and time in the local time zone, with nanoseconds.",
			func(ts int64) string { return formatClock(ts, c.loc, true, true) }),
		timeField("evt.datetime.s", "Event date and time in the local time zone, without nanoseconds.",
			func(ts int64) string { return formatClock(ts, c.loc, true, false) }),
		numField("evt.rawtime", TypeAbsTime, 0, "Event time in nanoseconds since the epoch.",
			func(e *event.Event) (int64, bool) { return e.Time, true }),
		numField("evt.rawtime.s", TypeAbsTime, 0, "Whole seconds of the event time since the epoch.",
			func(e *event.Event) (int64, bool) { return e.Time / int64(time.Second), true }),
		numField("evt.rawtime.ns", TypeAbsTime, 0, "Nanosecond part of the event time.",
			func(e *event.Event) (int64, bool) { return e.Time % int64(time.Second), true }),
		strField("evt.source", 0, "Name of the source of the event (syscall).",
			func(e *event.Event) (string, bool) { return e.Source.String(), e.Source != event.SourceUnknown }),
		strField("evt.hostname", 0, "Host name of the node ($FALCO_HOSTNAME if set).",
			func(e *event.Event) (string, bool) { return c.hostname, c.hostname != "" }),
		boolField("evt.is_async", 0, "True for events that lanner or a runtime injects rather than the kernel (container, notification...).",
			func(e *event.Event) (bool, bool) {
				t := e.Type
				return t == asyncTypeContainer || t == asyncTypeAsyncEvent || t == asyncTypeNotify || t == asyncTypeInfra, true
			}),
		strField("evt.asynctype", 0, "For asynchronous events, their type name (container...).",
			func(e *event.Event) (string, bool) {
				t := e.Type
				if t == asyncTypeContainer || t == asyncTypeAsyncEvent || t == asyncTypeNotify || t == asyncTypeInfra {
					return event.TypeName(t), true
				}
				return "", false
			}),
		strField("evt.dir", Deprecated, "Event direction: always '<' (exit), since only exit events are captured.",
			func(e *event.Event) (string, bool) { return "<", sys(e) }),
		strField("evt.type", 0, "Name of the event: the system call (openat, execve...) or the event (procexit...).",
			func(e *event.Event) (string, bool) {
				n := event.TypeName(e.Type)
				return n, n != "" && sys(e)
			}),
		strField("syscall.type", 0, "Name of the system call; missing for events that are not system calls.",
			func(e *event.Event) (string, bool) {
				if !hasRes(e) {
					return "", false
				}
				n := event.TypeName(e.Type)
				return n, n != ""
			}),
		{Name: "evt.args", Type: TypeCharBuf, Desc: "All parameters of the event as name=value pairs.",
			Build: noArg(func() *Extractor {
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					if e.Sys == nil {
						return "", false
					}
					return renderArgs(e.Sys), true
				}}
			})},
		{Name: "evt.arg", Type: TypeCharBuf, Flags: ArgRequired | ArgIndex | ArgKey,
			Desc:    "One parameter of the event as text (flags and errnos by name), by name (evt.arg.flags) or position (evt.arg[0]).",
			ArgDesc: "parameter name or 0-based position", Build: evtArgBuild},
		{Name: "evt.rawarg", Type: TypeInt64, Flags: ArgRequired | ArgKey | NoRHS | NoTransformer,
			Desc:    "One numeric parameter of the event by name, as its raw number (evt.rawarg.res); missing for text parameters.",
			ArgDesc: "parameter name", Build: evtRawArgBuild},
		{Name: "evt.res", Type: TypeCharBuf, Desc: "Return value as text: SUCCESS, or the errno name of a failure (ENOENT).",
			Build: noArg(func() *Extractor {
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					if !hasRes(e) {
						return "", false
					}
					res := e.Sys.Res
					if res >= 0 {
						return "SUCCESS", true
					}
					if n := ErrnoName(-res); n != "" {
						return n, true
					}
					return strconv.FormatInt(res, 10), true
				}}
			})},
		numField("evt.rawres", TypeInt64, 0, "Return value as a number (-2 for ENOENT).",
			func(e *event.Event) (int64, bool) {
				if !hasRes(e) {
					return 0, false
				}
				return e.Sys.Res, true
			}),
		boolField("evt.failed", 0, "True for events that returned an error.",
			func(e *event.Event) (bool, bool) {
				if !hasRes(e) {
					return false, false
				}
				return e.Sys.Res < 0, true
			}),
		numField("evt.count", TypeUint32, 0, "Always 1, for counting events.",
			func(e *event.Event) (int64, bool) { return 1, true }),
		openAccessField("evt.is_open_read", "True for open, openat, openat2 and open_by_handle_at events that open the path for reading.", true),
		openAccessField("evt.is_open_write", "True for open, openat, openat2 and open_by_handle_at events that open the path for writing.", false),
		boolField("evt.is_open_exec", 0, "True for open-family and creat events that create a file with execute permission.",
			func(e *event.Event) (bool, bool) {
				if !sys(e) {
					return false, false
				}
				creating := e.Type == typeCreat ||
					(isOpen(e.Type) && e.Type != typeOpenByHandle &&
						(openFlag(e, oCreat, "O_CREAT") || openFlag(e, oTmpfile, "O_TMPFILE")))
				if !creating {
					return false, true
				}
				m, ok := openMode(e)
				return ok && m&0o111 != 0, true
			}),
		boolField("evt.is_open_create", 0, "True for open-family events that created a file.",
			func(e *event.Event) (bool, bool) {
				if !sys(e) {
					return false, false
				}
				if !isOpen(e.Type) {
					return false, true
				}
				if p, ok := e.Sys.Param("flags"); ok && hasFlagToken(p.Value, "O_F_CREATED") {
					return true, true
				}
				return openFlag(e, oTmpfile, "O_TMPFILE") && e.Sys.Res >= 0, true
			}),
	}
}
