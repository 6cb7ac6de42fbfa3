package engine

import (
	"errors"
	"strings"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// maxEvttypes is Falco's threshold for the LOAD_NO_EVTTYPE warning: a syscall rule that can match
// more event types than this is tested against almost every event.
const maxEvttypes = 100

// compiledMacro is a macro after list substitution, parsing and macro resolution.
type compiledMacro struct {
	info     *macroInfo
	text     mtext
	parsed   filter.Node
	resolved filter.Node
	failed   bool
	used     bool
}

// macroSet resolves macros the way Falco does: in index order, each macro seeing only macros
// with a smaller index than its visibility, rules seeing all of them.
type macroSet struct {
	list []*compiledMacro
	by   map[string]*compiledMacro
}

// compileMacros substitutes lists into and parses every macro, then resolves them in index
// order. Problems are reported through diag; lenient mode (explain) leaves unknown names in
// place instead of failing.
func compileMacros(c *collector, lists []*compiledList, diag func(Diag), lenient bool) *macroSet {
	ms := &macroSet{by: make(map[string]*compiledMacro, len(c.macros))}
	for _, m := range c.macros {
		cm := &compiledMacro{info: m}
		ms.list = append(ms.list, cm)
		ms.by[m.name] = cm
		cm.text = substituteLists(m.cond, lists)
		n, err := filter.Parse(cm.text.s)
		if err != nil {
			cm.failed = true
			diag(conditionDiag(err, cm.text, m.pos, "macro", m.name, lenient))
			continue
		}
		cm.parsed = n
	}
	for _, cm := range ms.list {
		if cm.failed {
			continue
		}
		res, err := ms.resolve(cm.parsed, cm.info.visibility, lenient)
		if err != nil {
			cm.failed = true
			if d, ok := macroErrDiag(err, cm.text, cm.info.pos, "macro", cm.info.name); ok {
				diag(d)
			}
			continue
		}
		cm.resolved = res
	}
	return ms
}

// errFailedMacro marks a reference to a macro that already failed: its own error was reported,
// so the reference is not reported again.
var errFailedMacro = errors.New("uses a macro that failed to compile")

// unresolved stands for a name explain could not resolve while filter.ResolveMacros runs; it is
// turned back into an Ident afterwards.
const unresolvedOp = "\x00unresolved"

// resolve replaces macro references in n by their resolved bodies. visibility limits which
// macros may be used (Falco's index < visibility); -1 means all.
func (ms *macroSet) resolve(n filter.Node, visibility int, lenient bool) (filter.Node, error) {
	var failed string
	lookup := func(name string) (filter.Node, bool) {
		cm, ok := ms.by[name]
		if ok && (visibility < 0 || cm.info.index < visibility) {
			if !cm.failed && cm.resolved == nil {
				// Not resolved yet (a redefined macro can see macros with a larger index than
				// its own): hand out the parsed body, the resolver expands it and finds loops.
				cm.used = true
				return cm.parsed, true
			}
			if cm.failed {
				if failed == "" {
					failed = name
				}
				if lenient {
					return &filter.Check{Field: &filter.FieldExpr{Name: name}, Op: unresolvedOp}, true
				}
				return nil, false
			}
			cm.used = true
			return cm.resolved, true
		}
		if lenient {
			return &filter.Check{Field: &filter.FieldExpr{Name: name}, Op: unresolvedOp}, true
		}
		return nil, false
	}
	res, err := filter.ResolveMacros(n, lookup)
	if err != nil {
		var me *filter.MacroError
		if failed != "" && errors.As(err, &me) && me.Name == failed && !me.Loop {
			return nil, errFailedMacro
		}
		return nil, err
	}
	if lenient {
		res = restoreIdents(res)
	}
	return res, nil
}

// restoreIdents turns explain's placeholders back into macro references.
func restoreIdents(n filter.Node) filter.Node {
	switch x := n.(type) {
	case *filter.And:
		for i, c := range x.Children {
			x.Children[i] = restoreIdents(c)
		}
	case *filter.Or:
		for i, c := range x.Children {
			x.Children[i] = restoreIdents(c)
		}
	case *filter.Not:
		x.Child = restoreIdents(x.Child)
	case *filter.Check:
		if x.Op == unresolvedOp {
			return &filter.Ident{Name: x.Field.Name, Pos: x.Pos}
		}
	}
	return n
}

// conditionDiag turns a parse error of condition text into a Diag at the file position the
// offending byte came from.
func conditionDiag(err error, text mtext, item Pos, kind, name string, warn bool) Diag {
	d := Diag{Severity: SevError, Code: codeCompileCond, Kind: kind, Item: name, Msg: err.Error()}
	if warn {
		d.Severity = SevWarning
	}
	p := item
	var se *filter.SyntaxError
	if errors.As(err, &se) {
		d.Msg = se.Msg
		if q := text.locate(se.Offset); q.Line > 0 {
			p = q
		}
	}
	d.File, d.Line, d.Col = p.File, p.Line, p.Col
	return d
}

func macroErrDiag(err error, text mtext, item Pos, kind, name string) (Diag, bool) {
	if errors.Is(err, errFailedMacro) {
		return Diag{}, false
	}
	d := Diag{Severity: SevError, Code: codeValidate, Kind: kind, Item: name, Msg: err.Error()}
	p := item
	var me *filter.MacroError
	if errors.As(err, &me) {
		if q := text.locate(me.Pos.Offset); q.Line > 0 {
			p = q
		}
	}
	d.File, d.Line, d.Col = p.File, p.Line, p.Col
	return d, true
}

// srcResolver resolves field names for one source.
type srcResolver struct {
	reg *fields.Registry
	src event.Source
}

// Resolve implements filter.Resolver for the resolver's source.
func (r srcResolver) Resolve(name, arg string, hasArg bool) (*fields.Extractor, error) {
	return r.reg.Resolve(r.src, name, arg, hasArg)
}

// isUnknownFilterErr reports the errors skip-if-unknown-filter downgrades to a warning: an
// unknown field or event type in the condition or output (Falco's err_is_unknown_type_or_field).
func isUnknownFilterErr(err error) bool {
	if errors.Is(err, fields.ErrUnknownField) {
		return true
	}
	s := err.Error()
	for _, k := range []string{"nonexistent field", "unknown field", "invalid formatting token", "unknown event type", "unknown filter"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// compileRule builds one rule: exceptions, lists, macros, output, condition, event types.
// It returns nil (and reports why through diag) when the rule cannot be used.
func compileRule(ri *ruleInfo, reg *fields.Registry, lists []*compiledList, ms *macroSet, diag func(Diag)) *Rule {
	text, err := withExceptions(ri)
	if err != nil {
		var le *loadErr
		if errors.As(err, &le) {
			diag(le.d)
		}
		return nil
	}
	skip := func(err error) bool {
		if ri.skipUnknown && isUnknownFilterErr(err) {
			diag(Diag{Severity: SevWarning, Code: codeUnknownFilter, File: ri.pos.File, Line: ri.pos.Line, Col: ri.pos.Col,
				Kind: "rule", Item: ri.name, Msg: "rule skipped (skip-if-unknown-filter): " + err.Error()})
			return true
		}
		return false
	}
	// Falco checks the output before it parses the condition (compile_rule_infos).
	out, err := alert.NewFormatter(ri.output, ri.src, reg)
	if err != nil {
		if !skip(err) {
			diag(Diag{Severity: SevError, Code: codeCompileOutput, File: ri.outputPos.File, Line: ri.outputPos.Line,
				Col: ri.outputPos.Col, Kind: "rule", Item: ri.name, Msg: err.Error()})
		}
		return nil
	}
	text = substituteLists(text, lists)
	parsed, err := filter.Parse(text.s)
	if err != nil {
		diag(conditionDiag(err, text, ri.pos, "rule", ri.name, false))
		return nil
	}
	ast, err := ms.resolve(parsed, -1, false)
	if err != nil {
		if d, ok := macroErrDiag(err, text, ri.pos, "rule", ri.name); ok {
			diag(d)
		}
		return nil
	}
	match, warns, err := filter.Compile(ast, srcResolver{reg, ri.src})
	if err != nil {
		if !skip(err) {
			d := Diag{Severity: SevError, Code: codeCompileCond, Kind: "rule", Item: ri.name, Msg: err.Error()}
			p := compileErrPos(err, ast, text, ms)
			if p.Line == 0 {
				p = ri.pos
			}
			d.File, d.Line, d.Col = p.File, p.Line, p.Col
			diag(d)
		}
		return nil
	}
	for _, w := range warns {
		code := w.Code
		if code == "" {
			code = codeCompileWarning
		}
		p := compileErrPos(&filter.CompileError{Pos: w.Pos, Msg: w.Msg}, ast, text, ms)
		if p.Line == 0 {
			p = ri.pos
		}
		diag(Diag{Severity: SevWarning, Code: code, File: p.File, Line: p.Line, Col: p.Col, Kind: "rule", Item: ri.name, Msg: w.Msg})
	}
	r := &Rule{
		Name: ri.name, Desc: ri.desc, Output: ri.output, Priority: ri.priority, Source: ri.src,
		Tags: sortedTags(ri.tags), Enabled: ri.enabled, File: ri.pos.File, Line: ri.pos.Line, Col: ri.pos.Col,
		Condition: ri.cond.s, Expanded: text.s, AST: ast, WarnEvttypes: ri.warnEvttypes,
		SkipIfUnknownFilter: ri.skipUnknown, Capture: ri.capture, CaptureDurationMS: ri.captureDur,
		Formatter: out, match: match,
	}
	for _, ex := range ri.exceptions {
		r.Exceptions = append(r.Exceptions, ex.name)
	}
	if ri.src == event.SourceSyscall {
		types, all, err := filter.EventTypes(ast, event.TypeByName)
		if err != nil {
			if !skip(err) {
				p := compileErrPos(err, ast, text, ms)
				if p.Line == 0 {
					p = evtTypePos(err, text, ms)
				}
				if p.Line == 0 {
					p = ri.pos
				}
				diag(Diag{Severity: SevError, Code: codeCompileCond, File: p.File, Line: p.Line, Col: p.Col,
					Kind: "rule", Item: ri.name, Msg: err.Error()})
			}
			return nil
		}
		r.AllTypes, r.EventTypes = all, types
		if ri.warnEvttypes && (all || len(types) > maxEvttypes) {
			diag(Diag{Severity: SevWarning, Code: codeNoEvttype, File: ri.pos.File, Line: ri.pos.Line, Col: ri.pos.Col,
				Kind: "rule", Item: ri.name, Msg: "Rule matches too many evt.type values. This has a significant performance penalty."})
		}
	} else {
		r.EventTypes = []uint16{event.AuditEventType}
	}
	return r
}

// compileErrPos finds where in the rules files a compile error comes from. The error's position
// is an offset into the text the failing check was parsed from, which is the rule's condition
// or the condition of a macro it uses; the check found at that position in the resolved tree
// tells which, because its field (or value) text must start at that offset.
func compileErrPos(err error, ast filter.Node, rule mtext, ms *macroSet) Pos {
	var ce *filter.CompileError
	if !errors.As(err, &ce) {
		return Pos{}
	}
	off := ce.Pos.Offset
	var tokens []string
	filter.Walk(ast, func(n filter.Node) bool {
		c, ok := n.(*filter.Check)
		if !ok {
			return true
		}
		if c.Field != nil && (c.Pos.Offset == off || c.Field.Pos.Offset == off) {
			tokens = append(tokens, c.Field.Base().Name)
			if c.Field.Transformer != "" {
				tokens = append(tokens, c.Field.Transformer)
			}
		}
		if c.Value != nil && c.Value.Pos.Offset == off {
			tokens = append(tokens, c.Value.Str, "(", "val(")
			if c.Value.Field != nil {
				tokens = append(tokens, c.Value.Field.Base().Name)
			}
		}
		return true
	})
	// Prefer the names the message mentions: several checks can start at the same offset of
	// different texts (offset 0 of the rule and of each macro).
	var named []string
	for _, tok := range tokens {
		if len(tok) > 1 && strings.Contains(ce.Msg, tok) {
			named = append(named, tok)
		}
	}
	if len(named) > 0 {
		tokens = named
	}
	texts := []mtext{rule}
	for _, m := range ms.list {
		if m.used {
			texts = append(texts, m.text)
		}
	}
	for _, t := range texts {
		if off >= len(t.s) {
			continue
		}
		for _, tok := range tokens {
			if tok != "" && strings.HasPrefix(t.s[off:], tok) {
				return t.locate(off)
			}
		}
	}
	return Pos{}
}

// evtTypePos locates the value named by an "unknown event type X" error: the first occurrence
// of X as a whole word in the rule's text or in a macro it uses.
func evtTypePos(err error, rule mtext, ms *macroSet) Pos {
	const prefix = "unknown event type "
	msg := err.Error()
	i := strings.Index(msg, prefix)
	if i < 0 {
		return Pos{}
	}
	name := msg[i+len(prefix):]
	texts := []mtext{rule}
	for _, m := range ms.list {
		if m.used {
			texts = append(texts, m.text)
		}
	}
	for _, t := range texts {
		for off := 0; off+len(name) <= len(t.s); {
			j := strings.Index(t.s[off:], name)
			if j < 0 {
				break
			}
			j += off
			end := j + len(name)
			if (j == 0 || strings.IndexByte(listDelims, t.s[j-1]) >= 0) && (end == len(t.s) || strings.IndexByte(listDelims, t.s[end]) >= 0) {
				return t.locate(j)
			}
			off = j + 1
		}
	}
	return Pos{}
}
