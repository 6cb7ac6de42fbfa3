package alert

import (
	"errors"
	"fmt"
	"strings"
)

// The token grammar is the field part of Falco's condition grammar (libsinsp filter parser,
// parse_field_or_transformer):
//
//	token       = fieldname [ "[" arg "]" ] | transformer "(" blank token blank ")"
//	fieldname   = ident ( "." ident )+        ident = [a-zA-Z][a-zA-Z0-9_]*
//	arg         = quoted string | bare chars other than blanks, brackets and quotes
//
// The parser reads a prefix of its input and reports how much it consumed; the formatter
// decides, by resolving, which prefix is the token.

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdent(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' || c == '_' }
func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\b' || c == '\r' || c == '\n' }
func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

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

func skipBlanks(s string, i int) int {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return i
}

// parseFieldOrTransformer parses a token at the start of s and returns it with the number of
// bytes it took.
func parseFieldOrTransformer(s string) (*fieldExpr, int, error) {
	return parseAt(s, 0, 0)
}

func parseAt(s string, i, depth int) (*fieldExpr, int, error) {
	if depth > 100 {
		return nil, 0, errors.New("transformers nested too deeply")
	}
	if n := scanFieldName(s[i:]); n > 0 {
		return parseFieldRest(s, i, s[i:i+n])
	}
	for _, t := range transformerNames {
		if strings.HasPrefix(s[i:], t+"(") {
			j := skipBlanks(s, i+len(t)+1)
			inner, j, err := parseAt(s, j, depth+1)
			if err != nil {
				return nil, 0, err
			}
			j = skipBlanks(s, j)
			if j >= len(s) || s[j] != ')' {
				return nil, 0, fmt.Errorf("expected a ')' token closing the transformer %s", t)
			}
			return &fieldExpr{transformer: t, inner: inner}, j + 1, nil
		}
	}
	return nil, 0, fmt.Errorf("expected a field or a transformer at %q", s[i:])
}

func parseFieldRest(s string, i int, name string) (*fieldExpr, int, error) {
	x := &fieldExpr{name: name}
	j := i + len(name)
	if j >= len(s) || s[j] != '[' {
		return x, j, nil
	}
	j++
	if j < len(s) && (s[j] == '"' || s[j] == '\'') {
		arg, n, err := quotedArg(s[j:])
		if err != nil {
			return nil, 0, err
		}
		x.arg, j = arg, j+n
	} else {
		k := j
		for k < len(s) && s[k] != '[' && s[k] != ']' && s[k] != '"' && s[k] != '\'' && !isSpace(s[k]) {
			k++
		}
		if k == j {
			return nil, 0, fmt.Errorf("expected a valid argument for field %s", name)
		}
		x.arg, j = s[j:k], k
	}
	if j >= len(s) || s[j] != ']' {
		return nil, 0, fmt.Errorf("expected a ']' token after the argument of field %s", name)
	}
	x.hasArg = true
	return x, j + 1, nil
}

// quotedArg reads a quoted argument: the closing quote is the first same quote not preceded by
// a backslash; \\, \" and \' are unescaped.
func quotedArg(s string) (string, int, error) {
	q := s[0]
	for i := 1; i < len(s); i++ {
		if s[i] == q && s[i-1] != '\\' {
			body := s[1:i]
			r := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\'`, `'`)
			return r.Replace(body), i + 1, nil
		}
	}
	return "", 0, errors.New("unterminated quoted field argument")
}
