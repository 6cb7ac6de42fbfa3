package alert

import (
	"math"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Falco builds its JSON alert with nlohmann::json and dumps it with ensure_ascii=false and the
// "replace" error handler. The encoder here reproduces that byte for byte, which
// encoding/json does not: it escapes <, >, &, U+2028 and U+2029 and writes \ufffd differently.
//
//   - '"' and '\\' are escaped; \b \t \n \f \r use their short forms; every other byte below
//     0x20 is \u00xx with lower-case hex; DEL and all non-ASCII text pass through unescaped;
//   - each maximal invalid UTF-8 subsequence becomes one U+FFFD, as nlohmann's decoder emits it.

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal, quotes included.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

// appendEscaped appends the JSON escaping of s without the surrounding quotes.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		n := validSeqLen(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if n > 0 {
			i += n
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, "\uFFFD"...)
		i += invalidSubpartLen(string(s[i:min(i+utf8.UTFMax, len(s))]))
		start = i
	}
	return append(dst, s[start:]...)
}

// validSeqLen returns the length of the valid multi-byte UTF-8 sequence at the start of s, or 0.
func validSeqLen(s string) int {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && n <= 1 {
		return 0
	}
	return n
}

// invalidSubpartLen returns how many bytes of an invalid sequence at the start of s one U+FFFD
// replaces: an impossible lead byte alone, or a valid lead byte with the continuation bytes that
// still fit it (the "maximal subpart" a DFA decoder such as nlohmann's rejects at once).
func invalidSubpartLen(s string) int {
	c := s[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(s); i++ {
		b := s[i]
		if i > 1 {
			lo, hi = 0x80, 0xBF
		}
		if b < lo || b > hi {
			break
		}
	}
	return i
}

// appendJSONValue appends a typed output_fields value: nil, string, bool, int64, uint64,
// float64, []any or []string; other integer types are accepted for convenience.
func appendJSONValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return appendJSONString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int32:
		return strconv.AppendInt(dst, int64(v), 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10)
	case float64:
		return appendJSONFloat(dst, v)
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, e)
		}
		return append(dst, ']')
	case []string:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e)
		}
		return append(dst, ']')
	case map[string]any:
		return appendJSONObject(dst, v)
	}
	// Unknown types never come from the renderers; print them as their text so nothing is lost.
	return appendJSONString(dst, "<unsupported value>")
}

// appendJSONFloat writes a double as nlohmann does: shortest round-trip digits, with ".0" on
// integral values; NaN and infinities are null.
func appendJSONFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, 64)
	for _, c := range dst[start:] {
		if c == '.' || c == 'e' || c == 'E' {
			return dst
		}
	}
	return append(dst, '.', '0')
}

// appendJSONObject writes an object with its keys sorted byte-wise, as std::map orders them.
func appendJSONObject(dst []byte, m map[string]any) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONValue(dst, m[k])
	}
	return append(dst, '}')
}
