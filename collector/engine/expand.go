package engine

import (
	"strings"
)

// quoteItem wraps a value containing a space in double quotes, unless it already starts with a
// quote, so it stays one token when spliced into condition text (Falco's quote_item; like
// Falco it does not escape quotes inside the value).
func quoteItem(s string) string {
	if strings.Contains(s, " ") && (s == "" || (s[0] != '"' && s[0] != '\'')) {
		return `"` + s + `"`
	}
	return s
}

// parenItem wraps a value used with a list operator in parentheses unless it already starts
// with one, so that `values: [shell_binaries]` with `comps: in` becomes `in (shell_binaries)`
// and then the list's items.
func parenItem(s string) string {
	if s == "" || s[0] != '(' {
		return "(" + s + ")"
	}
	return s
}

// withExceptions returns the rule condition with its exceptions appended as condition text,
// exactly as Falco's build_rule_exception_infos writes it:
//
//	(<cond>) and not <ex1> and not <ex2> ...
//
// where a list-form exception is `((f1 c1 v1 and f2 c2 v2) or (...))` and a single-field one is
// `(field comp (v1, v2))`. An exception without values adds nothing.
func withExceptions(r *ruleInfo) (mtext, error) {
	if len(r.exceptions) == 0 {
		return r.cond, nil
	}
	start := r.cond.locate(0)
	parts := []mtext{lit("(", start), r.cond, lit(")", r.cond.locate(len(r.cond.s)))}
	for i := range r.exceptions {
		ex := &r.exceptions[i]
		ic, err := exceptionText(r, ex)
		if err != nil {
			return mtext{}, err
		}
		if ic.s != "" {
			parts = append(parts, lit(" and not ", ex.pos), ic)
		}
	}
	return cat(parts...), nil
}

func exceptionText(r *ruleInfo, ex *exceptionInfo) (mtext, error) {
	var parts []mtext
	if !ex.fields.isList {
		for _, v := range ex.values {
			if v.isList {
				return mtext{}, itemErr(codeValidate, ex.pos, "rule", r.name, "Expected values array to contain a list of strings")
			}
			if len(parts) == 0 {
				parts = append(parts, lit("("+ex.fields.item+" "+ex.comps.item+" (", ex.pos))
			} else {
				parts = append(parts, lit(", ", v.pos))
			}
			parts = append(parts, lit(quoteItem(v.item), v.pos))
		}
		if len(parts) > 0 {
			parts = append(parts, lit("))", ex.pos))
		}
		return cat(parts...), nil
	}
	parts = append(parts, lit("(", ex.pos))
	for vi, tuple := range ex.values {
		if len(ex.fields.items) != len(tuple.items) {
			return mtext{}, itemErr(codeValidate, ex.pos, "rule", r.name, "Fields and values lists must have equal length")
		}
		if vi > 0 {
			parts = append(parts, lit(" or ", tuple.pos))
		}
		parts = append(parts, lit("(", tuple.pos))
		for k, f := range ex.fields.items {
			if k > 0 {
				parts = append(parts, lit(" and ", tuple.pos))
			}
			v := tuple.items[k]
			var val string
			if v.isList {
				var b strings.Builder
				b.WriteByte('(')
				for j, it := range v.items {
					if j > 0 {
						b.WriteString(", ")
					}
					b.WriteString(quoteItem(it.item))
				}
				b.WriteByte(')')
				val = b.String()
			} else if listOperators[ex.comps.items[k].item] {
				val = parenItem(v.item)
			} else {
				val = quoteItem(v.item)
			}
			parts = append(parts, lit(" "+f.item+" "+ex.comps.items[k].item+" "+val, v.pos))
		}
		parts = append(parts, lit(")", tuple.pos))
	}
	parts = append(parts, lit(")", ex.pos))
	out := cat(parts...)
	if out.s == "()" {
		return mtext{}, nil
	}
	return out, nil
}

// compiledList is a list after one level of list-in-list expansion.
type compiledList struct {
	info  *listInfo
	items []string
	used  bool
}

// compileLists expands list references inside lists: an item that names a list defined earlier
// (index below this list's visibility) is replaced by that list's own items, one level deep; a
// later or unknown name stays a literal item. Items with spaces are quoted.
func (c *collector) compileLists() []*compiledList {
	out := make([]*compiledList, 0, len(c.lists))
	by := make(map[string]*compiledList, len(c.lists))
	for _, l := range c.lists {
		cl := &compiledList{info: l}
		out = append(out, cl)
		by[l.name] = cl
	}
	for _, cl := range out {
		for _, it := range cl.info.items {
			if ref, ok := c.listBy[it]; ok && ref.index < cl.info.visibility {
				by[ref.name].used = true
				for _, v := range ref.items {
					cl.items = append(cl.items, quoteItem(v))
				}
				continue
			}
			cl.items = append(cl.items, quoteItem(it))
		}
	}
	return out
}

const (
	listBlanks = " \t\n\r"
	listDelims = " \t\n\r(),="
)

// substituteLists replaces every delimited occurrence of every list name in the condition text
// by the list's items, in list order, as Falco does before parsing (there is no visibility
// between lists and conditions). It marks the lists it used.
func substituteLists(m mtext, lists []*compiledList) mtext {
	for _, l := range lists {
		var used bool
		m, used = substituteList(m, l.info.name, l.items)
		if used {
			l.used = true
		}
	}
	return m
}

// substituteList is Falco's resolve_list, quirks included: the name must be delimited by the
// start or end of the text or one of ` \t\n\r(),=`; the blanks around it are consumed; the
// replacement is " item1, item2 " (so `in (a_list, x)` keeps working); an empty list also eats
// one neighbouring comma; and the search resumes one byte after the replacement.
func substituteList(m mtext, name string, items []string) (mtext, bool) {
	if name == "" {
		return m, false
	}
	sub := strings.Join(items, ", ")
	used := false
	start := strings.Index(m.s, name)
	for start >= 0 {
		s := m.s
		end := start + len(name)
		if (start == 0 || strings.IndexByte(listDelims, s[start-1]) >= 0) &&
			(end >= len(s) || strings.IndexByte(listDelims, s[end]) >= 0) {
			for start > 0 && strings.IndexByte(listBlanks, s[start-1]) >= 0 {
				start--
			}
			for end < len(s) && strings.IndexByte(listBlanks, s[end]) >= 0 {
				end++
			}
			if sub == "" {
				if start > 0 && s[start-1] == ',' {
					start--
				} else if end < len(s) && s[end] == ',' {
					end++
				}
			}
			repl := sub + " "
			if start > 0 {
				repl = " " + repl
			}
			m = m.replace(start, end, repl)
			start += len(sub) + 1
			used = true
		}
		next := start + 1
		if next > len(m.s) {
			break
		}
		i := strings.Index(m.s[next:], name)
		if i < 0 {
			break
		}
		start = next + i
	}
	return m, used
}
