package elasticsearch

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAppendString checks the hand-written encoder against encoding/json: valid JSON whose
// decoded value equals what encoding/json would produce.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t \x01 \x7f", "ünï €", "bad \xff\xfe utf8", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendString(%q) = %s: invalid JSON: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var w string
		json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json to %q", s, got, w)
		}
	})
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	v := obj{"s": "x\"y", "n": int64(-3), "u": uint64(1 << 63), "f": 1.5, "b": true, "nil": nil,
		"l": []string{"a", "b"}, "la": []any{int64(1), "z", nil}, "m": map[string]string{"k.x": "v"},
		"o": map[string]any{"deep": obj{"x": 1}}, "i": 7}
	var a, b any
	if err := json.Unmarshal((&doc{}).appendValue(nil, v), &a); err != nil {
		t.Fatal(err)
	}
	std, _ := json.Marshal(v)
	json.Unmarshal(std, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("hand-written encoding differs from encoding/json:\n%v\n%v", a, b)
	}
}

func TestDocNesting(t *testing.T) {
	d := &doc{}
	for _, p := range []string{"b.x", "a", "b.y.z", "b-c", "b.y.w", "c.d", "b.x"} {
		d.set(p, p)
	}
	d.set("a", "last")
	got := string(d.appendTo(nil))
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	want := `{"a":"last","b":{"x":"b.x","y":{"w":"b.y.w","z":"b.y.z"}},"b-c":"b-c","c":{"d":"c.d"}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}
