package filter

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// fieldCheck compiles `lhs op val(f)` and `lhs op transformer(f)`: both sides are read from the
// event. libsinsp requires the two types to be identical (list-ness included) and refuses
// pmatch, regex, network fields and fields flagged NoRHS on the right.
func (c *compiler) fieldCheck(n *Check, o op, lhs *operand) (Matcher, error) {
	if o == opPMatch || o == opRegex {
		return nil, errAt(n.Value.Pos, nil, "operator '%s' does not support a field on the right-hand side", n.Op)
	}
	if lhs.typ == fields.TypeIPNet {
		return nil, errAt(n.Value.Pos, nil, "field %s of type IPNET cannot be compared with another field", lhs.name)
	}
	rhs, err := c.operand(n.Value.Field, true)
	if err != nil {
		return nil, err
	}
	if b := rhs.base; b != nil && b.Field != nil && b.Field.Has(fields.NoRHS) {
		return nil, errAt(n.Value.Pos, nil, "field %s cannot be used on the right-hand side of a comparison", b.Name)
	}
	lList, rList := lhs.multi && !lhs.anyOf, rhs.multi && !rhs.anyOf
	if lhs.typ != rhs.typ || lList != rList || rhs.anyOf {
		return nil, errAt(n.Value.Pos, nil, "field %s (%s) has incompatible type with %s (%s)", lhs.name, typeText(lhs), rhs.name, typeText(rhs))
	}
	all := needAll(lhs, o)
	switch lhs.typ.Kind() {
	case fields.KindString:
		return fieldMatcher(strGetter(lhs), strGetter(rhs), o, all, cmpStr), nil
	case fields.KindNum, fields.KindBool:
		return fieldMatcher(numGetter(lhs), numGetter(rhs), o, all, cmpNum), nil
	case fields.KindIP:
		return fieldMatcher(ipGetter(lhs), ipGetter(rhs), o, all, cmpIP), nil
	case fields.KindBytes:
		return fieldMatcher(bytesGetter(lhs), bytesGetter(rhs), o, all, cmpBytes), nil
	}
	return nil, errAt(n.Pos, nil, "field %s has unsupported type %s", lhs.name, lhs.typ)
}

func typeText(o *operand) string {
	if o.multi && !o.anyOf {
		return "list of " + o.typ.String()
	}
	return o.typ.String()
}

type getter[T any] func(e *event.Event, dst []T) ([]T, bool)

// fieldMatcher evaluates a field-to-field check with one scratch slice per side. all is needAll:
// the check must hold for every left value (a list under `in`, != on a NotEqualAll field).
func fieldMatcher[T any](l, r getter[T], o op, all bool, cmp func(op, T, T) bool) Matcher {
	var lb, rb []T
	return func(e *event.Event) bool {
		lv, ok := l(e, lb[:0])
		lb = lv
		if !ok || len(lv) == 0 {
			return false
		}
		rv, ok := r(e, rb[:0])
		rb = rv
		if !ok || len(rv) == 0 {
			return false
		}
		if !o.isList() {
			for _, a := range lv {
				if cmp(o, a, rv[0]) != all {
					return !all
				}
			}
			return all
		}
		for _, a := range lv {
			in := false
			for _, b := range rv {
				if cmp(opEq, a, b) {
					in = true
					break
				}
			}
			if in != all {
				return !all
			}
		}
		return all
	}
}

func strGetter(o *operand) getter[string] {
	if o.strs != nil {
		return o.strs
	}
	src := o.str
	return func(e *event.Event, dst []string) ([]string, bool) {
		v, ok := src(e)
		return append(dst, v), ok
	}
}

func numGetter(o *operand) getter[int64] {
	switch {
	case o.nums != nil:
		return o.nums
	case o.num != nil:
		src := o.num
		return func(e *event.Event, dst []int64) ([]int64, bool) {
			v, ok := src(e)
			return append(dst, v), ok
		}
	case o.boolv != nil:
		src := o.boolv
		return func(e *event.Event, dst []int64) ([]int64, bool) {
			v, ok := src(e)
			x := int64(0)
			if v {
				x = 1
			}
			return append(dst, x), ok
		}
	}
	src := o.strs
	isBool := o.typ == fields.TypeBool
	var tmp []string
	return func(e *event.Event, dst []int64) ([]int64, bool) {
		vals, ok := src(e, tmp[:0])
		tmp = vals
		for _, s := range vals {
			if isBool {
				switch s {
				case "true":
					dst = append(dst, 1)
				case "false":
					dst = append(dst, 0)
				}
				continue
			}
			if x, err := strconv.ParseInt(s, 10, 64); err == nil {
				dst = append(dst, x)
			}
		}
		return dst, ok
	}
}

func ipGetter(o *operand) getter[netip.Addr] {
	if o.ips != nil {
		return o.ips
	}
	src := o.ip
	return func(e *event.Event, dst []netip.Addr) ([]netip.Addr, bool) {
		v, ok := src(e)
		return append(dst, v), ok
	}
}

func bytesGetter(o *operand) getter[[]byte] {
	src := o.bytes
	return func(e *event.Event, dst [][]byte) ([][]byte, bool) {
		v, ok := src(e)
		return append(dst, v), ok
	}
}

func cmpStr(o op, a, b string) bool {
	switch o {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	case opContains:
		return strings.Contains(a, b)
	case opIContains:
		return indexFold(a, b) >= 0
	case opStartsWith:
		return strings.HasPrefix(a, b)
	case opEndsWith:
		return strings.HasSuffix(a, b)
	case opGlob:
		return fnmatch(b, a, false)
	case opIGlob:
		return fnmatch(b, a, true)
	}
	return false
}

func cmpNum(o op, a, b int64) bool {
	switch o {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	}
	return false
}

func cmpIP(o op, a, b netip.Addr) bool {
	switch o {
	case opEq:
		return a.Unmap() == b.Unmap()
	case opNe:
		return a.Unmap() != b.Unmap()
	}
	return false
}

func cmpBytes(o op, a, b []byte) bool {
	switch o {
	case opEq:
		return bytes.Equal(a, b)
	case opNe:
		return !bytes.Equal(a, b)
	case opContains, opBContains:
		return bytes.Contains(a, b)
	case opStartsWith, opBStartsWith:
		return bytes.HasPrefix(a, b)
	case opEndsWith:
		return bytes.HasSuffix(a, b)
	}
	return false
}
