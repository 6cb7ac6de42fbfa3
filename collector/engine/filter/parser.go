package filter

import (
	"fmt"
	"strings"
)

// MaxDepth is the recursion limit of the parser. Falco sets 1000 for rules; every parenthesis
// level costs five units, so a condition can nest about 199 parentheses.
const MaxDepth = 1000

// SyntaxError is a condition that does not parse. Offset is a byte offset; Line and Col are
// 1-based and count the way libsinsp does.
type SyntaxError struct {
	Offset, Line, Col int
	Msg               string
}

// Error returns the message with its line and column.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d column %d: %s", e.Line, e.Col, e.Msg)
}

// Operators in the order libsinsp's lexer tries them. The order matters: "<=" before "<", "=="
// before "=", "intersects" before "in". String operators that are words include their trailing
// blank, which is why `contains"x"` and `contains\tx` do not parse in Falco.
var (
	unaryOps   = []string{"exists"}
	numOps     = []string{"<=", "<", ">=", ">"}
	strOps     = []string{"==", "=", "!=", "glob ", "iglob ", "contains ", "icontains ", "bcontains ", "startswith ", "bstartswith ", "endswith ", "regex "}
	listOps    = []string{"intersects", "in", "pmatch"}
	transforms = []string{"tolower(", "toupper(", "b64(", "basename(", "len("}
	modifiers  = []string{"oneof", "anyof", "allof"}
)

// Ops returns every operator of the language, for help texts and tests.
func Ops() []string {
	var out []string
	for _, l := range [][]string{unaryOps, numOps, strOps, listOps} {
		for _, o := range l {
			out = append(out, strings.TrimSpace(o))
		}
	}
	return out
}

func quoteList(l []string) string {
	var b strings.Builder
	for i, s := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + strings.TrimRight(strings.TrimSpace(s), "(") + "'")
	}
	return b.String()
}

var (
	opsText          = quoteList(Ops())
	transformersText = quoteList(append([]string{"val("}, transforms...))
	// fieldTransformersText leaves out val, which only exists on the right of an operator.
	fieldTransformersText = quoteList(transforms)
)

// Parse parses a condition. It returns a *SyntaxError when the text does not parse.
func Parse(cond string) (n Node, err error) {
	p := &parser{in: cond, pos: Pos{Line: 1, Col: 1}}
	if len(cond) == 0 {
		return nil, &SyntaxError{Line: 1, Col: 1, Msg: "filter input string is empty"}
	}
	defer catchSyntaxError(&err)
	n = p.parseOr()
	if p.pos.Offset != len(p.in) {
		p.fail("unexpected token after '%s', expecting 'or', 'and'", p.last)
	}
	return n, nil
}

// ParseFieldExpr parses a field or a transformer at the start of s, with the rules of the left
// side of a check (`proc.aname[2]`, `evt.arg["a]b"]`, `tolower( proc.name )`), and returns it with
// the number of bytes it took; the rest of s is not looked at. It is Falco's
// parse_field_or_transformer, which libsinsp also uses for the %tokens of output formats. Errors
// are *SyntaxError; positions in the result are relative to s.
func ParseFieldExpr(s string) (f *FieldExpr, n int, err error) {
	p := &parser{in: s, pos: Pos{Line: 1, Col: 1}}
	defer catchSyntaxError(&err)
	if f = p.fieldOrTransformer(); f == nil {
		p.fail("expected a field or a valid transformer: %s", fieldTransformersText)
	}
	return f, p.pos.Offset, nil
}

// catchSyntaxError turns the parser's panic(*SyntaxError) into *err; any other panic is a bug and
// goes on.
func catchSyntaxError(err *error) {
	if r := recover(); r != nil {
		se, ok := r.(*SyntaxError)
		if !ok {
			panic(r)
		}
		*err = se
	}
}

// parser is a cursor over the input. Like libsinsp's, it has no separate token stream: each
// grammar rule tries the lexemes it accepts at the cursor, so what is a token depends on where
// the parser stands (`and` is a keyword after a check and an identifier in check position).
type parser struct {
	in    string
	pos   Pos
	last  string // the last lexeme consumed, for "unexpected token after" messages
	depth int
}

func (p *parser) fail(format string, args ...any) {
	panic(&SyntaxError{Offset: p.pos.Offset, Line: p.pos.Line, Col: p.pos.Col, Msg: fmt.Sprintf(format, args...)})
}

