package fields

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// jsonFields returns the fields of Falco's json plugin (json.*) and their backward-compatible
// jevt.* names, plus the legacy jevt.time fields that Falco's old built-in k8s support had.
func jsonFields() []*Field {
	var fs []*Field
	for _, prefix := range []string{"json", "jevt"} {
		alias := ""
		if prefix == "jevt" {
			alias = " (alias of the json.* field)"
		}
		fs = append(fs,
			&Field{
				Name: prefix + ".value", Source: event.SourceK8sAudit, Type: TypeCharBuf, Flags: ArgRequired | ArgAllowed | ArgKey,
				Desc:    "A value of the event's JSON document, selected by a JSON pointer (RFC 6901): strings as their text, other values as compact JSON" + alias + ".",
				ArgDesc: "JSON pointer such as /objectRef/resource (the leading / is optional; ~1 is /, ~0 is ~)",
				Build:   buildJSONValue,
			},
			&Field{
				Name: prefix + ".obj", Source: event.SourceK8sAudit, Type: TypeCharBuf,
				Desc:  "The whole JSON document, indented by two spaces" + alias + ".",
				Build: func(string, bool) (*Extractor, error) { return &Extractor{Str: jsonObj}, nil },
			},
			&Field{
				Name: prefix + ".rawtime", Source: event.SourceK8sAudit, Type: TypeCharBuf,
				Desc: "The event time in nanoseconds since the epoch, as decimal text (equal to evt.rawtime)" + alias + ".",
				Build: func(string, bool) (*Extractor, error) {
					return &Extractor{Str: func(e *event.Event) (string, bool) {
						if e.Audit == nil {
							return "", false
						}
						return strconv.FormatInt(e.Time, 10), true
					}}, nil
				},
			},
		)
	}
	// Falco's built-in k8s audit support had these; the json plugin that replaced it does not, so
	// modern Falco refuses rules that use them. lanner still reads them, with a load warning.
	fs = append(fs,
		&Field{
			Name: "jevt.time", Source: event.SourceK8sAudit, Type: TypeCharBuf, Flags: Deprecated,
			Desc: "Legacy: the event time as local clock text with nanoseconds (15:04:05.000000000). Not in current Falco; use evt.time.",
			Build: func(string, bool) (*Extractor, error) {
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					if e.Audit == nil {
						return "", false
					}
					return time.Unix(0, e.Time).Format("15:04:05.000000000"), true
				}}, nil
			},
		},
		&Field{
			Name: "jevt.time.iso8601", Source: event.SourceK8sAudit, Type: TypeCharBuf, Flags: Deprecated,
			Desc: "Legacy: the event time in ISO 8601, UTC, with nanoseconds (2006-01-02T15:04:05.000000000+0000). Not in current Falco; use evt.time.iso8601.",
			Build: func(string, bool) (*Extractor, error) {
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					if e.Audit == nil {
						return "", false
					}
					return kaISOTime(e.Time), true
				}}, nil
			},
		},
	)
	return fs
}

// kaISOTime is libsinsp's ISO 8601 rendering: UTC, nanoseconds, numeric zone "+0000".
func kaISOTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02T15:04:05.000000000-0700")
}

// buildJSONValue parses the pointer once, at load time.
func buildJSONValue(arg string, _ bool) (*Extractor, error) {
	whole := arg == ""
	var keys []string
	if !whole {
		p := strings.TrimPrefix(arg, "/")
		keys = strings.Split(p, "/")
		for i, k := range keys {
			k = strings.ReplaceAll(k, "~1", "/")
			keys[i] = strings.ReplaceAll(k, "~0", "~")
		}
	}
	d := &jDoc{}
	return &Extractor{Str: func(e *event.Event) (string, bool) {
		if !d.reset(e, false) {
			return "", false
		}
		v, path, ok := jPointerWalk(any(d.doc), keys)
		if !ok {
			return "", false
		}
		return d.text(v, path), true
	}}, nil
}

func jsonObj(e *event.Event) (string, bool) {
	if e.Audit == nil || e.Audit.Doc == nil {
		return "", false
	}
	var b bytes.Buffer
	if e.Audit.Raw != nil && json.Indent(&b, e.Audit.Raw, "", "  ") == nil {
		return strings.TrimRight(b.String(), " \t\r\n"), true
	}
	b.Reset()
	if json.Indent(&b, []byte(jMarshal(e.Audit.Doc)), "", "  ") != nil {
		return "", false
	}
	return b.String(), true
}
