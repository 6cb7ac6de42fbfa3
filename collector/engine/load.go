package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/fields"
)

// Options configure Load.
type Options struct {
	// Registry resolves field names; nil means fields.NewRegistry().
	Registry *fields.Registry
	// RuleMatching is Falco's rule_matching (MatchFirst by default).
	RuleMatching RuleMatching
	// Logger receives a summary of the load; nil discards it.
	Logger *slog.Logger
}

// Load reads files in order into one namespace (later files append to or override earlier
// ones) and compiles every rule. The Ruleset is nil when the Result has errors. Reading a file
// stops at its first error, as in Falco; compilation reports every rule and macro that fails.
func Load(files []File, opts Options) (*Ruleset, *Result) {
	reg := opts.Registry
	if reg == nil {
		reg = fields.NewRegistry()
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	res := &Result{}
	c := newCollector(reg)
	for _, f := range files {
		c.readFile(f, res)
	}
	c.summarize(res)
	if !res.OK() {
		return nil, res
	}
	rs := compileAll(c, reg, opts.RuleMatching, res)
	if !res.OK() {
		return nil, res
	}
	logger.Info("rules loaded", "files", len(files), "rules", res.Rules, "macros", res.Macros, "lists", res.Lists,
		"warnings", len(res.Warnings))
	return rs, res
}

// summarize fills the counts and checks plugin requirements once every file is read, as
// Falco does after loading.
func (c *collector) summarize(res *Result) {
	res.Rules, res.Macros, res.Lists = len(c.rules), len(c.macros), len(c.lists)
	if c.hasEngineVersion {
		res.EngineVersion = c.engineVersion.String()
	}
	res.Plugins = c.plugins
	for _, p := range c.plugins {
		if p.Satisfied {
			continue
		}
		alts := make([]string, len(p.Alternatives))
		for i, a := range p.Alternatives {
			alts[i] = fmt.Sprintf("%s (>= %s)", a.Name, a.Version)
		}
		res.add(Diag{Severity: SevError, Code: codeValidate, File: p.Pos.File, Line: p.Pos.Line, Col: p.Pos.Col,
			Msg: "Plugin requirement not satisfied, must load one of: " + strings.Join(alts, ", ")})
	}
}

func compileAll(c *collector, reg *fields.Registry, matching RuleMatching, res *Result) *Ruleset {
	lists := c.compileLists()
	ms := compileMacros(c, lists, res.add, false)
	var rules []*Rule
	for _, ri := range c.rules {
		if ri.unknownSource {
			continue
		}
		if r := compileRule(ri, reg, lists, ms, res.add); r != nil {
			rules = append(rules, r)
		}
	}
	if res.OK() {
		// Falco reports unused items only after a successful compile.
		for _, m := range ms.list {
			if !m.used {
				res.add(Diag{Severity: SevWarning, Code: codeUnusedMacro, File: m.info.pos.File, Line: m.info.pos.Line,
					Col: m.info.pos.Col, Kind: "macro", Item: m.info.name, Msg: "Macro not referred to by any other rule/macro"})
			}
		}
		for _, l := range lists {
			if !l.used {
				res.add(Diag{Severity: SevWarning, Code: codeUnusedList, File: l.info.pos.File, Line: l.info.pos.Line,
					Col: l.info.pos.Col, Kind: "list", Item: l.info.name, Msg: "List not referred to by any other rule/macro"})
			}
		}
	}
	return newRuleset(rules, matching)
}

// Explanation is a condition after list substitution and macro expansion.
type Explanation struct {
	// Expanded is the text that was parsed (lists substituted).
	Expanded string
	// Canonical is the resolved condition in Falco's canonical form.
	Canonical string
	// Unresolved lists the names that are neither macros nor resolvable, in order of appearance.
	Unresolved []string
}

// Explain expands cond with the lists and macros of files, as a rule condition would be: lists
// substituted as text, then macros resolved (a rule sees every macro). Names it cannot resolve
// stay as they are and are listed in Unresolved. The Result holds the files' diagnostics; the
// error is the condition's *filter.SyntaxError when it does not parse.
func Explain(files []File, cond string) (*Explanation, *Result, error) {
	res := &Result{}
	c := newCollector(nil)
	for _, f := range files {
		c.readFile(f, res)
	}
	c.summarize(res)
	lists := c.compileLists()
	// Macro problems become warnings: explain shows what it can.
	ms := compileMacros(c, lists, func(d Diag) { d.Severity = SevWarning; res.add(d) }, true)
	var parts []mtext
	for i, line := range strings.Split(cond, "\n") {
		if i > 0 {
			parts = append(parts, lit("\n", Pos{Line: i, Col: len(line) + 1}))
		}
		parts = append(parts, verbatim(line, Pos{Line: i + 1, Col: 1}))
	}
	text := substituteLists(cat(parts...), lists)
	parsed, err := filter.Parse(text.s)
	if err != nil {
		var se *filter.SyntaxError
		if errors.As(err, &se) {
			p := text.locate(se.Offset)
			if p.Line == 0 {
				p = Pos{Line: 1, Col: 1}
			}
			return nil, res, &ConditionError{Line: p.Line, Col: p.Col, Msg: se.Msg}
		}
		return nil, res, err
	}
	ast, err := ms.resolve(parsed, -1, true)
	if err != nil {
		// Only a reference loop can fail in lenient mode; show the unexpanded condition.
		var me *filter.MacroError
		if !errors.As(err, &me) {
			return nil, res, err
		}
		res.add(Diag{Severity: SevWarning, Code: codeValidate, Msg: err.Error()})
		ast = parsed
	}
	ex := &Explanation{Expanded: text.s, Canonical: filter.String(ast)}
	seen := map[string]bool{}
	filter.Walk(ast, func(n filter.Node) bool {
		if id, ok := n.(*filter.Ident); ok && !seen[id.Name] {
			seen[id.Name] = true
			ex.Unresolved = append(ex.Unresolved, id.Name)
		}
		return true
	})
	return ex, res, nil
}

// ConditionError is a syntax error in a condition given to Explain, at the line and column of
// the condition as the user wrote it (before list substitution).
type ConditionError struct {
	Line, Col int
	Msg       string
}

// Error renders the error as LINE:COL: message.
func (e *ConditionError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Msg) }
