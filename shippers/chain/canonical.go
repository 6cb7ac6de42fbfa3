package chain

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"

	"github.com/lannersec/lanner/shippers"
)

// Hash prefixes name the function, so a verifier knows which one a document used and a change
// of function later is not mistaken for tampering.
const (
	prefixSHA256 = "sha256:"
	prefixHMAC   = "hmac-sha256:"
)

// Hasher computes link hashes: SHA-256, or HMAC-SHA256 when it has a key.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher; an empty key means plain SHA-256.
func NewHasher(key []byte) Hasher { return Hasher{key: slices.Clone(key)} }

func (h Hasher) new() (hash.Hash, string) {
	if len(h.key) > 0 {
		return hmac.New(sha256.New, h.key), prefixHMAC
	}
	return sha256.New(), prefixSHA256
}

// Sum returns the hash of a document (JSON) in its canonical form. The document must not carry
// lanner.chain.hash; SumStored removes it first.
func (h Hasher) Sum(doc []byte) (string, error) {
	c, err := Canonical(doc, false)
	if err != nil {
		return "", err
	}
	return h.sumCanonical(c), nil
}

// SumStored is Sum of a document read back from a destination: lanner.chain.hash is left out of
// what is hashed.
func (h Hasher) SumStored(doc []byte) (string, error) {
	c, err := Canonical(doc, true)
	if err != nil {
		return "", err
	}
	return h.sumCanonical(c), nil
}

func (h Hasher) sumCanonical(c []byte) string {
	m, prefix := h.new()
	m.Write(c)
	return prefix + hex.EncodeToString(m.Sum(nil))
}

// Keyed reports whether h is an HMAC.
func (h Hasher) Keyed() bool { return len(h.key) > 0 }

// Canonical returns the canonical form of a JSON document: objects with their members sorted by
// key (byte order), no whitespace, strings escaped as shippers.AppendJSONString escapes them,
// numbers exactly as written (an Elasticsearch _source returns the bytes it was sent, so
// "1.50" stays "1.50"). dropHash leaves out lanner.chain.hash. A key that appears twice in one
// object keeps its last value, as JSON readers do.
func Canonical(doc []byte, dropHash bool) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonical form: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("canonical form: data after the document")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("canonical form: the document is not an object")
	}
	if dropHash {
		if l, ok := top["lanner"].(map[string]any); ok {
			if c, ok := l["chain"].(map[string]any); ok {
				delete(c, "hash")
			}
		}
	}
	return appendCanonical(make([]byte, 0, len(doc)), v), nil
}

func appendCanonical(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if v {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case json.Number:
		return append(dst, v...)
	case string:
		return shippers.AppendJSONString(dst, v)
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, e)
		}
		return append(dst, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = shippers.AppendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendCanonical(dst, v[k])
		}
		return append(dst, '}')
	}
	// json.Decoder with UseNumber yields only the types above.
	panic(fmt.Sprintf("chain: unexpected JSON value %T", v))
}
