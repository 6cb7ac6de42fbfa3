package elasticsearch

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/lannersec/lanner/shippers"
)

// appendJSON encodes a document value. It is encoding/json without reflection and without
// sorting map keys (Elasticsearch does not care about key order), which made it the largest
// cost of shipping; values of other types fall back to encoding/json.
func appendJSON(dst []byte, v any) []byte {
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
		return appendMap(dst, v)
	case map[string]any:
		return appendMap(dst, v)
	case withoutNulls:
		dst = append(dst, '{')
		first := true
		for k, e := range v {
			if e == nil {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendJSON(dst, e)
		}
		return append(dst, '}')
	case map[string]string:
		dst = append(dst, '{')
		first := true
		for k, s := range v {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, s)
		}
		return append(dst, '}')
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
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	}
}

func appendMap[M ~map[string]any](dst []byte, m M) []byte {
	dst = append(dst, '{')
	first := true
	for k, e := range m {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendJSON(dst, e)
	}
	return append(dst, '}')
}

// appendString writes s as a JSON string, escaped as the spool record escapes it.
func appendString(dst []byte, s string) []byte { return shippers.AppendJSONString(dst, s) }
