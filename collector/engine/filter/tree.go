package filter

import (
	"errors"
	"fmt"
)

// Clone returns a deep copy of n, so a macro body can be spliced into many rules and each copy
// changed on its own.
func Clone(n Node) Node {
	switch n := n.(type) {
	case *And:
		return &And{Children: cloneAll(n.Children), Pos: n.Pos}
	case *Or:
		return &Or{Children: cloneAll(n.Children), Pos: n.Pos}
	case *Not:
		return &Not{Child: Clone(n.Child), Pos: n.Pos}
	case *Ident:
		c := *n
		return &c
	case *Check:
		return &Check{Field: cloneField(n.Field), Op: n.Op, Mod: n.Mod, Value: cloneValue(n.Value), Pos: n.Pos}
	}
	return nil
}

func cloneAll(ns []Node) []Node {
	out := make([]Node, len(ns))
	for i, c := range ns {
		out[i] = Clone(c)
	}
	return out
}

func cloneField(f *FieldExpr) *FieldExpr {
	if f == nil {
		return nil
	}
	c := *f
	c.Inner = cloneField(f.Inner)
	return &c
}

func cloneValue(v *Value) *Value {
	if v == nil {
		return nil
	}
	c := *v
	if v.List != nil {
		c.List = append([]string{}, v.List...)
	}
	c.Field = cloneField(v.Field)
	return &c
}

// Walk calls fn for n and then, if fn returns true, for each child in order (depth first).
func Walk(n Node, fn func(Node) bool) {
	if n == nil || !fn(n) {
		return
	}
	switch n := n.(type) {
	case *And:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case *Or:
		for _, c := range n.Children {
			Walk(c, fn)
		}
	case *Not:
		Walk(n.Child, fn)
	}
}

// ErrUndefinedMacro is wrapped by ResolveMacros' error for a name lookup does not know.
var ErrUndefinedMacro = errors.New("undefined macro")

// MacroError is a macro reference that cannot be resolved: unknown, or part of a loop. Pos is
// the reference's position in the condition that ResolveMacros was given (for a reference deep
// inside another macro, the position of the outermost reference that led there).
type MacroError struct {
	Name string
	Loop bool
	Pos  Pos
}

// Error returns Falco's message for the problem.
func (e *MacroError) Error() string {
	if e.Loop {
		return fmt.Sprintf("reference loop in macro '%s'", e.Name)
	}
	return fmt.Sprintf("Undefined macro '%s' used in filter.", e.Name)
}

// Unwrap lets errors.Is(err, ErrUndefinedMacro) find unknown macros.
func (e *MacroError) Unwrap() error {
	if e.Loop {
		return nil
	}
	return ErrUndefinedMacro
}

// ResolveMacros returns a copy of n in which every Ident is replaced by a copy of the macro it
// names, itself resolved. lookup returns a macro's parsed (unresolved) condition. n is not
// modified. A macro that refers to itself, directly or through others, is an error
// "reference loop in macro 'x'"; a name lookup does not know is "Undefined macro 'x' used in
// filter." (Falco's texts); both are *MacroError.
func ResolveMacros(n Node, lookup func(name string) (Node, bool)) (Node, error) {
	r := &resolver{lookup: lookup, active: map[string]bool{}, done: map[string]Node{}}
	return r.resolve(n, nil)
}

type resolver struct {
	lookup func(string) (Node, bool)
	active map[string]bool
	// done caches resolved macro bodies: the stable rules reference the same macros many times
	// through each other, and re-resolving each use would repeat that work.
	done map[string]Node
}

func (r *resolver) resolve(n Node, outer *Ident) (Node, error) {
	switch n := n.(type) {
	case *And:
		ch, err := r.resolveAll(n.Children, outer)
		if err != nil {
			return nil, err
		}
		return &And{Children: ch, Pos: n.Pos}, nil
	case *Or:
		ch, err := r.resolveAll(n.Children, outer)
		if err != nil {
			return nil, err
		}
		return &Or{Children: ch, Pos: n.Pos}, nil
	case *Not:
		c, err := r.resolve(n.Child, outer)
		if err != nil {
			return nil, err
		}
		return &Not{Child: c, Pos: n.Pos}, nil
	case *Ident:
		at := outer
		if at == nil {
			at = n
		}
		if body, ok := r.done[n.Name]; ok {
			return Clone(body), nil
		}
		if r.active[n.Name] {
			return nil, &MacroError{Name: n.Name, Loop: true, Pos: at.Pos}
		}
		body, ok := r.lookup(n.Name)
		if !ok || body == nil {
			return nil, &MacroError{Name: n.Name, Pos: at.Pos}
		}
		r.active[n.Name] = true
		res, err := r.resolve(body, at)
		delete(r.active, n.Name)
		if err != nil {
			return nil, err
		}
		r.done[n.Name] = res
		return Clone(res), nil
	default:
		return Clone(n), nil
	}
}

func (r *resolver) resolveAll(ns []Node, outer *Ident) ([]Node, error) {
	out := make([]Node, len(ns))
	for i, c := range ns {
		var err error
		if out[i], err = r.resolve(c, outer); err != nil {
			return nil, err
		}
	}
	return out, nil
}
