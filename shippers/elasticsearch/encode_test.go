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
	r := testRecord(3)
	var a, b any
	if err := json.Unmarshal(appendJSON(nil, document(r)), &a); err != nil {
		t.Fatal(err)
	}
	std, _ := json.Marshal(document(r))
	json.Unmarshal(std, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("hand-written encoding differs from encoding/json:\n%v\n%v", a, b)
	}
}
