package engine

import (
	"strings"
	"testing"
)

// TestBadInput checks that each kind of broken rules file gives one clear error naming the
// file, line and column, with the exact text users will see.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want string
	}{
		{"malformed YAML", "- rule: r\n  desc: [unclosed\n", `a.yaml:2:1: invalid YAML: did not find expected ',' or ']'`},
		{"bad indentation", "- rule: r\n   desc: x\n  output: y\n", `a.yaml:2:1: invalid YAML: mapping values are not allowed in this context`},
		{"tab indentation", "- rule: r\n\tdesc: x\n", `a.yaml:2:1: invalid YAML: found a tab character that violates indentation`},
		{"not a sequence", "rule: r\n", `a.yaml:1:1: Rules content is not yaml array of objects`},
		{"scalar document", "hello\n", `a.yaml:1:1: Rules content is not yaml`},
		{"item not a mapping", "- just a string\n", `a.yaml:1:3: Unexpected element type. Each element should be a yaml associative array.`},
		{"unknown field", rule("r", "evt.type = open and proc.nmae = bash"),
			`a.yaml:4:25: rule "r": unknown field "proc.nmae" for source syscall`},
		{"unknown field inside a macro", macro("m", "proc.nmae = bash") + rule("r", "evt.type = open and m"),
			`a.yaml:3:5: rule "r": unknown field "proc.nmae" for source syscall`},
		{"unknown macro", rule("r", "evt.type = open and not trusted"),
			`a.yaml:4:29: rule "r": Undefined macro 'trusted' used in filter.`},
		{"list item used as a macro", list("trusted", "a") + rule("r", "evt.type = open and not trusted"),
			`a.yaml:6:28: rule "r": Undefined macro 'a' used in filter.`},
		{"list without parentheses", list("shells", "bash", "sh") + rule("r", "proc.name in shells"),
			`a.yaml:6:17: rule "r": unexpected token after 'bash', expecting 'or', 'and'`},
		{"bad operator", rule("r", "proc.name like bash"),
			`a.yaml:4:15: rule "r": expected a valid check operator: one of 'exists', '<=', '<', '>=', '>', '==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch'`},
		{"operator the type does not support", rule("r", "evt.type = open and fd.num contains 3"),
			`a.yaml:4:25: rule "r": operator 'contains' is not supported by field fd.num of type INT64`},
		{"type mismatch", rule("r", "evt.type = open and fd.num = abc"),
			`a.yaml:4:34: rule "r": invalid value 'abc' for field fd.num of type INT64: abc is not a valid number`},
		{"unknown event type", rule("r", "evt.type = nosuchcall"),
			`a.yaml:4:16: rule "r": unknown event type nosuchcall`},
		{"invalid priority", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: urgent\n",
			`a.yaml:5:13: rule "r": Invalid priority "urgent": use one of emergency, alert, critical, error, warning, notice, informational (info), debug`},
		{"duplicate key in a rule", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: info\n  condition: evt.type = close\n",
			`a.yaml:6:3: rule "r": duplicate key 'condition' (first defined at line 3)`},
		{"duplicate key in an exception", rule("r", "evt.type = open", "exceptions:\n    - name: e\n      name: f\n      fields: proc.name\n"),
			`a.yaml:9:7: rule "r": duplicate key 'name' (first defined at line 8)`},
		{"missing condition", "- rule: r\n  desc: d\n  output: o\n  priority: info\n", `a.yaml:1:3: rule "r": Item has no mapping for key 'condition'`},
		{"missing output", "- rule: r\n  desc: d\n  condition: evt.type = open\n  priority: info\n", `a.yaml:1:3: rule "r": Item has no mapping for key 'output'`},
		{"missing desc", "- rule: r\n  condition: evt.type = open\n  output: o\n  priority: info\n", `a.yaml:1:3: rule "r": Item has no mapping for key 'desc'`},
		{"missing priority", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n", `a.yaml:1:3: rule "r": Item has no mapping for key 'priority'`},
		{"missing list items", "- list: l\n", `a.yaml:1:3: list "l": Item has no mapping for key 'items'`},
		{"list items not a sequence", "- list: l\n  items: a\n", `a.yaml:2:10: list "l": Value is not a sequence`},
		{"missing macro condition", "- macro: m\n", `a.yaml:1:3: macro "m": Item has no mapping for key 'condition'`},
		{"empty rule name", "- rule: ''\n", `a.yaml:1:9: rule "": Value must be non-empty`},
		{"null condition", "- rule: r\n  desc: d\n  condition:\n  output: o\n  priority: info\n", `a.yaml:1:3: rule "r": Mapping for key 'condition' is empty`},
		{"condition not a scalar", "- rule: r\n  desc: d\n  condition: [a]\n  output: o\n  priority: info\n", `a.yaml:3:14: rule "r": Value is not a scalar value`},
		{"syntax error in a block condition", "- rule: r\n  desc: d\n  condition: >\n    evt.type = open and\n    (proc.name = a or\n  output: o\n  priority: info\n",
			`a.yaml:5:22: rule "r": expected a '(' token, a field check, or an identifier`},
		{"bad output token", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"x %proc.nosuch\"\n  priority: info\n",
			`a.yaml:4:11: rule "r": invalid output format at offset 2: unknown filter: unknown field "proc.nosuch" for source syscall`},
		{"output ending with %", "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: \"x %\"\n  priority: info\n",
			`a.yaml:4:11: rule "r": invalid output format at offset 2: formatting cannot end with a %`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := load(tc.file)
			got := strings.Join(diagStrings(res.Errors), "\n")
			if got != tc.want {
				t.Errorf("errors:\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}
