package fields

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/lannersec/lanner/collector/event"
)

// This file holds the JSON walking shared by the ka.* and json.*/jevt.* extractors.
//
// The audit document is held twice: Doc, decoded into generic Go values, is what the extractors
// walk; Raw, the original bytes, is what non-string values are rendered from. Falco's plugins
// render an object or array jLeaf as compact JSON in the order its keys had in the input, and a
// Go map has lost that order, so rendering re-reads the jLeaf's span in Raw. Without Raw (events
// built by hand) rendering falls back to encoding/json, which sorts keys.

// jPath is a position in a JSON document: string elements are object keys, int elements array
// indexes.
type jPath []any

// with returns a copy of p extended by one element. Copying matters: walks branch at every array
// and each branch keeps its own path.
func (p jPath) with(el any) jPath {
	q := make(jPath, len(p)+1)
	copy(q, p)
	q[len(p)] = el
	return q
}

// jLeaf is one value met at the end of a walk. ok is false for an array element where the rest of
// the path was missing: some fields skip such elements, others fail on them.
type jLeaf struct {
	v    any
	ok   bool
	path jPath
}

// jGet reads one key of a JSON object. Anything that is not an object has no keys.
func jGet(v any, key string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	x, ok := m[key]
	return x, ok
}

// lookup follows keys through nested objects.
func jLookup(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		var ok bool
		if v, ok = jGet(v, k); !ok {
			return nil, false
		}
	}
	return v, true
}

// jWalk follows keys from v and collects the values at the end, the way the k8saudit plugin
// walks its documents: whenever the current value is an array, the walk continues into every
// element (idx < 0) or only into element idx, and the rest of the keys apply inside. Elements where
// the rest of the path is missing yield a jLeaf with ok=false. An empty key stands for the value
// itself (used to list whole array elements). The result is false when the path is missing
// before any array was met, or when idx is out of range.
func jWalk(v any, idx int, keys []string, path jPath, dst []jLeaf) ([]jLeaf, bool) {
	for i, k := range keys {
		if arr, isArr := v.([]any); isArr {
			if idx < 0 {
				for j, el := range arr {
					n := len(dst)
					var ok bool
					dst, ok = jWalk(el, idx, keys[i:], path.with(j), dst)
					if !ok {
						dst = append(dst[:n], jLeaf{})
					}
				}
				return dst, true
			}
			if idx >= len(arr) {
				return dst, false
			}
			v, path = arr[idx], path.with(idx)
		}
		if k == "" {
			continue
		}
		x, ok := jGet(v, k)
		if !ok {
			return dst, false
		}
		v, path = x, path.with(k)
	}
	return append(dst, jLeaf{v: v, ok: true, path: path}), true
}

// jPointerWalk follows a parsed JSON pointer: object keys by name, array elements by decimal index.
func jPointerWalk(v any, keys []string) (any, jPath, bool) {
	path := make(jPath, 0, len(keys))
	for _, k := range keys {
		switch x := v.(type) {
		case map[string]any:
			nv, ok := x[k]
			if !ok {
				return nil, nil, false
			}
			v = nv
			path = append(path, k)
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(x) {
				return nil, nil, false
			}
			v = x[n]
			path = append(path, n)
		default:
			return nil, nil, false
		}
	}
	return v, path, true
}

// jText renders a JSON value the way Falco's JSON-reading plugins turn values into field
// strings: a string is its raw text, anything else (number, bool, null, object, array) its compact
// JSON encoding.
func jText(e *event.Event, v any, path jPath) string {
	if s, ok := v.(string); ok {
		return s
	}
	if e.Audit != nil && e.Audit.Raw != nil && path != nil {
		if span, ok := jRawAt(e.Audit.Raw, path); ok {
			var b bytes.Buffer
			if json.Compact(&b, span) == nil {
				return b.String()
			}
		}
	}
	return jMarshal(v)
}

// jMarshal encodes v without HTML escaping, as the plugins' encoder does.
func jMarshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Values come from encoding/json, so they always encode.
		return ""
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// jObjectKeys returns the keys of the object at path in input order (sorted without Raw).
func jObjectKeys(e *event.Event, m map[string]any, path jPath) []string {
	if e.Audit != nil && e.Audit.Raw != nil {
		if span, ok := jRawAt(e.Audit.Raw, path); ok {
			if keys, ok := jRawKeys(span); ok {
				return keys
			}
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jRawAt returns the bytes of the value at path in a JSON text. With duplicate object keys the last
// one wins, as in encoding/json's decoding into Doc, so the rendered text and the value rules test
// are the same member.
func jRawAt(b []byte, path jPath) ([]byte, bool) {
	i := jSkipWS(b, 0)
	for _, p := range path {
		if i >= len(b) {
			return nil, false
		}
		switch k := p.(type) {
		case string:
			if b[i] != '{' {
				return nil, false
			}
			found := -1
			i++
			for {
				i = jSkipWS(b, i)
				if i >= len(b) {
					return nil, false
				}
				if b[i] == '}' {
					break
				}
				if b[i] == ',' {
					i++
					continue
				}
				end, ok := jSkipString(b, i)
				if !ok {
					return nil, false
				}
				match := jKeyEquals(b[i:end], k)
				i = jSkipWS(b, end)
				if i >= len(b) || b[i] != ':' {
					return nil, false
				}
				i = jSkipWS(b, i+1)
				if match {
					found = i
				}
				if i, ok = jSkipValue(b, i); !ok {
					return nil, false
				}
			}
			if found < 0 {
				return nil, false
			}
			i = found
		case int:
			if b[i] != '[' {
				return nil, false
			}
			i++
			for n := 0; ; {
				i = jSkipWS(b, i)
				if i >= len(b) || b[i] == ']' {
					return nil, false
				}
				if b[i] == ',' {
					i++
					continue
				}
				if n == k {
					break
				}
				var ok bool
				if i, ok = jSkipValue(b, i); !ok {
					return nil, false
				}
				n++
			}
		default:
			return nil, false
		}
	}
	end, ok := jSkipValue(b, i)
	if !ok {
		return nil, false
	}
	return b[i:end], true
}

// jRawKeys lists the member names of a JSON object text in order.
func jRawKeys(b []byte) ([]string, bool) {
	i := jSkipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	var keys []string
	seen := map[string]bool{}
	i++
	for {
		i = jSkipWS(b, i)
		if i >= len(b) {
			return nil, false
		}
		switch b[i] {
		case '}':
			return keys, true
		case ',':
			i++
			continue
		}
		end, ok := jSkipString(b, i)
		if !ok {
			return nil, false
		}
		var k string
		if json.Unmarshal(b[i:end], &k) != nil {
			return nil, false
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
		i = jSkipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false
		}
		if i, ok = jSkipValue(b, jSkipWS(b, i+1)); !ok {
			return nil, false
		}
	}
}

func jKeyEquals(quoted []byte, k string) bool {
	inner := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == k
	}
	var s string
	return json.Unmarshal(quoted, &s) == nil && s == k
}

func jSkipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// jSkipString returns the index after the string starting at b[i] (a quote).
func jSkipString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// jSkipValue returns the index after the JSON value starting at b[i]. The input has already been
// validated by encoding/json, so this only needs to find the end, not check the grammar.
func jSkipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return jSkipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := jSkipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	default:
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, true
			}
		}
		return i, true
	}
}
