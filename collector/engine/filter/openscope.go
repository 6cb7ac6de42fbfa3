package filter

import (
	"slices"
	"strings"
)

// OpenScope bounds the open-family events (open, openat, openat2, creat) a condition can match,
// in terms the capture's kernel side can test before it reports an open: the call's access mode
// and the path as the caller passed it. An open can match only if
//
//	Any || (Writes && it asks for write access) || (Odd && its path is not canonical) ||
//	its path starts with one of Prefixes
//
// where a canonical path is absolute with no "//", "/." or ".." in it and no trailing slash, so
// that it equals fd.name. The bound is conservative: whatever the analysis cannot express
// (process fields, fd.filename, contains, transformers...) widens it, never narrows it.
type OpenScope struct {
	// Any: some open the tests below say nothing about can match; report every open.
	Any bool
	// Writes: opens asking for write access (O_WRONLY or O_RDWR) can match.
	Writes bool
	// Odd: opens of non-canonical paths can match (fd.nameraw checks for "../").
	Odd bool
	// Prefixes: opens whose path starts with one of these can match. An exact fd.name is its
	// path followed by a NUL byte, so that "/etc/shadow\x00" does not match "/etc/shadow-".
	Prefixes []string
}

// Merge widens s to also cover o (the scope of a set of rules is the merge of theirs).
func (s *OpenScope) Merge(o OpenScope) {
	s.Any = s.Any || o.Any
	s.Writes = s.Writes || o.Writes
	s.Odd = s.Odd || o.Odd
	for _, p := range o.Prefixes {
		if !slices.Contains(s.Prefixes, p) {
			s.Prefixes = append(s.Prefixes, p)
		}
	}
	slices.Sort(s.Prefixes)
}

// maxOpenTerms bounds the disjunctions the analysis keeps: beyond it, terms are merged into one
// wider term, which is still a correct bound.
const maxOpenTerms = 64

// openTerm is a conjunction of kernel-testable requirements: write access, a path prefix among
// prefixes (nil: any path), a non-canonical path. A condition's bound is a disjunction of terms;
// no term at all means the condition cannot match an open.
type openTerm struct {
	write    bool
	odd      bool
	prefixes []string
}

// OpenFamily names the event types an OpenScope is about.
var OpenFamily = []string{"open", "openat", "openat2", "creat"}

// OpenScopeOf computes the OpenScope of a condition whose macros are resolved. evt.type checks
// are decided over OpenFamily: one that some of its types pass and others fail is left undecided,
// which widens the bound.
func OpenScopeOf(n Node) OpenScope {
	var s OpenScope
	for _, t := range openTerms(n) {
		switch {
		case t.odd:
			// the kernel reports every non-canonical path when Odd is set
			s.Odd = true
		case t.write:
			// writes are rare next to reads: reporting them all is cheaper than reporting
			// every access to the term's paths
			s.Writes = true
		case t.prefixes != nil:
			s.Merge(OpenScope{Prefixes: t.prefixes})
		default:
			s.Any = true
		}
	}
	if s.Any {
		return OpenScope{Any: true}
	}
	if len(s.Prefixes) > 0 {
		// prefix tests are only exact on canonical paths: the others must be reported too
		s.Odd = true
	}
	return s
}

var anyOpen = []openTerm{{}}

func openTerms(n Node) []openTerm {
	if v, ok := openConst(n); ok {
		if v {
			return anyOpen
		}
		return nil
	}
	switch n := n.(type) {
	case *And:
		acc := anyOpen
		for _, c := range n.Children {
			acc = andTerms(acc, openTerms(c))
			if len(acc) == 0 {
				return nil
			}
		}
		return acc
	case *Or:
		var acc []openTerm
		for _, c := range n.Children {
			acc = append(acc, openTerms(c)...)
		}
		return capTerms(acc)
	case *Check:
		return checkTerms(n)
	}
	// a negation of anything but evt.type tests, or an unresolved macro: undecided
	return anyOpen
}

