package filter

import "strings"

// String returns the canonical text of a condition: the form Falco's libs print for a parsed
// AST (`(evt.type = open and proc.name in (ash, bash))`). And/Or are parenthesised with their
// operator between children, `not` is a prefix, values are printed bare unless they need quotes.
//
// Two deliberate differences keep the output parseable, which Falco's is not in these corners:
// an empty value prints as "" (Falco prints nothing), values or field arguments holding
// characters a bare string cannot hold ( ( ) , = [ ] \v ) are quoted, and a trailing backslash
// in a quoted value is written \x5c, and a double negation prints as `not (not x)` (Falco's
// `not not x` would read back as x).
func String(n Node) string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

func writeNode(b *strings.Builder, n Node) {
	switch n := n.(type) {
	case *And:
		writeLogical(b, "and", n.Children)
	case *Or:
		writeLogical(b, "or", n.Children)
	case *Not:
		b.WriteString("not ")
		if _, double := n.Child.(*Not); double {
			// `not not x` would parse back as x (each `not ` toggles): keep the shape.
			b.WriteByte('(')
			writeNode(b, n.Child)
			b.WriteByte(')')
		} else {
			writeNode(b, n.Child)
		}
	case *Ident:
		b.WriteString(n.Name)
	case *Check:
		writeField(b, n.Field)
		b.WriteByte(' ')
		b.WriteString(n.Op)
		if n.Mod != "" {
			b.WriteByte(' ')
			b.WriteString(n.Mod)
		}
		if n.Value != nil {
			b.WriteByte(' ')
			writeValue(b, n.Value)
		}
	case nil:
		b.WriteString("<nil>")
	}
}

func writeLogical(b *strings.Builder, op string, children []Node) {
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteByte(' ')
			b.WriteString(op)
			b.WriteByte(' ')
		}
		writeNode(b, c)
	}
	b.WriteByte(')')
}

func writeField(b *strings.Builder, f *FieldExpr) {
	if f == nil {
		b.WriteString("<nil>")
		return
	}
	if f.Transformer != "" {
		b.WriteString(f.Transformer)
		b.WriteByte('(')
		writeField(b, f.Inner)
		b.WriteByte(')')
		return
	}
	b.WriteString(f.Name)
	if f.HasArg {
		b.WriteByte('[')
		b.WriteString(escape(f.Arg, true))
		b.WriteByte(']')
	}
}

func writeValue(b *strings.Builder, v *Value) {
	switch v.Kind {
	case ValueString:
		b.WriteString(escape(v.Str, false))
	case ValueList:
		b.WriteByte('(')
		for i, s := range v.List {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(escape(s, false))
		}
		b.WriteByte(')')
	case ValueField:
		writeField(b, v.Field)
	}
}

// escape prints a value the way libsinsp's escape_str does: unchanged unless it holds a blank,
// a control character Falco escapes, a backslash or a quote, in which case it is double-quoted
// with \b \f \n \r \t \\ \" escapes (a single quote and a space stay as they are).
func escape(s string, arg bool) string {
	need := s == ""
	for i := 0; i < len(s) && !need; i++ {
		switch c := s[i]; c {
		case ' ', '\b', '\f', '\n', '\r', '\t', '\\', '"', '\'', '\v':
			need = true
		case '(', ')', ',', '=':
			need = !arg
		case '[', ']':
			need = arg
		}
	}
	if !need {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\\':
			if i == len(s)-1 {
				// A quoted string cannot end in an escaped backslash: the lexer takes the closing
				// quote for an escaped one (libsinsp has the same blind spot). \x5c can be read.
				b.WriteString(`\x5c`)
			} else {
				b.WriteString(`\\`)
			}
		case '"':
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
