package filter

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/lannersec/lanner/collector/event"
)

// typeSet is a set of event types or the complement of one (neg), so `evt.type != open` needs no
// table of every type until the very end.
type typeSet struct {
	neg bool
	m   map[uint16]struct{}
}

func allTypes() typeSet       { return typeSet{neg: true} }
func noTypes() typeSet        { return typeSet{} }
func (s typeSet) isAll() bool { return s.neg && len(s.m) == 0 }

func (s typeSet) has(t uint16) bool {
	_, ok := s.m[t]
	return ok != s.neg
}

func (s typeSet) complement() typeSet { return typeSet{neg: !s.neg, m: s.m} }

func setOp(a, b typeSet, keep func(inA, inB bool) bool) typeSet {
	out := typeSet{neg: keep(a.neg, b.neg), m: map[uint16]struct{}{}}
	for _, m := range []map[uint16]struct{}{a.m, b.m} {
		for t := range m {
			if keep(a.has(t), b.has(t)) != out.neg {
				out.m[t] = struct{}{}
			}
		}
	}
	return out
}

func intersect(a, b typeSet) typeSet { return setOp(a, b, func(x, y bool) bool { return x && y }) }
func union(a, b typeSet) typeSet     { return setOp(a, b, func(x, y bool) bool { return x || y }) }

// EventTypes computes statically the set of event types a condition can match, as Falco does to
// index rules (libs filter/ppm_codes.cpp): `and` intersects, `or` unites, `not` is pushed to the
// leaves (De Morgan); evt.type (or syscall.type) with =, ==, in gives an explicit set, != its
// complement; evt.num = 0 and evt.num < 1 give the empty set; every other check gives every
// type. lookup maps an evt.type value to its type; an unknown name is an error
// "unknown event type X". The condition must have its macros resolved.
//
// all is true when the condition can match every type (types is then nil). A complement is
// expanded over the syscall source's named types (event.TypeName).
func EventTypes(n Node, lookup func(string) (uint16, bool)) (types []uint16, all bool, err error) {
	s, err := evtTypes(n, false, lookup)
	if err != nil {
		return nil, false, err
	}
	if s.isAll() {
		return nil, true, nil
	}
	if s.neg {
		for t := 0; t < event.NumTypes; t++ {
			if event.TypeName(uint16(t)) != "" && s.has(uint16(t)) {
				types = append(types, uint16(t))
			}
		}
		return types, false, nil
	}
	types = make([]uint16, 0, len(s.m))
	for t := range s.m {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool { return types[i] < types[j] })
	return types, false, nil
}

func evtTypes(n Node, neg bool, lookup func(string) (uint16, bool)) (typeSet, error) {
	switch n := n.(type) {
	case *And, *Or:
		var children []Node
		isAnd := false
		if a, ok := n.(*And); ok {
			children, isAnd = a.Children, true
		} else {
			children = n.(*Or).Children
		}
		// Under a negation, and becomes or and the reverse.
		conj := isAnd != neg
		var acc typeSet
		for i, c := range children {
			s, err := evtTypes(c, neg, lookup)
			if err != nil {
				return typeSet{}, err
			}
			switch {
			case i == 0:
				acc = s
			case conj:
				acc = intersect(acc, s)
			default:
				acc = union(acc, s)
			}
		}
		return acc, nil
	case *Not:
		return evtTypes(n.Child, !neg, lookup)
	case *Ident:
		return typeSet{}, fmt.Errorf("undefined macro '%s' in condition", n.Name)
	case *Check:
		return checkTypes(n, neg, lookup)
	}
	return allTypes(), nil
}

func checkTypes(n *Check, neg bool, lookup func(string) (uint16, bool)) (typeSet, error) {
	f := n.Field
	if f.Transformer != "" {
		if b := f.Base(); b.Name == "evt.type" || b.Name == "syscall.type" {
			return typeSet{}, fmt.Errorf("evt.type cannot be used with a field transformer")
		}
		return allTypes(), nil
	}
	switch f.Name {
	case "evt.num":
		if n.Value != nil && n.Value.Kind == ValueString && !f.HasArg {
			v, err := strconv.ParseInt(n.Value.Str, 10, 64)
			if err == nil && ((n.Op == "=" || n.Op == "==") && v == 0 || n.Op == "<" && v <= 1 || n.Op == "<=" && v <= 0) {
				if neg {
					return allTypes(), nil
				}
				return noTypes(), nil
			}
		}
		return allTypes(), nil
	case "evt.type", "syscall.type":
	default:
		return allTypes(), nil
	}
	if n.Mod != "" {
		// A modifier makes the check a count over items; every type stays possible.
		return allTypes(), nil
	}
	var names []string
	switch n.Op {
	case "=", "==", "!=", "in":
		if n.Value.Kind == ValueField {
			return typeSet{}, fmt.Errorf("%s cannot be compared with a field", f.Name)
		}
		names = n.Value.List
		if n.Value.Kind == ValueString {
			names = []string{n.Value.Str}
		}
	default:
		return allTypes(), nil
	}
	s := typeSet{m: make(map[uint16]struct{}, len(names))}
	for _, name := range names {
		t, ok := lookup(name)
		if !ok {
			return typeSet{}, fmt.Errorf("unknown event type %s", name)
		}
		s.m[t] = struct{}{}
	}
	if n.Op == "!=" {
		s = s.complement()
	}
	if neg {
		s = s.complement()
	}
	return s, nil
}