// openConst decides conditions made of evt.type and evt.num tests only, which are constant over
// the open family (or not decidable: ok false).
func openConst(n Node) (v, ok bool) {
	switch n := n.(type) {
	case *Not:
		v, ok := openConst(n.Child)
		return !v, ok
	case *And, *Or:
		var children []Node
		isAnd := false
		if a, ok := n.(*And); ok {
			children, isAnd = a.Children, true
		} else {
			children = n.(*Or).Children
		}
		// and: false if one child is false, true if all are true; or: the dual
		known := true
		for _, c := range children {
			cv, cok := openConst(c)
			if cok && cv != isAnd {
				return !isAnd, true
			}
			known = known && cok
		}
		return isAnd, known
	case *Check:
		f := n.Field
		if f.Transformer != "" || f.HasArg || n.Mod != "" || n.Value == nil {
			return false, false
		}
		switch f.Name {
		case "evt.num":
			// never_true is evt.num=0: event numbers start at 1
			if n.Value.Kind == ValueString && (n.Op == "=" || n.Op == "==") && n.Value.Str == "0" {
				return false, true
			}
		case "evt.type", "syscall.type":
			var names []string
			switch {
			case n.Value.Kind == ValueList:
				names = n.Value.List
			case n.Value.Kind == ValueString:
				names = []string{n.Value.Str}
			default:
				return false, false
			}
			if n.Op != "=" && n.Op != "==" && n.Op != "in" && n.Op != "!=" {
				return false, false
			}
			// "in (openat)" passes openat and fails open: undecided unless the list names
			// every open type (then true) or none (false).
			some, all := false, true
			for _, name := range OpenFamily {
				if slices.Contains(names, name) {
					some = true
				} else {
					all = false
				}
			}
			switch {
			case !some:
				return n.Op == "!=", true
			case all:
				return n.Op != "!=", true
			}
		}
	}
	return false, false
}

func checkTerms(n *Check) []openTerm {
	f := n.Field
	if f.Transformer != "" || f.HasArg || n.Mod != "" || n.Value == nil || n.Value.Kind == ValueField {
		return anyOpen
	}
	vals := n.Value.List
	if n.Value.Kind == ValueString {
		vals = []string{n.Value.Str}
	}
	switch f.Name {
	case "evt.is_open_write":
		if n.Op == "=" || n.Op == "==" {
			if b := strings.ToLower(n.Value.Str); b == "true" || b == "1" {
				return []openTerm{{write: true}}
			}
		}
	case "fd.name", "fd.nameraw":
		var pfx []string
		for _, v := range vals {
			var p string
			switch n.Op {
			case "=", "==", "in":
				p = v + "\x00"
			case "startswith", "pmatch":
				p = v
			case "glob":
				p = v[:strings.IndexAny(v+"*", `*?[\`)]
			case "contains":
				// fd.nameraw keeps "..": a test for it is a test for a non-canonical path
				if f.Name == "fd.nameraw" && len(vals) == 1 && oddText(v) {
					return []openTerm{{odd: true}}
				}
				return anyOpen
			default:
				return anyOpen
			}
			if !strings.HasPrefix(p, "/") {
				return anyOpen
			}
			pfx = append(pfx, p)
		}
		if len(pfx) > 0 {
			return []openTerm{{prefixes: pfx}}
		}
	case "fd.directory":
		if n.Op != "=" && n.Op != "==" && n.Op != "in" {
			return anyOpen
		}
		var pfx []string
		for _, v := range vals {
			if !strings.HasPrefix(v, "/") {
				return anyOpen
			}
			// the files in the directory, and the directory itself when opened as one
			pfx = append(pfx, v)
		}
		if len(pfx) > 0 {
			return []openTerm{{prefixes: pfx}}
		}
	}
	return anyOpen
}

// oddText reports whether every path containing s is non-canonical.
func oddText(s string) bool {
	return strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "/.")
}

func andTerms(a, b []openTerm) []openTerm {
	var out []openTerm
	for _, x := range a {
		for _, y := range b {
			t := openTerm{write: x.write || y.write, odd: x.odd || y.odd}
			switch {
			case x.prefixes == nil:
				t.prefixes = y.prefixes
			case y.prefixes == nil:
				t.prefixes = x.prefixes
			default:
				// a path starting with p and with q starts with the longer one, if one of
				// them extends the other; otherwise it cannot exist
				for _, p := range x.prefixes {
					for _, q := range y.prefixes {
						switch {
						case strings.HasPrefix(p, q):
							t.prefixes = append(t.prefixes, p)
						case strings.HasPrefix(q, p):
							t.prefixes = append(t.prefixes, q)
						}
					}
				}
				if len(t.prefixes) == 0 {
					continue
				}
			}
			out = append(out, t)
		}
	}
	return capTerms(out)
}

// capTerms merges the terms into one when there are too many: a term that requires only what all
// of them require.
func capTerms(ts []openTerm) []openTerm {
	if len(ts) <= maxOpenTerms {
		return ts
	}
	m := openTerm{write: true, odd: true, prefixes: []string{}}
	for _, t := range ts {
		m.write = m.write && t.write
		m.odd = m.odd && t.odd
		if t.prefixes == nil || m.prefixes == nil {
			m.prefixes = nil
		} else {
			m.prefixes = append(m.prefixes, t.prefixes...)
		}
	}
	return []openTerm{m}
}
