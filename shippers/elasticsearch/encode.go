package elasticsearch

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lannersec/lanner/shippers"
)

// appendValue encodes a document value. It is encoding/json without reflection, which made it
// the largest cost of shipping, and in canonical form: object members sorted by key, strings
// escaped by shippers.AppendJSONString. Values of other types fall back to encoding/json (and
// mark the document as not canonical).
func (d *doc) appendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	case obj:
		return appendMap(d, dst, v, false)
	case map[string]any:
		return appendMap(d, dst, v, false)
	case withoutNulls:
		return appendMap(d, dst, v, true)
	case map[string]string:
		return appendStringMap(d, dst, v)
	case []string:
		dst = append(dst, '[')
		for i, s := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = d.appendValue(dst, e)
		}
		return append(dst, ']')
	default:
		d.notCanonical = true
		b, err := json.Marshal(v)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
}

// appendMap writes m with its members sorted by key (nil members left out when skipNulls).
// Members are collected with their values, so each is looked up once, by the iteration.
func appendMap[M ~map[string]V, V any](d *doc, dst []byte, m M, skipNulls bool) []byte {
	type member struct {
		k string
		v V
	}
	var buf [32]member
	members := buf[:0]
	for k, v := range m {
		if skipNulls && isNull(v) {
			continue
		}
		if !utf8.ValidString(k) {
			// Written with U+FFFD, it could sort elsewhere (or meet another key).
			d.notCanonical = true
		}
		members = append(members, member{k, v})
	}
	slices.SortFunc(members, func(a, b member) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, '{')
	for i, e := range members {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, e.k)
		dst = append(dst, ':')
		dst = d.appendValue(dst, any(e.v))
	}
	return append(dst, '}')
}

func isNull[V any](v V) bool { return any(v) == nil }

// appendStringMap is appendMap for string values, without an interface per value.
func appendStringMap(d *doc, dst []byte, m map[string]string) []byte {
	var buf [32]string
	keys := buf[:0]
	for k := range m {
		if !utf8.ValidString(k) {
			d.notCanonical = true
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendString(dst, m[k])
	}
	return append(dst, '}')
}

// appendString writes s as a JSON string, escaped as the spool record escapes it.
func appendString(dst []byte, s string) []byte { return shippers.AppendJSONString(dst, s) }