// enter counts recursion depth at the same places libsinsp does, so the nesting limit matches.
func (p *parser) enter() {
	p.depth++
	if p.depth >= MaxDepth {
		p.fail("exceeded max depth limit of %d", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) advance(n int) {
	for i := 0; i < n; i++ {
		c := p.in[p.pos.Offset]
		p.pos.Col++
		if c == '\r' || c == '\n' {
			p.pos.Col = 1
			p.pos.Line++
		}
		p.pos.Offset++
	}
}

func (p *parser) rest() string { return p.in[p.pos.Offset:] }

// take consumes n bytes as the last lexeme.
func (p *parser) take(n int) string {
	s := p.in[p.pos.Offset : p.pos.Offset+n]
	p.last = s
	p.advance(n)
	return s
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n' }

// isSpace is POSIX [:space:], used inside lexeme patterns (a wider set than isBlank).
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isIdent(c byte) bool { return isAlpha(c) || isDigit(c) || c == '_' }

func (p *parser) blank() bool {
	n := 0
	for p.pos.Offset+n < len(p.in) && isBlank(p.in[p.pos.Offset+n]) {
		n++
	}
	p.advance(n)
	return n > 0
}

func (p *parser) lit(s string) bool {
	if strings.HasPrefix(p.rest(), s) {
		p.take(len(s))
		return true
	}
	return false
}

func (p *parser) litList(l []string) (string, bool) {
	for _, s := range l {
		if p.lit(s) {
			return s, true
		}
	}
	return "", false
}

// Lexeme scanners: each returns the length of the longest match at the cursor, 0 for none.

func scanIdent(s string) int {
	if len(s) == 0 || !isAlpha(s[0]) {
		return 0
	}
	i := 1
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	return i
}

// scanFieldName matches two or more identifiers joined by dots.
func scanFieldName(s string) int {
	end := scanIdent(s)
	if end == 0 {
		return 0
	}
	parts, i := 1, end
	for i < len(s) && s[i] == '.' {
		n := scanIdent(s[i+1:])
		if n == 0 {
			break
		}
		i += 1 + n
		parts++
		end = i
	}
	if parts < 2 {
		return 0
	}
	return end
}

func scanWhile(s string, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func scanFieldArgBare(s string) int {
	return scanWhile(s, func(c byte) bool {
		return c != '[' && c != ']' && c != '"' && c != '\'' && !isSpace(c)
	})
}

func isBareStrByte(c byte) bool {
	return c != '(' && c != ')' && c != '"' && c != '\'' && c != '=' && c != ',' && !isSpace(c)
}

func scanBareStr(s string) int { return scanWhile(s, isBareStrByte) }

func scanHex(s string) int {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return 0
	}
	n := scanWhile(s[2:], func(c byte) bool {
		return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	})
	if n == 0 {
		return 0
	}
	return 2 + n
}

// scanNumber matches [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?, longest match.
func scanNumber(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	n := scanWhile(s[i:], isDigit)
	if n == 0 {
		return 0
	}
	i += n
	if i < len(s) && s[i] == '.' {
		i++
	}
	i += scanWhile(s[i:], isDigit)
	if i+2 < len(s) && (s[i] == 'e' || s[i] == 'E') && (s[i+1] == '+' || s[i+1] == '-') {
		if m := scanWhile(s[i+2:], isDigit); m > 0 {
			i += 2 + m
		}
	}
	return i
}

// scanNotBlank matches `not` followed by at least one [:space:] character.
func scanNotBlank(s string) int {
	if !strings.HasPrefix(s, "not") {
		return 0
	}
	n := scanWhile(s[3:], isSpace)
	if n == 0 {
		return 0
	}
	return 3 + n
}

func (p *parser) scan(f func(string) int) (string, bool) {
	n := f(p.rest())
	if n == 0 {
		return "", false
	}
	return p.take(n), true
}

// quoted lexes a quoted string: the closing quote is the first same quote not preceded by a
// backslash. The value is unescaped; a bad escape is a syntax error.
func (p *parser) quoted() (string, bool) {
	s := p.rest()
	if len(s) == 0 || (s[0] != '"' && s[0] != '\'') {
		return "", false
	}
	q := s[0]
	prev := byte('\\')
	for i := 0; i < len(s); i++ {
		if s[i] == q && prev != '\\' && i > 0 {
			start := p.pos
			p.take(i + 1)
			v, err := unescape(s[:i+1])
			if err != nil {
				p.pos = start
				p.fail("%s", err.Error())
			}
			p.last = v
			return v, true
		}
		prev = s[i]
	}
	return "", false
}

// unescape decodes a quoted string including its quotes.
func unescape(s string) (string, error) {
	q := s[0]
	body := s[1 : len(s)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, nil
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(body) {
			return "", fmt.Errorf("unsupported string escape sequence: \\ at end of string")
		}
		switch e := body[i]; e {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case ' ', '\\':
			// `\ ` decodes to a backslash: a legacy form libsinsp keeps for old rules.
			b.WriteByte('\\')
		case '/':
			b.WriteByte('/')
		case '"', '\'':
			if e != q {
				if e == '"' {
					return "", fmt.Errorf("invalid \\\" escape in '-quoted string")
				}
				return "", fmt.Errorf("invalid \\' escape in \"-quoted string")
			}
			b.WriteByte(e)
		case 'x':
			if i+2 >= len(body) {
				return "", fmt.Errorf("unsupported string escape sequence: \\x needs two hex digits")
			}
			h, ok1 := unhex(body[i+1])
			l, ok2 := unhex(body[i+2])
			if !ok1 || !ok2 {
				return "", fmt.Errorf("unsupported string escape sequence: \\x needs two hex digits")
			}
			b.WriteByte(h<<4 | l)
			i += 2
		default:
			return "", fmt.Errorf("unsupported string escape sequence: \\%c", e)
		}
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func (p *parser) parseOr() Node {
	p.enter()
	defer p.leave()
	start := p.pos
	p.blank()
	children := []Node{p.parseAnd()}
	p.blank()
	for p.lit("or") {
		if !p.blank() {
			if !p.lit("(") {
				p.fail("expected blank or '(' after 'or'")
			}
			children = append(children, p.parseEmbedded())
		} else {
			children = append(children, p.parseAnd())
		}
		p.blank()
	}
	if len(children) == 1 {
		return children[0]
	}
	return &Or{Children: children, Pos: start}
}

func (p *parser) parseAnd() Node {
	p.enter()
	defer p.leave()
	start := p.pos
	p.blank()
	children := []Node{p.parseNot()}
	p.blank()
	for p.lit("and") {
		if !p.blank() {
			if !p.lit("(") {
				p.fail("expected blank or '(' after 'and'")
			}
			children = append(children, p.parseEmbedded())
		} else {
			children = append(children, p.parseNot())
		}
		p.blank()
	}
	if len(children) == 1 {
		return children[0]
	}
	return &And{Children: children, Pos: start}
}

// parseNot: each `not ` toggles the negation, so `not not a` is just `a`, as in libsinsp.
func (p *parser) parseNot() Node {
	p.enter()
	defer p.leave()
	start := p.pos
	p.blank()
	neg := false
	for {
		if _, ok := p.scan(scanNotBlank); !ok {
			break
		}
		neg = !neg
	}
	var child Node
	if p.lit("not(") {
		neg = !neg
		child = p.parseEmbedded()
	} else {
		child = p.parseCheck()
	}
	if neg {
		return &Not{Child: child, Pos: start}
	}
	return child
}

// parseEmbedded parses the rest of a parenthesised expression after its '('.
func (p *parser) parseEmbedded() Node {
	p.enter()
	defer p.leave()
	p.blank()
	n := p.parseOr()
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token")
	}
	return n
}

func (p *parser) parseCheck() Node {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if p.lit("(") {
		return p.parseEmbedded()
	}
	if f := p.fieldOrTransformer(); f != nil {
		return p.parseCondition(f, start)
	}
	if name, ok := p.scan(scanIdent); ok {
		return &Ident{Name: name, Pos: start}
	}
	p.fail("expected a '(' token, a field check, or an identifier")
	return nil
}

// fieldOrTransformer parses a field with its optional argument, or a transformer around a field
// or another transformer, at the cursor; nil when neither starts here. It is the left side of a
// check, the operand of a transformer, and (through ParseFieldExpr) an output format token.
func (p *parser) fieldOrTransformer() *FieldExpr {
	start := p.pos
	if name, ok := p.scan(scanFieldName); ok {
		return p.parseFieldRest(name, start)
	}
	if t, ok := p.litList(transforms); ok {
		p.blank()
		return p.parseTransformerRest(t[:len(t)-1], start)
	}
	return nil
}

func (p *parser) parseFieldRest(name string, start Pos) *FieldExpr {
	p.enter()
	defer p.leave()
	f := &FieldExpr{Name: name, Pos: start}
	if p.lit("[") {
		arg, ok := p.quoted()
		if !ok {
			arg, ok = p.scan(scanFieldArgBare)
		}
		if !ok {
			p.fail("expected a valid field argument: a quoted string or a bare string")
		}
		f.Arg, f.HasArg = arg, true
		if !p.lit("]") {
			p.fail("expected a ']' token")
		}
	}
	return f
}

// parseTransformerRest parses the operand and ')' of a transformer whose name and '(' were
// consumed. Transformers nest; their operand is a field or another transformer.
func (p *parser) parseTransformerRest(name string, start Pos) *FieldExpr {
	p.enter()
	defer p.leave()
	p.blank()
	inner := p.fieldOrTransformer()
	if inner == nil {
		p.fail("expected a field or a nested valid transformer: %s", transformersText)
	}
	p.blank()
	if !p.lit(")") {
		p.fail("expected a ')' token closing the transformer")
	}
	return &FieldExpr{Transformer: name, Inner: inner, Pos: start}
}

func (p *parser) parseCondition(f *FieldExpr, start Pos) Node {
	p.enter()
	defer p.leave()
	p.blank()
	if _, ok := p.litList(unaryOps); ok {
		return &Check{Field: f, Op: "exists", Pos: start}
	}
	p.blank()
	var op, mod string
	var v *Value
	if o, ok := p.litList(numOps); ok {
		op, v = o, p.parseNumValue()
	} else if o, ok := p.litList(strOps); ok {
		op = strings.TrimSpace(o)
		if mod = p.modifier(); mod != "" {
			v = p.parseListValue()
		} else {
			v = p.parseStrValue(false)
		}
	} else if o, ok := p.litList(listOps); ok {
		op, v = o, p.parseListValue()
	} else {
		p.fail("expected a valid check operator: one of %s", opsText)
	}
	return &Check{Field: f, Op: op, Mod: mod, Value: v, Pos: start}
}

// modifier lexes a list modifier after a string operator: oneof, anyof or allof followed by a
// list in parentheses. Without the parenthesis the word is an ordinary value, so conditions that
// compare with the string "anyof" keep their meaning.
func (p *parser) modifier() string {
	p.blank()
	rest := p.rest()
	for _, m := range modifiers {
		if !strings.HasPrefix(rest, m) {
			continue
		}
		i := len(m)
		for i < len(rest) && isBlank(rest[i]) {
			i++
		}
		if i < len(rest) && rest[i] == '(' {
			p.take(len(m))
			return m
		}
	}
	return ""
}

func (p *parser) parseNumValue() *Value {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if f := p.tryTransformerOrVal(); f != nil {
		return &Value{Kind: ValueField, Field: f, Pos: start}
	}
	if s, ok := p.scan(scanHex); ok {
		return &Value{Kind: ValueString, Str: s, Pos: start}
	}
	if s, ok := p.scan(scanNumber); ok {
		return &Value{Kind: ValueString, Str: s, Pos: start}
	}
	p.fail("expected a number value or a field with a valid transformer: %s", transformersText)
	return nil
}

func (p *parser) parseStrValue(noTransformer bool) *Value {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if !noTransformer {
		if f := p.tryTransformerOrVal(); f != nil {
			return &Value{Kind: ValueField, Field: f, Pos: start}
		}
	}
	if s, ok := p.quoted(); ok {
		return &Value{Kind: ValueString, Str: s, Pos: start}
	}
	if s, ok := p.scan(scanBareStr); ok {
		return &Value{Kind: ValueString, Str: s, Pos: start}
	}
	if noTransformer {
		p.fail("expected a string value")
	}
	p.fail("expected a string value or a field with a valid transformer: %s", transformersText)
	return nil
}

// listItem lexes one list item, or reports that there is none (libsinsp catches the exception
// for the first item, which is how `()` is an empty list).
func (p *parser) listItem() (string, bool) {
	p.blank()
	if s, ok := p.quoted(); ok {
		return s, true
	}
	return p.scan(scanBareStr)
}

func (p *parser) parseListValue() *Value {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if p.lit("(") {
		p.blank()
		items := []string{}
		if s, ok := p.listItem(); ok {
			items = append(items, s)
			p.blank()
			for p.lit(",") {
				s, ok := p.listItem()
				if !ok {
					p.fail("expected a string value")
				}
				items = append(items, s)
				p.blank()
			}
		}
		if !p.lit(")") {
			p.fail("expected a ')' token")
		}
		return &Value{Kind: ValueList, List: items, Pos: start}
	}
	if f := p.tryTransformerOrVal(); f != nil {
		return &Value{Kind: ValueField, Field: f, Pos: start}
	}
	if s, ok := p.scan(scanIdent); ok {
		return &Value{Kind: ValueString, Str: s, Pos: start}
	}
	p.fail("expected a list, an identifier, or a field with a valid transformer: %s", transformersText)
	return nil
}

// tryTransformerOrVal parses `val(field)` or a transformer; nil when neither starts here.
func (p *parser) tryTransformerOrVal() *FieldExpr {
	p.enter()
	defer p.leave()
	p.blank()
	start := p.pos
	if p.lit("val(") {
		p.blank()
		fpos := p.pos
		name, ok := p.scan(scanFieldName)
		if !ok {
			p.fail("expected a field within 'val' transformer")
		}
		inner := p.parseFieldRest(name, fpos)
		p.blank()
		if !p.lit(")") {
			p.fail("expected a ')' token closing the transformer")
		}
		return &FieldExpr{Transformer: TransformerVal, Inner: inner, Pos: start}
	}
	if t, ok := p.litList(transforms); ok {
		p.blank()
		return p.parseTransformerRest(t[:len(t)-1], start)
	}
	return nil
}
