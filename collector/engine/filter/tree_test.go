package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

func mustParse(t testing.TB, s string) Node {
	t.Helper()
	n, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return n
}

func macroLookup(t testing.TB, defs map[string]string) func(string) (Node, bool) {
	parsed := map[string]Node{}
	for k, v := range defs {
		parsed[k] = mustParse(t, v)
	}
	return func(name string) (Node, bool) { n, ok := parsed[name]; return n, ok }
}

func TestResolveMacros(t *testing.T) {
	defs := map[string]string{
		"open_read": "evt.type in (open, openat) and evt.is_open_read = true",
		"container": "container.id != host",
		"both":      "open_read and container",
		"neg":       "not container",
		"self":      "self and a.b exists",
		"loop1":     "loop2 or a.b exists",
		"loop2":     "x.y = 1 and loop1",
		"bad":       "nothere",
	}
	cases := []struct{ cond, want, err string }{
		{cond: "open_read", want: "(evt.type in (open, openat) and evt.is_open_read = true)"},
		{cond: "container and proc.name = x", want: "(container.id != host and proc.name = x)"},
		{cond: "both or neg", want: "(((evt.type in (open, openat) and evt.is_open_read = true) and container.id != host) or not container.id != host)"},
		{cond: "not both", want: "not ((evt.type in (open, openat) and evt.is_open_read = true) and container.id != host)"},
		{cond: "container and container", want: "(container.id != host and container.id != host)"},
		{cond: "proc.name = container", want: "proc.name = container"}, // a value is not a macro reference
		{cond: "self", err: "reference loop in macro 'self'"},
		{cond: "loop1", err: "reference loop in macro 'loop1'"},
		{cond: "a.b exists and loop2", err: "reference loop in macro 'loop2'"},
		{cond: "missing", err: "Undefined macro 'missing' used in filter."},
		{cond: "bad", err: "Undefined macro 'nothere' used in filter."},
	}
	lookup := macroLookup(t, defs)
	for _, tc := range cases {
		orig := mustParse(t, tc.cond)
		before := String(orig)
		got, err := ResolveMacros(orig, lookup)
		if String(orig) != before {
			t.Errorf("%q: ResolveMacros changed its input to %s", tc.cond, String(orig))
		}
		if tc.err != "" {
			var me *MacroError
			if err == nil || err.Error() != tc.err || !errors.As(err, &me) {
				t.Errorf("%q: error %v, want %q", tc.cond, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cond, err)
			continue
		}
		if s := String(got); s != tc.want {
			t.Errorf("%q resolved to %s, want %s", tc.cond, s, tc.want)
		}
	}
	// Unknown macros wrap ErrUndefinedMacro and carry the position of the reference.
	_, err := ResolveMacros(mustParse(t, "a.b exists and\n missing"), lookup)
	var me *MacroError
	if !errors.Is(err, ErrUndefinedMacro) || !errors.As(err, &me) || me.Pos.Line != 2 || me.Pos.Col != 2 {
		t.Errorf("error %#v, want ErrUndefinedMacro at 2:2", err)
	}
	// Each use is an independent copy.
	res, err := ResolveMacros(mustParse(t, "container and container"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	and := res.(*And)
	and.Children[0].(*Check).Value.Str = "changed"
	if String(and.Children[1]) != "container.id != host" {
		t.Errorf("macro copies share nodes: %s", String(res))
	}
	again, _ := ResolveMacros(mustParse(t, "container"), lookup)
	if String(again) != "container.id != host" {
		t.Errorf("macro body was modified: %s", String(again))
	}
}

func TestCloneAndWalk(t *testing.T) {
	n := mustParse(t, "a and not (b.c in (x, y) or tolower(d.e) = val(f.g)) and h.i exists")
	c := Clone(n)
	if String(c) != String(n) {
		t.Fatalf("clone prints %s, want %s", String(c), String(n))
	}
	c.(*And).Children[1].(*Not).Child.(*Or).Children[0].(*Check).Value.List[0] = "z"
	c.(*And).Children[1].(*Not).Child.(*Or).Children[1].(*Check).Field.Inner.Name = "q.q"
	if strings.Contains(String(n), "z") || strings.Contains(String(n), "q.q") {
		t.Errorf("clone shares storage with the original: %s", String(n))
	}
	var kinds []string
	Walk(n, func(x Node) bool {
		switch x := x.(type) {
		case *And:
			kinds = append(kinds, "and")
		case *Or:
			kinds = append(kinds, "or")
		case *Not:
			kinds = append(kinds, "not")
		case *Check:
			kinds = append(kinds, x.Field.Base().Name)
		case *Ident:
			kinds = append(kinds, "#"+x.Name)
		}
		return true
	})
	if got := strings.Join(kinds, " "); got != "and #a not or b.c d.e h.i" {
		t.Errorf("walk order %q", got)
	}
	count := 0
	Walk(n, func(x Node) bool { count++; _, isNot := x.(*Not); return !isNot })
	if count != 4 { // and, a, not (its subtree skipped), h.i
		t.Errorf("walk with pruning visited %d nodes, want 4", count)
	}
}

func TestEventTypes(t *testing.T) {
	ty := func(name string) uint16 {
		v, ok := event.TypeByName(name)
		if !ok {
			t.Fatalf("no event type %s", name)
		}
		return v
	}
	named := 0
	for i := 0; i < event.NumTypes; i++ {
		if event.TypeName(uint16(i)) != "" {
			named++
		}
	}
	open, openat, closeT, execve := ty("open"), ty("openat"), ty("close"), ty("execve")
	cases := []struct {
		cond  string
		want  []uint16
		all   bool
		count int      // for complements: the expected size
		excl  []uint16 // for complements: types that must be absent
		err   string
	}{
		{cond: "evt.type = open", want: []uint16{open}},
		{cond: "evt.type == open", want: []uint16{open}},
		{cond: "evt.type in (openat, open)", want: []uint16{open, openat}},
		{cond: "syscall.type = open", want: []uint16{open}},
		{cond: "evt.type = open and proc.name = x", want: []uint16{open}},
		{cond: "evt.type = open or proc.name = x", all: true},
		{cond: "evt.type = open or evt.type = close", want: []uint16{open, closeT}},
		{cond: "evt.type = open and evt.type = close", want: []uint16{}},
		{cond: "evt.type in (open, close) and not evt.type = close", want: []uint16{open}},
		{cond: "evt.type != open", count: named - 1, excl: []uint16{open}},
		{cond: "not evt.type = open", count: named - 1, excl: []uint16{open}},
		{cond: "not evt.type in (open, close)", count: named - 2, excl: []uint16{open, closeT}},
		{cond: "not evt.type != open", want: []uint16{open}},
		{cond: "not (evt.type = open and proc.name = x)", all: true}, // De Morgan: not open or not x
		{cond: "not (evt.type != open or proc.name = x)", want: []uint16{open}},
		{cond: "not (evt.type = open or evt.type = close)", count: named - 2, excl: []uint16{open, closeT}},
		{cond: "evt.num = 0", want: []uint16{}},
		{cond: "evt.num < 1", want: []uint16{}},
		{cond: "not evt.num = 0", all: true},
		{cond: "evt.num = 1", all: true},
		{cond: "evt.type = open and evt.num = 0", want: []uint16{}},
		{cond: "evt.type = open or evt.num = 0", want: []uint16{open}},
		{cond: "evt.type in (execve) and (evt.num = 0 or proc.name = x)", want: []uint16{execve}},
		{cond: "evt.type exists", all: true},
		{cond: "evt.type = anyof (open, close)", all: true},
		{cond: "evt.type startswith op", all: true},
		{cond: "proc.name = x", all: true},
		{cond: "evt.type in shell_binaries", err: "unknown event type shell_binaries"},
		{cond: "evt.type = nope", err: "unknown event type nope"},
		{cond: "evt.type in (open, nope)", err: "unknown event type nope"},
		{cond: "tolower(evt.type) = open", err: "transformer"},
		{cond: "evt.type = val(proc.name)", err: "cannot be compared with a field"},
		{cond: "macro_ref", err: "undefined macro"},
	}
	for _, tc := range cases {
		got, all, err := EventTypes(mustParse(t, tc.cond), event.TypeByName)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.cond, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.cond, err)
			continue
		}
		if all != tc.all {
			t.Errorf("%q: all = %v, want %v", tc.cond, all, tc.all)
			continue
		}
		if tc.count > 0 {
			if len(got) != tc.count {
				t.Errorf("%q: %d types, want %d", tc.cond, len(got), tc.count)
			}
			for _, x := range got {
				for _, e := range tc.excl {
					if x == e {
						t.Errorf("%q: contains type %d", tc.cond, e)
					}
				}
			}
			continue
		}
		if !tc.all && !equalTypes(got, tc.want) {
			t.Errorf("%q: types %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func equalTypes(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
