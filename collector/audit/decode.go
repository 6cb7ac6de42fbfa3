package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// maxNesting bounds how deep JSON arrays of audit documents may nest. The plugin recurses without
// a bound; a bound keeps a hostile body from exhausting the stack.
const maxNesting = 8

// ErrNotAudit is wrapped by Decode's error when a document is JSON but not an audit Event or
// EventList.
var ErrNotAudit = errors.New("not a k8s audit Event or EventList")

// Decode reads one JSON document holding an audit Event, an EventList, or an array of these, and
// returns one k8s_audit event per audit Event, in input order. Each event has Source k8s_audit,
// Type event.AuditEventType, Time from stageTimestamp (requestReceivedTimestamp when the stage
// time is missing or invalid), Audit.Doc the decoded Event and Audit.Raw its own JSON bytes.
// Num is left zero: the caller numbers events in the order it hands them to the engine.
//
// A document that is not valid JSON, or not an audit document at all, yields no events and an
// error saying what is wrong. Inside a list, a bad item does not spoil its neighbours: Decode
// returns every event it could decode together with an error naming each item it skipped (for
// example `items[2]: no valid stageTimestamp or requestReceivedTimestamp`), so callers that want
// all-or-nothing must check the error, and callers that want best effort may use both.
func Decode(data []byte) ([]*event.Event, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty document")
	}
	if data[0] != '{' && data[0] != '[' {
		return nil, fmt.Errorf("%w: document starts with %q, want a JSON object or array", ErrNotAudit, truncate(data, 16))
	}
	if !json.Valid(data) {
		// Unmarshal gives the position of the problem, Valid does not.
		var v any
		err := json.Unmarshal(data, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("invalid JSON: %w", unwrapSyntax(err))
	}
	var d decoder
	d.doc(json.RawMessage(data), "", 0)
	return d.events, errors.Join(d.errs...)
}

type decoder struct {
	events []*event.Event
	errs   []error
}

func (d *decoder) fail(where string, err error) {
	if where != "" {
		err = fmt.Errorf("%s: %w", where, err)
	}
	d.errs = append(d.errs, err)
}

// doc decodes one Event, EventList or array; where locates it for error messages.
func (d *decoder) doc(raw json.RawMessage, where string, depth int) {
	if depth > maxNesting {
		d.fail(where, fmt.Errorf("arrays nested deeper than %d levels", maxNesting))
		return
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			d.fail(where, err)
			return
		}
		for i, it := range items {
			d.doc(it, fmt.Sprintf("%s[%d]", where, i), depth+1)
		}
		return
	}
	var head struct {
		Kind  json.RawMessage   `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if len(raw) == 0 || raw[0] != '{' {
		d.fail(where, fmt.Errorf("%w: %s is not a JSON object", ErrNotAudit, describe(raw)))
		return
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		// Only a wrong type for "items" can fail here, the text is valid JSON.
		d.fail(where, fmt.Errorf("%w: items is not an array", ErrNotAudit))
		return
	}
	var kind string
	if head.Kind == nil {
		d.fail(where, fmt.Errorf("%w: no \"kind\"", ErrNotAudit))
		return
	}
	if err := json.Unmarshal(head.Kind, &kind); err != nil {
		d.fail(where, fmt.Errorf("%w: \"kind\" is %s, not a string", ErrNotAudit, describe(head.Kind)))
		return
	}
	switch kind {
	case "Event":
		e, err := decodeEvent(raw)
		if err != nil {
			d.fail(where, err)
			return
		}
		d.events = append(d.events, e)
	case "EventList":
		if head.Items == nil {
			d.fail(where, fmt.Errorf("%w: EventList without an items array", ErrNotAudit))
			return
		}
		// Items are Events whatever they say: the API server leaves kind and apiVersion out of
		// list items, and the k8saudit plugin reads every item as an Event.
		for i, it := range head.Items {
			d.item(it, fmt.Sprintf("%sitems[%d]", prefix(where), i))
		}
	default:
		d.fail(where, fmt.Errorf("%w: kind %q", ErrNotAudit, kind))
	}
}

// item decodes one element of an EventList's items.
func (d *decoder) item(raw json.RawMessage, where string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		d.fail(where, fmt.Errorf("%w: %s is not a JSON object", ErrNotAudit, describe(raw)))
		return
	}
	e, err := decodeEvent(raw)
	if err != nil {
		d.fail(where, err)
		return
	}
	d.events = append(d.events, e)
}

func prefix(where string) string {
	if where == "" {
		return ""
	}
	return where + "."
}

// decodeEvent makes the event for one audit Event object.
func decodeEvent(raw json.RawMessage) (*event.Event, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	ts, err := eventTime(doc)
	if err != nil {
		return nil, err
	}
	// raw may alias the caller's buffer (the whole document for a single Event); the event keeps
	// its own copy because sources reuse read buffers.
	own := append([]byte(nil), raw...)
	return &event.Event{
		Source: event.SourceK8sAudit,
		Type:   event.AuditEventType,
		Time:   ts,
		Audit:  &event.Audit{Doc: doc, Raw: own},
	}, nil
}

// eventTime is the time Falco gives an audit event: stageTimestamp, which is when the stage the
// event reports happened. Falco drops events without it; lanner falls back to
// requestReceivedTimestamp so that hand-written and truncated events still count.
func eventTime(doc map[string]any) (int64, error) {
	var problems []string
	for _, key := range []string{"stageTimestamp", "requestReceivedTimestamp"} {
		v, ok := doc[key]
		if !ok {
			problems = append(problems, key+" missing")
			continue
		}
		s, ok := v.(string)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is %s, not a string", key, describeValue(v)))
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s %q is not an RFC 3339 time", key, s))
			continue
		}
		return t.UnixNano(), nil
	}
	return 0, fmt.Errorf("no event time: %s", joinProblems(problems))
}

func joinProblems(p []string) string {
	var b bytes.Buffer
	for i, s := range p {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	return b.String()
}

// describe names the JSON type of a raw value for error messages.
func describe(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "invalid JSON"
	}
	return describeValue(v)
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// unwrapSyntax adds the byte offset to encoding/json's syntax errors, which do not print it.
func unwrapSyntax(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("at byte %d: %s", se.Offset, se.Error())
	}
	return err
}
