package alert

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// transform wraps x in the named transformer, checking the input type the way libsinsp does
// ("can't add field transformer: type X is not supported by Y").
func transform(name string, x *fields.Extractor) (*fields.Extractor, error) {
	if x.Field != nil && x.Field.Has(fields.NoTransformer) {
		return nil, fmt.Errorf("field %s does not support transformers", x.Name)
	}
	isString := x.Type.Kind() == fields.KindString
	key := name + "(" + x.Name + ")"
	switch name {
	case "tolower", "toupper", "basename":
		if !isString {
			return nil, fmt.Errorf("can't add field transformer: type %s is not supported by %s", x.Type, name)
		}
		var fn func(string) string
		switch name {
		case "tolower":
			fn = asciiLower
		case "toupper":
			fn = asciiUpper
		default:
			fn = basename
		}
		return mapStrings(key, x, func(s string) (string, bool) { return fn(s), true }), nil
	case "b64":
		switch {
		case isString:
			return mapStrings(key, x, b64Decode), nil
		case x.Type.Kind() == fields.KindBytes && !x.List:
			return &fields.Extractor{Name: key, Field: x.Field, Type: x.Type,
				Bytes: func(e *event.Event) ([]byte, bool) {
					b, ok := x.Bytes(e)
					if !ok {
						return nil, false
					}
					s, ok := b64Decode(string(b))
					return []byte(s), ok
				}}, nil
		}
		return nil, fmt.Errorf("can't add field transformer: type %s is not supported by %s", x.Type, name)
	case "len":
		return lenOf(key, x)
	}
	return nil, fmt.Errorf("unknown transformer %q", name)
}

// mapStrings applies fn to a string field's value, or to each element of a string list.
func mapStrings(key string, x *fields.Extractor, fn func(string) (string, bool)) *fields.Extractor {
	out := &fields.Extractor{Name: key, Field: x.Field, Type: x.Type, List: x.List, AnyOf: x.AnyOf}
	if x.List {
		out.Strs = func(e *event.Event, dst []string) ([]string, bool) {
			v, ok := x.Strs(e, nil)
			if !ok {
				return dst, false
			}
			for _, s := range v {
				t, ok := fn(s)
				if !ok {
					return dst, false
				}
				dst = append(dst, t)
			}
			return dst, true
		}
		return out
	}
	out.Str = func(e *event.Event) (string, bool) {
		s, ok := x.Str(e)
		if !ok {
			return "", false
		}
		return fn(s)
	}
	return out
}

// lenOf is Falco's len(): the length of a string or byte buffer, or the number of elements of a
// list, as UINT64.
func lenOf(key string, x *fields.Extractor) (*fields.Extractor, error) {
	out := &fields.Extractor{Name: key, Field: x.Field, Type: fields.TypeUint64}
	switch {
	case x.List && x.Strs != nil:
		out.Num = func(e *event.Event) (int64, bool) {
			v, ok := x.Strs(e, nil)
			return int64(len(v)), ok
		}
	case x.List && x.IPs != nil:
		out.Num = func(e *event.Event) (int64, bool) {
			v, ok := x.IPs(e, nil)
			return int64(len(v)), ok
		}
	case x.Type.Kind() == fields.KindString && x.Str != nil:
		out.Num = func(e *event.Event) (int64, bool) {
			s, ok := x.Str(e)
			if i := strings.IndexByte(s, 0); i >= 0 {
				s = s[:i] // strnlen
			}
			return int64(len(s)), ok
		}
	case x.Type.Kind() == fields.KindBytes && x.Bytes != nil:
		out.Num = func(e *event.Event) (int64, bool) {
			b, ok := x.Bytes(e)
			return int64(len(b)), ok
		}
	default:
		return nil, fmt.Errorf("can't add field transformer: type %s is not supported by len", x.Type)
	}
	return out, nil
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// basename returns the text after the last '/', or the whole value when there is none.
func basename(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// b64Decode decodes standard base64 with optional '=' padding; invalid input is a missing value.
func b64Decode(s string) (string, bool) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return "", false
	}
	return string(b), true
}
