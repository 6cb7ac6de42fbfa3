package filter

import (
	"errors"
	"strings"
	"testing"
)

// parseCases: a condition and either its canonical form (want) or a syntax error (err, a
// substring of the message). Expected results are libsinsp's; cases marked "quirk" check a
// lexer or parser oddity that rules in the wild may depend on.
var parseCases = []struct {
	cond, want, err string
}{
	// Precedence and shape.
	{cond: "a", want: "a"},
	{cond: "a and b", want: "(a and b)"},
	{cond: "a or b", want: "(a or b)"},
	{cond: "a and b and c", want: "(a and b and c)"},
	{cond: "a or b or c", want: "(a or b or c)"},
	{cond: "a or b and c", want: "(a or (b and c))"},
	{cond: "a and b or c", want: "((a and b) or c)"},
	{cond: "not a and b", want: "(not a and b)"},
	{cond: "not a or not b", want: "(not a or not b)"},
	{cond: "(a or b) and c", want: "((a or b) and c)"},
	{cond: "((a))", want: "a"},
	{cond: "a and (b and c)", want: "(a and (b and c))"},
	{cond: "not (a)", want: "not a"},
	{cond: "not(a or b)", want: "not (a or b)"},
	{cond: "not not a", want: "a"},           // quirk: each `not ` toggles, no node for a double negation
	{cond: "not not not a", want: "not a"},   // quirk
	{cond: "not not(a)", want: "a"},          // quirk: `not(` toggles too
	{cond: "not\ta", want: "not a"},          // any [:space:] after not
	{cond: "notb", want: "notb"},             // quirk: identifier, not a negation
	{cond: "not", want: "not"},               // quirk: a lone `not` is an identifier
	{cond: "a and not", want: "(a and not)"}, // quirk
	{cond: "a and and", want: "(a and and)"}, // quirk: `and` in check position is an identifier
	{cond: "(a)and(b)", want: "(a and b)"},   // symbolic boundaries need no blank
	{cond: "a and(b or c)", want: "(a and (b or c))"},
	{cond: "(a)or(b)", want: "(a or b)"},
	{cond: "\n a \r\n and\tb ", want: "(a and b)"},
	{cond: "evt.type=open and proc.name in (ash, bash)", want: "(evt.type = open and proc.name in (ash, bash))"},
	{cond: "a andb", err: "expected blank or '(' after 'and'"}, // quirk
	{cond: "a orb", err: "expected blank or '(' after 'or'"},   // quirk
	{cond: "a or", err: "expected blank or '(' after 'or'"},
	{cond: "a or ", err: "expected a '(' token, a field check, or an identifier"},
	{cond: "a or(b) and c", err: "unexpected token after ')', expecting 'or', 'and'"}, // quirk: `or(` takes only the group
	{cond: "a AND b", err: "unexpected token after 'a', expecting 'or', 'and'"},       // keywords are case-sensitive
	{cond: "a b", err: "unexpected token after 'a', expecting 'or', 'and'"},
	{cond: "(a", err: "expected a ')' token"},
	{cond: "a)", err: "unexpected token after 'a', expecting 'or', 'and'"},
	{cond: "()", err: "expected a '(' token, a field check, or an identifier"},
	{cond: "", err: "filter input string is empty"},
	{cond: "   ", err: "expected a '(' token, a field check, or an identifier"},
	{cond: "1", err: "expected a '(' token, a field check, or an identifier"},
	{cond: "_a", err: "expected a '(' token, a field check, or an identifier"},

	// Operators and their lexing.
	{cond: "x.y exists", want: "x.y exists"},
	{cond: "not x.y exists", want: "not x.y exists"},
	{cond: "x.y ExIsTs", err: "expected a valid check operator"},                               // operators are case-sensitive
	{cond: "test.op existsand macro", want: "(test.op exists and macro)"},                      // quirk: no boundary before and
	{cond: "test.op existsfoo", err: "unexpected token after 'exists', expecting 'or', 'and'"}, // quirk
	{cond: "proc.name inshell_binaries", want: "proc.name in shell_binaries"},                  // quirk
	{cond: "proc.name in shell_binaries", want: "proc.name in shell_binaries"},
	{cond: "x.y in(a)", want: "x.y in (a)"},
	{cond: "x.y intersects (a, b)", want: "x.y intersects (a, b)"},
	{cond: "x.y pmatch (/a, /b)", want: "x.y pmatch (/a, /b)"},
	{cond: "x.y in ()", want: "x.y in ()"},
	{cond: "x.y in ( )", want: "x.y in ()"},
	{cond: "x.y in ( a , b )", want: "x.y in (a, b)"},
	{cond: "x.y in (a,)", err: "expected a string value"},
	{cond: "x.y in (,a)", err: "expected a ')' token"},
	{cond: "x.y in (a,,b)", err: "expected a string value"},
	{cond: "x.y in (a b)", err: "expected a ')' token"},
	{cond: "x.y in (a=b)", err: "expected a ')' token"},
	{cond: "x.y in (tolower(p.n))", err: "expected a ')' token"}, // no transformers inside lists
	{cond: "x.y in (\"a b\", 'c,d')", want: "x.y in (\"a b\", \"c,d\")"},
	{cond: "x.y in 1", err: "expected a list, an identifier, or a field with a valid transformer"},
	{cond: "proc.name=x", want: "proc.name = x"},
	{cond: "proc.name==x", want: "proc.name == x"},
	{cond: "proc.name!=x", want: "proc.name != x"},
	{cond: "fd.num>=0", want: "fd.num >= 0"},
	{cond: "fd.num<=0", want: "fd.num <= 0"},
	{cond: "fd.num<0", want: "fd.num < 0"},
	{cond: "fd.num>0", want: "fd.num > 0"},
	{cond: "fd.num > -1", want: "fd.num > -1"},
	{cond: "fd.num > +1", want: "fd.num > +1"},
	{cond: "fd.num > 1.5e+3", want: "fd.num > 1.5e+3"},
	{cond: "fd.num <= 0x12345", want: "fd.num <= 0x12345"}, // parses; the compiler refuses it
	{cond: "fd.num > a", err: "expected a number value or a field with a valid transformer"},
	{cond: "fd.num > 1a", err: "unexpected token after '1', expecting 'or', 'and'"},
	{cond: "proc.name contains x", want: "proc.name contains x"},
	{cond: "proc.name icontains x", want: "proc.name icontains x"},
	{cond: "proc.name bcontains 41", want: "proc.name bcontains 41"},
	{cond: "proc.name startswith x", want: "proc.name startswith x"},
	{cond: "proc.name bstartswith 41", want: "proc.name bstartswith 41"},
	{cond: "proc.name endswith x", want: "proc.name endswith x"},
	{cond: "proc.name glob x*", want: "proc.name glob x*"},
	{cond: "proc.name iglob x*", want: "proc.name iglob x*"},
	{cond: "proc.name regex 'a.*'", want: "proc.name regex a.*"},
	{cond: "proc.name contains\"x\"", err: "expected a valid check operator"}, // quirk: word operators need a blank
	{cond: "proc.name contains\tx", err: "expected a valid check operator"},   // quirk: and the blank is a space
	{cond: "proc.name startswith(x)", err: "expected a valid check operator"},
	{cond: "proc.name = a b", err: "unexpected token after 'a', expecting 'or', 'and'"},
	{cond: "proc.name = a,b", err: "unexpected token after 'a', expecting 'or', 'and'"},
	{cond: "a.b = b = 1", err: "unexpected token after 'b', expecting 'or', 'and'"},
	{cond: "proc.name =", err: "expected a string value or a field with a valid transformer"},
	{cond: "proc.name", err: "expected a valid check operator"},
	{cond: "proc.name ~ x", err: "expected a valid check operator"},
	{cond: "proc.name = and", want: "proc.name = and"},
	{cond: "proc.name = x and y", want: "(proc.name = x and y)"},
	{cond: "proc.name = runc:[0:PARENT]", want: "proc.name = runc:[0:PARENT]"},
	{cond: `proc.name = a\b`, want: `proc.name = "a\\b"`}, // bare strings are verbatim
	{cond: "proc.name = :/.*?[]{}!@#$%^&|;", want: "proc.name = :/.*?[]{}!@#$%^&|;"},
	{cond: "proc.name = tolower", want: "proc.name = tolower"},

	// Quoted strings and escapes.
	{cond: `proc.name = "a b"`, want: `proc.name = "a b"`},
	{cond: `proc.name = 'a b'`, want: `proc.name = "a b"`},
	{cond: `proc.name = "ab"`, want: `proc.name = ab`},
	{cond: `proc.name = 'say "hi"'`, want: `proc.name = "say \"hi\""`},
	{cond: `proc.name = "it's"`, want: `proc.name = "it's"`},
	{cond: `proc.name = "a\tb"`, want: `proc.name = "a\tb"`},
	{cond: `proc.name = "a\nb\rc\bd\fe"`, want: `proc.name = "a\nb\rc\bd\fe"`},
	{cond: `proc.name = "a\/b"`, want: `proc.name = a/b`},
	{cond: `proc.name = "a\\b"`, want: `proc.name = "a\\b"`},
	{cond: `proc.name = "a\ b"`, want: `proc.name = "a\\b"`}, // legacy: backslash-space is a backslash
	{cond: `proc.name = "a\"b"`, want: `proc.name = "a\"b"`},
	{cond: `proc.name = 'a\'b'`, want: `proc.name = "a'b"`},
	{cond: `proc.name = "\x41\x62"`, want: `proc.name = Ab`},
	{cond: `proc.name = "a\qb"`, err: `unsupported string escape sequence: \q`},
	{cond: `proc.name = 'a\"b'`, err: `invalid \" escape in '-quoted string`},
	{cond: `proc.name = "a\'b"`, err: `invalid \' escape in "-quoted string`},
	{cond: `proc.name = "\x4"`, err: `unsupported string escape sequence`},
	{cond: `proc.name = "abc`, err: "expected a string value or a field with a valid transformer"},
	{cond: `proc.name = "a" and b`, want: `(proc.name = a and b)`},
	{cond: `proc.name = ""`, want: `proc.name = ""`},       // lanner prints "" where Falco prints nothing
	{cond: `proc.name = "a,b"`, want: `proc.name = "a,b"`}, // quoted so it parses again
	{cond: `proc.name = "val(x.y)"`, want: `proc.name = "val(x.y)"`},
	{cond: `(A.A=\)`, want: `A.A = "\x5c"`},               // found by fuzzing: "\\" cannot end a quoted string
	{cond: `x.y = "a\\"`, err: "expected a string value"}, // quirk: the closing quote counts as escaped
	{cond: "not(not A)", want: "not (not A)"},             // found by fuzzing: kept as a double negation
	{cond: "not (not A)", want: "not (not A)"},

	// Field arguments.
	{cond: "proc.aname[2] = x", want: "proc.aname[2] = x"},
	{cond: "evt.arg[0] = x", want: "evt.arg[0] = x"},
	{cond: "evt.arg.flags contains O_CREAT", want: "evt.arg.flags contains O_CREAT"},
	{cond: "jevt.value[/objectRef/resource] = pods", want: "jevt.value[/objectRef/resource] = pods"},
	{cond: "k8s.pod.label[app.kubernetes.io/name] = x", want: "k8s.pod.label[app.kubernetes.io/name] = x"},
	{cond: `proc.env["HOME DIR"] = x`, want: `proc.env["HOME DIR"] = x`},
	{cond: `proc.env['HOME'] = x`, want: `proc.env[HOME] = x`},
	{cond: "proc.aname[] = x", err: "expected a valid field argument: a quoted string or a bare string"},
	{cond: "proc.aname[2 = x", err: "expected a ']' token"},
	{cond: "proc.aname [2] = x", err: "expected a valid check operator"},
	{cond: "proc.aname.2 = x", err: "expected a valid check operator"}, // a name part cannot start with a digit
	{cond: "a.b.c.d exists", want: "a.b.c.d exists"},

	// List modifiers of string operators (libs 0.25+).
	{cond: "proc.name startswith anyof (/tmp/, /dev/shm/)", want: "proc.name startswith anyof (/tmp/, /dev/shm/)"},
	{cond: "proc.name = oneof(a, b)", want: "proc.name = oneof (a, b)"},
	{cond: "proc.name contains allof ()", want: "proc.name contains allof ()"},
	{cond: "proc.name = anyof", want: "proc.name = anyof"}, // without a list it is a plain value
	{cond: "proc.name = anyof x", err: "unexpected token after 'anyof', expecting 'or', 'and'"},
	{cond: "proc.name in anyof (a)", err: "unexpected token after 'anyof', expecting 'or', 'and'"}, // list operators take no modifier
	{cond: "fd.num > anyof (1)", err: "expected a number value"},
	{cond: "proc.name = anyof (a,)", err: "expected a string value"},

	// Transformers and val().
	{cond: "tolower(proc.name) = bash", want: "tolower(proc.name) = bash"},
	{cond: "toupper(tolower(proc.name)) = X", want: "toupper(tolower(proc.name)) = X"},
	{cond: "tolower( proc.name ) = x", want: "tolower(proc.name) = x"},
	{cond: "tolower (proc.name) = x", err: "unexpected token after 'tolower', expecting 'or', 'and'"},
	{cond: "b64(x.y) = aGk=", err: "unexpected token after 'aGk', expecting 'or', 'and'"}, // quirk: '=' ends a bare string
	{cond: "b64(x.y) = 'aGk='", want: `b64(x.y) = "aGk="`},
	{cond: "basename(x.y) exists", want: "basename(x.y) exists"},
	{cond: "len(proc.args) > 2", want: "len(proc.args) > 2"},
	{cond: "tolower(proc.aname[2]) = x", want: "tolower(proc.aname[2]) = x"},
	{cond: "tolower(x) = y", err: "expected a field or a nested valid transformer"},
	{cond: "tolower(proc.name = x", err: "expected a ')' token closing the transformer"},
	{cond: "proc.name = tolower(proc.pname)", want: "proc.name = tolower(proc.pname)"},
	{cond: "proc.name = val(proc.pname)", want: "proc.name = val(proc.pname)"},
	{cond: "proc.name = val( proc.pname )", want: "proc.name = val(proc.pname)"},
	{cond: "proc.name in val(proc.pname)", want: "proc.name in val(proc.pname)"},
	{cond: "fd.num < len(proc.name)", want: "fd.num < len(proc.name)"},
	{cond: "fd.num < val(fd.num)", want: "fd.num < val(fd.num)"},
	{cond: "proc.name = val(foo)", err: "expected a field within 'val' transformer"},
	{cond: "proc.name = val(tolower(proc.name))", err: "expected a field within 'val' transformer"}, // val wraps a plain field
	{cond: "proc.name = val(proc.pname", err: "expected a ')' token closing the transformer"},
	{cond: "val(proc.name) = x", err: "unexpected token after 'val', expecting 'or', 'and'"}, // val() only on the right
	{cond: "proc.name = tolower(proc.pname) and a", want: "(proc.name = tolower(proc.pname) and a)"},
	{cond: "tolower(proc.name) exists", want: "tolower(proc.name) exists"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		n, err := Parse(tc.cond)
		if tc.err != "" {
			if err == nil {
				t.Errorf("Parse(%q) = %s, want error %q", tc.cond, String(n), tc.err)
				continue
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("Parse(%q) error %T, want *SyntaxError", tc.cond, err)
			} else if !strings.Contains(se.Msg, tc.err) {
				t.Errorf("Parse(%q) error %q, want %q", tc.cond, se.Msg, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.cond, err)
			continue
		}
		if got := String(n); got != tc.want {
			t.Errorf("String(Parse(%q)) = %q, want %q", tc.cond, got, tc.want)
		}
		// The canonical form parses back to itself.
		n2, err := Parse(String(n))
		if err != nil {
			t.Errorf("Parse(String(Parse(%q))): %v", tc.cond, err)
		} else if got := String(n2); got != tc.want {
			t.Errorf("round trip of %q = %q, want %q", tc.cond, got, tc.want)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	cases := []struct {
		cond              string
		offset, line, col int
	}{
		{"a andc", 5, 1, 6},
		{"a and\n  b andc", 13, 2, 8},
		{"a and\r\nb andc", 12, 3, 6}, // libsinsp counts \r and \n each as a line break
		{"proc.name = \"a\\qb\"", 12, 1, 13},
		{"x.y in (a,)", 10, 1, 11},
	}
	for _, tc := range cases {
		_, err := Parse(tc.cond)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", tc.cond, err)
			continue
		}
		if se.Offset != tc.offset || se.Line != tc.line || se.Col != tc.col {
			t.Errorf("Parse(%q) error at offset %d line %d col %d, want %d %d %d (%s)", tc.cond, se.Offset, se.Line, se.Col, tc.offset, tc.line, tc.col, se.Msg)
		}
		if !strings.Contains(se.Error(), se.Msg) {
			t.Errorf("Error() %q does not include the message", se.Error())
		}
	}
}

func TestParseDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("(", n) + "a" + strings.Repeat(")", n) }
	// Falco's limit is 1000 recursion units, five per parenthesis: 199 levels parse, 200 do not.
	if _, err := Parse(nest(199)); err != nil {
		t.Errorf("199 levels: %v", err)
	}
	_, err := Parse(nest(200))
	if err == nil || !strings.Contains(err.Error(), "exceeded max depth limit of 1000") {
		t.Errorf("200 levels: %v, want the depth limit", err)
	}
	// Long flat chains are not deep.
	if _, err := Parse(strings.Repeat("a and ", 5000) + "a"); err != nil {
		t.Errorf("long chain: %v", err)
	}
}

