package fields

import (
	"bytes"
	"encoding/json"
	"math"
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

// jDoc is the document an extractor is reading, with the extractor's index of the raw bytes.
// Each extractor owns one jDoc and reuses it from event to event: extractors of a source run on
// one goroutine at a time, so no locking is needed, and a reused jDoc costs no allocation.
type jDoc struct {
	e   *event.Event
	doc map[string]any
	idx jRawIndex
}

// reset points d at e's document. With gate set, documents without a top-level auditID are
// refused, as the k8saudit plugin refuses them for every ka.* field.
func (d *jDoc) reset(e *event.Event, gate bool) bool {
	d.e, d.doc = nil, nil
	if e == nil || e.Audit == nil || e.Audit.Doc == nil {
		return false
	}
	if _, ok := e.Audit.Doc["auditID"]; gate && !ok {
		return false
	}
	d.e, d.doc = e, e.Audit.Doc
	return true
}

// text renders a JSON value the way Falco's JSON-reading plugins turn values into field strings:
// a string is its raw text, anything else (number, bool, null, object, array) its compact JSON
// encoding, taken from the input so that numbers and key order are as they were sent.
func (d *jDoc) text(v any, path jPath) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	case float64:
		// Integers are what the API server writes (codes, ids, ports); their text is the same
		// whatever the input looked like, so there is no need to index the document for them.
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
	}
	if span, ok := d.idx.span(d.e, path); ok {
		var b bytes.Buffer
		if json.Compact(&b, span) == nil {
			return b.String()
		}
	}
	return jMarshal(v)
}

// keys returns the keys of the object m at path in input order (sorted without Raw).
func (d *jDoc) keys(m map[string]any, path jPath) []string {
	if keys, ok := d.idx.keys(d.e, path); ok {
		return keys
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

// jRawIndex locates values in an event's raw JSON. It is built in one pass the first time an
// extractor needs a raw span for an event, so rendering many elements of a large array costs one
// scan of the document rather than one scan per element.
type jRawIndex struct {
	raw  []byte // the document indexed (identity: data pointer and length)
	num  uint64 // and the event number, since sources may reuse buffers
	root *jRawNode
	bad  bool
}

// jRawNode is one JSON value: its byte span and, for objects and arrays, its members in order.
type jRawNode struct {
	start, end int
	keys       []string // object member names; nil for arrays and scalars
	kids       []*jRawNode
	object     bool
}

func (x *jRawIndex) load(e *event.Event) bool {
	if e == nil || e.Audit == nil || len(e.Audit.Raw) == 0 {
		return false
	}
	raw := e.Audit.Raw
	if x.root != nil || x.bad {
		if len(x.raw) == len(raw) && &x.raw[0] == &raw[0] && x.num == e.Num {
			return !x.bad
		}
	}
	x.raw, x.num, x.root, x.bad = raw, e.Num, nil, false
	i := jSkipWS(raw, 0)
	n, _, ok := jParseNode(raw, i, 0)
	if !ok {
		x.bad = true
		return false
	}
	x.root = n
	return true
}

// node follows path; with duplicate object keys the last one wins, as in encoding/json's decoding
// into Doc, so the rendered text and the value rules test are the same member.
func (x *jRawIndex) node(e *event.Event, path jPath) (*jRawNode, bool) {
	if !x.load(e) {
		return nil, false
	}
	n := x.root
	for _, p := range path {
		switch k := p.(type) {
		case string:
			if !n.object {
				return nil, false
			}
			var found *jRawNode
			for i, name := range n.keys {
				if name == k {
					found = n.kids[i]
				}
			}
			if found == nil {
				return nil, false
			}
			n = found
		case int:
			if n.object || k < 0 || k >= len(n.kids) {
				return nil, false
			}
			n = n.kids[k]
		default:
			return nil, false
		}
	}
	return n, true
}

func (x *jRawIndex) span(e *event.Event, path jPath) ([]byte, bool) {
	n, ok := x.node(e, path)
	if !ok {
		return nil, false
	}
	return x.raw[n.start:n.end], true
}

func (x *jRawIndex) keys(e *event.Event, path jPath) ([]string, bool) {
	n, ok := x.node(e, path)
	if !ok || !n.object {
		return nil, false
	}
	seen := make(map[string]bool, len(n.keys))
	out := make([]string, 0, len(n.keys))
	for _, k := range n.keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, true
}

// jMaxDepth matches encoding/json's nesting limit, so anything Doc could hold can be indexed.
const jMaxDepth = 10000

// jParseNode indexes the value at b[i] and returns it with the index after it. The input has been
// validated by encoding/json, so this only finds boundaries.
func jParseNode(b []byte, i, depth int) (*jRawNode, int, bool) {
	if i >= len(b) || depth > jMaxDepth {
		return nil, 0, false
	}
	n := &jRawNode{start: i}
	switch b[i] {
	case '{', '[':
		n.object = b[i] == '{'
		close := byte(']')
		if n.object {
			close = '}'
		}
		i++
		for {
			i = jSkipWS(b, i)
			if i >= len(b) {
				return nil, 0, false
			}
			if b[i] == close {
				n.end = i + 1
				return n, i + 1, true
			}
			if b[i] == ',' {
				i++
				continue
			}
			if n.object {
				end, ok := jSkipString(b, i)
				if !ok {
					return nil, 0, false
				}
				var k string
				if json.Unmarshal(b[i:end], &k) != nil {
					return nil, 0, false
				}
				n.keys = append(n.keys, k)
				i = jSkipWS(b, end)
				if i >= len(b) || b[i] != ':' {
					return nil, 0, false
				}
				i = jSkipWS(b, i+1)
			}
			kid, next, ok := jParseNode(b, i, depth+1)
			if !ok {
				return nil, 0, false
			}
			n.kids = append(n.kids, kid)
			i = next
		}
	default:
		end, ok := jSkipValue(b, i)
		if !ok {
			return nil, 0, false
		}
		n.end = end
		return n, end, true
	}
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
