package shippers

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// normalize turns encoding/json's UseNumber output into parseJSON's number types.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		return fromJSONNumber(v)
	case []any:
		for i := range v {
			v[i] = normalize(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalize(v[k])
		}
	}
	return v
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,-2,3.5,1e3,18446744073709551615,99999999999999999999,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"]}`,
		`"bad \xff utf8"`, `{"a":{"b":{"c":[{"d":"e"}]}}}`, ` 12 `, `-0`, `0.5e-3`, `{"a":1,"a":2}`, `[1,]`, `01`, `"\u12"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseJSON(data)
		var want any
		wantErr := json.Unmarshal(data, &want)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("parseJSON(%q) error %v, encoding/json error %v", data, err, wantErr)
		}
		if err != nil {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		dec.Decode(&want)
		if !reflect.DeepEqual(got, normalize(want)) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json %#v", data, got, normalize(want))
		}
	})
}
