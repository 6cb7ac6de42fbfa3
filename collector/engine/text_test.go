package engine

import (
	"testing"

	"gopkg.in/yaml.v3"
)

// TestSubstituteList checks Falco's resolve_list on raw text, quirks included.
func TestSubstituteList(t *testing.T) {
	for _, tc := range []struct {
		in    string
		items []string
		out   string
		used  bool
	}{
		{"proc.name in (l)", []string{"a", "b"}, "proc.name in ( a, b )", true},
		{"proc.name in (l, c)", []string{"a"}, "proc.name in ( a , c)", true},
		{"l", []string{"a"}, "a ", true},
		// After a replacement at the very start the search resumes one byte too far, so a second
		// name right after the first is missed, as in Falco.
		{"l l", []string{"x"}, "x l", true},
		{"(l l)", []string{"x"}, "( x x )", true},
		{"a = l\tor\nb = l", []string{"x"}, "a = x or\nb = x ", true},
		{"ll = 1 or l_x = 2 or xl = 3", []string{"x"}, "ll = 1 or l_x = 2 or xl = 3", false},
		{"f in (l,l)", []string{"x"}, "f in ( x , x )", true},
		{"f in (l)", nil, "f in (  )", true},
		{"f in (l, l)", nil, "f in (  )", true},
		{"f = \"l\"", []string{"x"}, "f = \"l\"", false},
		{"f = 'a l b'", []string{"x"}, "f = 'a x b'", true},
		{"f=l", []string{"x"}, "f= x ", true},
		{"l,", nil, " ", true},
	} {
		got, used := substituteList(lit(tc.in, Pos{Line: 1, Col: 1}), "l", tc.items)
		if got.s != tc.out || used != tc.used {
			t.Errorf("substitute %q: got %q (%v), want %q (%v)", tc.in, got.s, used, tc.out, tc.used)
		}
	}
}

func TestQuoteParenItem(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "a b": `"a b"`, `"a b"`: `"a b"`, `'a b'`: `'a b'`, "": ""} {
		if got := quoteItem(in); got != want {
			t.Errorf("quoteItem(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"a": "(a)", "(a, b)": "(a, b)", "": "()"} {
		if got := parenItem(in); got != want {
			t.Errorf("parenItem(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestScalarPositions checks that condition bytes map back to the right line and column for the
// scalar styles rules files use.
func TestScalarPositions(t *testing.T) {
	for _, tc := range []struct {
		name, doc, find string
		line, col       int
	}{
		{"plain", "c: evt.type = open and x\n", "x", 1, 24},
		{"double quoted", "c: \"evt.type = open and x\"\n", "x", 1, 25},
		{"single quoted", "c: 'a and x'\n", "x", 1, 11},
		{"folded", "c: >\n  evt.type = open and\n  x = 1\n", "x", 3, 3},
		{"literal", "c: |\n  a and\n    b\n  x = 1\n", "x", 1, 1},
		{"folded strip", "c: >-\n    a and\n    x\n", "x", 3, 5},
		{"plain multi-line", "c: a and\n  x = 1\n", "x", 2, 3},
		{"escaped falls back to the node", "c: \"a\\tand x\"\n", "x", 1, 4},
	} {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(tc.doc), &doc); err != nil {
			t.Fatal(err)
		}
		n := doc.Content[0].Content[1]
		m := scalarText("f", splitLines(tc.doc), n)
		if m.s != n.Value {
			t.Fatalf("%s: text %q != value %q", tc.name, m.s, n.Value)
		}
		off := len(m.s) - len(tc.find)
		for off > 0 && m.s[off:off+len(tc.find)] != tc.find {
			off--
		}
		if tc.name == "literal" {
			// The literal block has a more-indented line: the whole value maps to the node.
			tc.line, tc.col = n.Line, n.Column
		}
		if p := m.locate(off); p.Line != tc.line || p.Col != tc.col {
			t.Errorf("%s: %q at %d:%d, want %d:%d", tc.name, tc.find, p.Line, p.Col, tc.line, tc.col)
		}
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestDiagString(t *testing.T) {
	for _, tc := range []struct {
		d    Diag
		want string
	}{
		{Diag{File: "f.yaml", Line: 3, Col: 5, Kind: "rule", Item: "R x", Msg: "bad"}, `f.yaml:3:5: rule "R x": bad`},
		{Diag{File: "f.yaml", Line: 1, Col: 1, Msg: "bad"}, `f.yaml:1:1: bad`},
		{Diag{File: "f.yaml", Msg: "bad"}, `f.yaml: bad`},
		{Diag{Kind: "macro", Item: "m", Msg: "bad"}, `macro "m": bad`},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
