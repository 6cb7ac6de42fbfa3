package filter

import (
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// FuzzParse checks that no input makes the parser (or ParseFieldExpr, or the compiler on the
// synthetic registry) panic, and that the canonical form of anything that parses parses back to
// the same form.
func FuzzParse(f *testing.F) {
	for _, c := range compatConditions(f) {
		f.Add(c)
	}
	for _, tc := range parseCases {
		f.Add(tc.cond)
	}
	for _, tc := range matchCases {
		f.Add(tc.cond)
	}
	env := newTestEnv(f)
	f.Fuzz(func(t *testing.T, cond string) {
		// The output-format entry point reads a prefix: it must not panic, and what it took must
		// parse alone to the same length.
		if _, fn, err := ParseFieldExpr(cond); err == nil {
			if _, fn2, err := ParseFieldExpr(cond[:fn]); err != nil || fn2 != fn {
				t.Fatalf("ParseFieldExpr(%q) took %d bytes, but that prefix gives %d, %v", cond, fn, fn2, err)
			}
		} else if _, ok := err.(*SyntaxError); !ok {
			t.Fatalf("ParseFieldExpr(%q) returned %T, want *SyntaxError", cond, err)
		}
		n, err := Parse(cond)
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", cond, err)
			}
			return
		}
		s := String(n)
		n2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its canonical form %q does not parse: %v", cond, s, err)
		}
		if s2 := String(n2); s2 != s {
			t.Fatalf("canonical form of %q is not stable: %q then %q", cond, s, s2)
		}
		if String(Clone(n)) != s {
			t.Fatalf("Clone changed %q", s)
		}
		_, _, _ = EventTypes(n, event.TypeByName)
		if m, _, err := Compile(n, env); err == nil {
			env.cur = vals{}
			m(&event.Event{})
		}
	})
}
