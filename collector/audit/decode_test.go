package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

const oneEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a1","stage":"ResponseComplete",
"requestReceivedTimestamp":"2026-11-20T10:00:00.000001Z","stageTimestamp":"2026-11-20T10:00:00.5Z"}`

func TestDecode(t *testing.T) {
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		`{"kind":"Event","auditID":"l1","stageTimestamp":"2026-11-20T10:00:01Z"},` +
		`{"kind":"Event","auditID":"l2","requestReceivedTimestamp":"2026-11-20T10:00:02+01:00"}]}`
	cases := []struct {
		name     string
		in       string
		ids      []string
		times    []int64
		errParts []string // empty: no error
	}{
		{"event", oneEvent, []string{"a1"}, []int64{1795168800500000000}, nil},
		{"event with spaces", "\n  " + oneEvent + "\n", []string{"a1"}, []int64{1795168800500000000}, nil},
		{"eventlist", list, []string{"l1", "l2"}, []int64{1795168801000000000, 1795165202000000000}, nil},
		{"empty eventlist", `{"kind":"EventList","items":[]}`, nil, nil, nil},
		{"eventlist items without kind", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[{"level":"Metadata","auditID":"w1","stageTimestamp":"2026-11-20T10:00:00Z"}]}`,
			[]string{"w1"}, []int64{1795168800000000000}, nil},
		{"eventlist without items", `{"kind":"EventList"}`, nil, nil, []string{"EventList without an items array"}},
		{"array of both", `[` + oneEvent + `,` + list + `]`, []string{"a1", "l1", "l2"}, nil, nil},
		{"v1beta1 accepted", `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"b","stageTimestamp":"2026-11-20T10:00:00Z"}`,
			[]string{"b"}, []int64{1795168800000000000}, nil},
		{"bad stage time falls back", `{"kind":"Event","auditID":"f","stageTimestamp":"yesterday","requestReceivedTimestamp":"2026-11-20T10:00:00Z"}`,
			[]string{"f"}, []int64{1795168800000000000}, nil},
		{"no time", `{"kind":"Event","auditID":"n"}`, nil, nil,
			[]string{"no event time", "stageTimestamp missing", "requestReceivedTimestamp missing"}},
		{"time not a string", `{"kind":"Event","stageTimestamp":5}`, nil, nil, []string{"stageTimestamp is a number, not a string"}},
		{"bad item keeps the others", `{"kind":"EventList","items":[{"kind":"Event","auditID":"ok","stageTimestamp":"2026-11-20T10:00:00Z"},{"kind":"Event","auditID":"bad"},7,[]]}`,
			[]string{"ok"}, nil, []string{"items[1]: no event time", "items[2]: not a k8s audit Event or EventList: a number is not a JSON object",
				"items[3]: not a k8s audit Event or EventList: an array is not a JSON object"}},
		{"kind number", `{"kind": 0}`, nil, nil, []string{`"kind" is a number, not a string`}},
		{"no kind", `{"auditID":"x"}`, nil, nil, []string{`no "kind"`}},
		{"other kind", `{"kind":"Pod"}`, nil, nil, []string{`kind "Pod"`}},
		{"items not array", `{"kind":"EventList","items":{}}`, nil, nil, []string{"items is not an array"}},
		{"not json", `hello`, nil, nil, []string{`document starts with "hello"`}},
		{"truncated", `{"kind":"Event","auditID":"x"`, nil, nil, []string{"invalid JSON", "unexpected end of JSON input"}},
		{"syntax error", `{"kind":"Event",,}`, nil, nil, []string{"invalid JSON: at byte 17"}},
		{"empty", "  \n", nil, nil, []string{"empty document"}},
		{"scalar in array", `[1]`, nil, nil, []string{"[0]: not a k8s audit"}},
		{"deep nesting", strings.Repeat("[", 20) + strings.Repeat("]", 20), nil, nil, []string{"nested deeper than 8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := Decode([]byte(tc.in))
			if len(tc.errParts) == 0 && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			for _, p := range tc.errParts {
				if err == nil || !strings.Contains(err.Error(), p) {
					t.Fatalf("error %v, want it to contain %q", err, p)
				}
			}
			if len(evs) != len(tc.ids) {
				t.Fatalf("%d events, want %d", len(evs), len(tc.ids))
			}
			for i, e := range evs {
				if e.Source != event.SourceK8sAudit || e.Type != event.AuditEventType || e.Num != 0 {
					t.Errorf("event %d: source %v type %d num %d", i, e.Source, e.Type, e.Num)
				}
				if got := e.Audit.Doc["auditID"]; got != tc.ids[i] {
					t.Errorf("event %d: auditID %v, want %s", i, got, tc.ids[i])
				}
				if tc.times != nil && e.Time != tc.times[i] {
					t.Errorf("event %d: time %d, want %d", i, e.Time, tc.times[i])
				}
				var back map[string]any
				if err := json.Unmarshal(e.Audit.Raw, &back); err != nil || back["auditID"] != tc.ids[i] {
					t.Errorf("event %d: Raw %q does not hold the event (%v)", i, e.Audit.Raw, err)
				}
			}
		})
	}
}

func TestDecodeNotAuditIsTyped(t *testing.T) {
	_, err := Decode([]byte(`{"kind":"Pod"}`))
	if !errors.Is(err, ErrNotAudit) {
		t.Fatalf("error %v does not wrap ErrNotAudit", err)
	}
}

// TestDecodeOwnsRaw checks that events do not alias the caller's buffer, which sources reuse.
func TestDecodeOwnsRaw(t *testing.T) {
	buf := []byte(oneEvent)
	evs, err := Decode(buf)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Decode: %v, %d events", err, len(evs))
	}
	for i := range buf {
		buf[i] = ' '
	}
	if !json.Valid(evs[0].Audit.Raw) {
		t.Fatalf("Raw changed with the input buffer: %q", evs[0].Audit.Raw)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{oneEvent, `{"kind":"EventList","items":[` + oneEvent + `]}`, `[` + oneEvent + `]`,
		`{"kind":0}`, `{"kind":"Event"}`, `[[[]]]`, `{"kind":"EventList","items":[1,"x",null]}`, `{"kind":"EventList","items":[{}]}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := Decode(data)
		if err == nil && len(evs) == 0 && json.Valid(data) {
			// Only empty lists decode to nothing without an error.
			var v any
			_ = json.Unmarshal(data, &v)
			if !onlyEmptyLists(v) {
				t.Fatalf("no events and no error for %q", data)
			}
		}
		for _, e := range evs {
			if e == nil || e.Audit == nil || e.Audit.Doc == nil || e.Source != event.SourceK8sAudit {
				t.Fatalf("malformed event %+v for %q", e, data)
			}
			if !json.Valid(e.Audit.Raw) {
				t.Fatalf("invalid Raw %q", e.Audit.Raw)
			}
		}
	})
}

func onlyEmptyLists(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, el := range x {
			if !onlyEmptyLists(el) {
				return false
			}
		}
		return true
	case map[string]any:
		if x["kind"] != "EventList" {
			return false
		}
		items, ok := x["items"].([]any)
		return ok && len(items) == 0
	}
	return false
}