func TestParsePositions(t *testing.T) {
	n, err := Parse("a and\n  proc.name = x")
	if err != nil {
		t.Fatal(err)
	}
	and := n.(*And)
	c := and.Children[1].(*Check)
	if c.Pos != (Pos{Offset: 8, Line: 2, Col: 3}) {
		t.Errorf("check position %+v", c.Pos)
	}
	if c.Value.Pos.Col != 15 {
		t.Errorf("value position %+v", c.Value.Pos)
	}
}

func TestParseFieldExpr(t *testing.T) {
	cases := []struct {
		in   string
		want string // canonical form; "" for an error
		n    int
		msg  string
	}{
		{"proc.name", "proc.name", 9, ""},
		{"proc.name) rest", "proc.name", 9, ""},
		{"proc.aname[2]x", "proc.aname[2]", 13, ""},
		{"evt.arg.flags", "evt.arg.flags", 13, ""},
		{`evt.arg["a]b"]`, `evt.arg["a]b"]`, 14, ""},
		{`proc.env["B\x36\x34"]`, "proc.env[B64]", 21, ""}, // quoted arguments are unescaped as in conditions
		{"tolower( proc.name )!", "tolower(proc.name)", 20, ""},
		{"tolower(toupper(fd.name))", "tolower(toupper(fd.name))", 25, ""},
		{"proc.name.", "proc.name", 9, ""},
		{"proc.name[", "", 0, "expected a valid field argument"},
		{"proc.name[a", "", 0, "expected a ']' token"},
		{`proc.env["\q"]`, "", 0, "unsupported string escape sequence"},
		{"tolower(proc.name", "", 0, "closing the transformer"},
		{"val(proc.name)", "", 0, "expected a field or a valid transformer"}, // val is right-hand side only
		{" proc.name", "", 0, "expected a field or a valid transformer"},     // no leading blanks
		{"proc", "", 0, "expected a field or a valid transformer"},
		{"", "", 0, "expected a field or a valid transformer"},
		{strings.Repeat("tolower(", 1000) + "a.b", "", 0, "exceeded max depth limit"},
	}
	for _, tc := range cases {
		f, n, err := ParseFieldExpr(tc.in)
		if tc.want == "" {
			var se *SyntaxError
			if !errors.As(err, &se) || !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("ParseFieldExpr(%q) = %v, want a *SyntaxError containing %q", tc.in, err, tc.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFieldExpr(%q): %v", tc.in, err)
			continue
		}
		var b strings.Builder
		writeField(&b, f)
		if b.String() != tc.want || n != tc.n {
			t.Errorf("ParseFieldExpr(%q) = %s, %d; want %s, %d", tc.in, b.String(), n, tc.want, tc.n)
		}
	}
}
