package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/fields"
)

// The collector gathers the items of every file in load order into one namespace, as Falco's
// rule_loader::collector does. Each define or append takes the next running index: a
// redefinition keeps its original index (its place in the order) and moves its visibility to
// the new index, an append only moves the visibility. Macros and lists may use only items whose
// index is below their visibility.

type listInfo struct {
	name              string
	pos               Pos
	items             []string
	index, visibility int
}

type macroInfo struct {
	name              string
	pos               Pos
	cond              mtext
	index, visibility int
}

// entry is an exception's fields, comps or values: a scalar or a (nested) sequence.
type entry struct {
	set    bool
	isList bool
	item   string
	items  []entry
	pos    Pos
}

type exceptionInfo struct {
	name   string
	pos    Pos
	fields entry
	comps  entry
	values []entry
}

type ruleInfo struct {
	name      string
	pos       Pos
	cond      mtext
	output    string
	outputPos Pos
	desc      string
	priority  alert.Priority
	// source is the name as written; src is set when lanner knows the source.
	source        string
	src           event.Source
	unknownSource bool
	enabled       bool
	tags          map[string]struct{}
	exceptions    []exceptionInfo
	warnEvttypes  bool
	skipUnknown   bool
	capture       bool
	captureDur    int64
	index         int
	visibility    int
}

// ruleUpdate is the content of an append or override item; nil pointers are keys not given.
type ruleUpdate struct {
	name        string
	pos         Pos
	cond        *mtext
	output      *string
	desc        *string
	tags        map[string]struct{}
	hasTags     bool
	exceptions  []exceptionInfo
	hasExcept   bool
	priority    *alert.Priority
	enabled     *bool
	warnEvt     *bool
	skipUnknown *bool
	capture     *bool
	captureDur  *int64
}

func (u *ruleUpdate) hasAny() bool {
	return u.cond != nil || u.output != nil || u.desc != nil || u.hasTags || u.hasExcept ||
		u.priority != nil || u.enabled != nil || u.warnEvt != nil || u.skipUnknown != nil ||
		u.capture != nil || u.captureDur != nil
}

type collector struct {
	reg    *fields.Registry
	cur    int
	lists  []*listInfo
	macros []*macroInfo
	rules  []*ruleInfo
	listBy map[string]*listInfo
	macBy  map[string]*macroInfo
	ruleBy map[string]*ruleInfo

	engineVersion    semver
	hasEngineVersion bool
	plugins          []PluginRequirement
}

func newCollector(reg *fields.Registry) *collector {
	return &collector{
		reg:    reg,
		listBy: map[string]*listInfo{},
		macBy:  map[string]*macroInfo{},
		ruleBy: map[string]*ruleInfo{},
	}
}

func (c *collector) next() int {
	c.cur++
	return c.cur - 1
}

func (c *collector) defineList(l *listInfo) {
	id := c.next()
	if prev, ok := c.listBy[l.name]; ok {
		l.index, l.visibility = prev.index, id
		*prev = *l
		return
	}
	l.index, l.visibility = id, id
	c.lists = append(c.lists, l)
	c.listBy[l.name] = l
}

func (c *collector) appendList(l *listInfo) error {
	prev, ok := c.listBy[l.name]
	if !ok {
		return itemErr(codeValidate, l.pos, "list", l.name,
			"List uses 'append' or 'override.items: append' but no list by that name already exists")
	}
	prev.items = append(prev.items, l.items...)
	prev.visibility = c.next()
	return nil
}

func (c *collector) defineMacro(m *macroInfo) {
	id := c.next()
	if prev, ok := c.macBy[m.name]; ok {
		m.index, m.visibility = prev.index, id
		*prev = *m
		return
	}
	m.index, m.visibility = id, id
	c.macros = append(c.macros, m)
	c.macBy[m.name] = m
}

func (c *collector) appendMacro(m *macroInfo) error {
	prev, ok := c.macBy[m.name]
	if !ok {
		return itemErr(codeValidate, m.pos, "macro", m.name,
			"Macro uses 'append' or 'override.condition: append' but no macro by that name already exists")
	}
	prev.cond = cat(prev.cond, lit(" ", m.cond.locate(0)), m.cond)
	prev.visibility = c.next()
	return nil
}

func (c *collector) defineRule(r *ruleInfo, res *Result) error {
	if prev, ok := c.ruleBy[r.name]; ok && prev.source != r.source {
		return itemErr(codeValidate, r.pos, "rule", r.name, "Rule has been re-defined with a different source")
	}
	src, known := event.ParseSource(r.source)
	r.src = src
	if !known {
		r.unknownSource = true
		res.add(Diag{Severity: SevWarning, Code: codeUnknownSource, File: r.pos.File, Line: r.pos.Line, Col: r.pos.Col,
			Kind: "rule", Item: r.name, Msg: "Unknown source " + r.source + ", skipping"})
	}
	for i := range r.exceptions {
		ex := &r.exceptions[i]
		if !ex.fields.set {
			return itemErr(codeValidate, ex.pos, "rule", r.name,
				"Rule exception item must have fields property with a list of fields")
		}
		if err := c.validateException(r, ex); err != nil {
			return err
		}
	}
	id := c.next()
	if prev, ok := c.ruleBy[r.name]; ok {
		r.index, r.visibility = prev.index, id
		*prev = *r
		return nil
	}
	r.index, r.visibility = id, id
	c.rules = append(c.rules, r)
	c.ruleBy[r.name] = r
	return nil
}

// listOperators take a list on their right side; a scalar exception value used with one is
// wrapped in parentheses so it can name a list.
var listOperators = map[string]bool{"in": true, "intersects": true, "pmatch": true}

var supportedOperators = map[string]bool{
	"=": true, "==": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true,
	"contains": true, "icontains": true, "bcontains": true, "startswith": true, "bstartswith": true,
	"endswith": true, "glob": true, "iglob": true, "regex": true, "exists": true,
	"in": true, "intersects": true, "pmatch": true,
}

// validateException fills the default comps and checks the exception as Falco's collector does.
func (c *collector) validateException(r *ruleInfo, ex *exceptionInfo) error {
	fail := func(msg string) error { return itemErr(codeValidate, ex.pos, "rule", r.name, msg) }
	if ex.fields.isList {
		if !ex.comps.set {
			ex.comps = entry{set: true, isList: true, pos: ex.pos}
			for range ex.fields.items {
				ex.comps.items = append(ex.comps.items, entry{set: true, item: "=", pos: ex.pos})
			}
		}
		if len(ex.fields.items) != len(ex.comps.items) {
			return fail("Fields and comps lists must have equal length")
		}
		for i := range ex.comps.items {
			v := &ex.comps.items[i]
			v.item = strings.TrimSpace(v.item)
			if v.isList || !supportedOperators[v.item] {
				return fail(fmt.Sprintf("'%s' is not a supported comparison operator", v.item))
			}
		}
		if !r.unknownSource {
			for _, v := range ex.fields.items {
				if v.isList || !c.fieldDefined(r.src, v.item) {
					return fail(fmt.Sprintf("'%s' is not a supported filter field", v.item))
				}
			}
		}
		return nil
	}
	if !ex.comps.set {
		ex.comps = entry{set: true, item: "in", pos: ex.pos}
	}
	if ex.comps.isList {
		return fail("Fields and comps must both be strings")
	}
	ex.comps.item = strings.TrimSpace(ex.comps.item)
	if !listOperators[ex.comps.item] {
		return fail("When fields is a single value, comps must be one of (in, pmatch, intersects)")
	}
	if !r.unknownSource && !c.fieldDefined(r.src, ex.fields.item) {
		return fail(fmt.Sprintf("'%s' is not a supported filter field", ex.fields.item))
	}
	return nil
}

// fieldDefined reports whether name is a field of src as exception fields may write it: a
// field with an optional argument (proc.aname[2]) or a transformer (tolower(proc.name)). It is
// checked the way the condition will use it, by parsing and compiling `<name> exists`. Without a
// registry (explain) every name is accepted.
func (c *collector) fieldDefined(src event.Source, name string) bool {
	if c.reg == nil {
		return true
	}
	n, err := filter.Parse(name + " exists")
	if err != nil {
		return false
	}
	if chk, ok := n.(*filter.Check); !ok || chk.Op != "exists" {
		return false
	}
	_, _, err = filter.Compile(n, srcResolver{c.reg, src})
	return err == nil
}

func (c *collector) appendRule(u *ruleUpdate) error {
	prev, ok := c.ruleBy[u.name]
	if !ok {
		return itemErr(codeValidate, u.pos, "rule", u.name,
			"Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists")
	}
	if !u.hasAny() {
		return itemErr(codeValidate, u.pos, "rule", u.name, "Appended rule must have exceptions or condition property")
	}
	if u.cond != nil && u.cond.s != "" {
		prev.cond = cat(prev.cond, lit(" ", u.cond.locate(0)), *u.cond)
	}
	if u.output != nil && *u.output != "" {
		prev.output += " " + *u.output
	}
	if u.desc != nil && *u.desc != "" {
		prev.desc += " " + *u.desc
	}
	for t := range u.tags {
		prev.tags[t] = struct{}{}
	}
	for i := range u.exceptions {
		ex := u.exceptions[i]
		j := -1
		for k := range prev.exceptions {
			if prev.exceptions[k].name == ex.name {
				j = k
				break
			}
		}
		if j < 0 {
			if !ex.fields.set {
				return itemErr(codeValidate, ex.pos, "rule", u.name, "Rule exception must have fields property with a list of fields")
			}
			if len(ex.values) == 0 {
				return itemErr(codeValidate, ex.pos, "rule", u.name, "Rule exception must have values property with a list of values")
			}
			if err := c.validateException(prev, &ex); err != nil {
				return err
			}
			prev.exceptions = append(prev.exceptions, ex)
			continue
		}
		if ex.fields.set {
			return itemErr(codeValidate, ex.pos, "rule", u.name, "Can not append exception fields to existing exception, only values")
		}
		if ex.comps.set {
			return itemErr(codeValidate, ex.pos, "rule", u.name, "Can not append exception comps to existing exception, only values")
		}
		prev.exceptions[j].values = append(prev.exceptions[j].values, ex.values...)
	}
	prev.visibility = c.next()
	return nil
}

func (c *collector) replaceRule(u *ruleUpdate) error {
	prev, ok := c.ruleBy[u.name]
	if !ok {
		return itemErr(codeValidate, u.pos, "rule", u.name,
			"An 'override.<key>: replace' to a rule was requested but no rule by that name already exists")
	}
	if !u.hasAny() {
		return itemErr(codeValidate, u.pos, "rule", u.name, "The rule must have at least one field that can be replaced")
	}
	if u.hasExcept {
		for i := range u.exceptions {
			ex := &u.exceptions[i]
			if !ex.fields.set {
				return itemErr(codeValidate, ex.pos, "rule", u.name,
					"Rule exception item must have fields property with a list of fields")
			}
			if err := c.validateException(prev, ex); err != nil {
				return err
			}
		}
		prev.exceptions = u.exceptions
	}
	if u.cond != nil {
		prev.cond = *u.cond
	}
	if u.output != nil {
		prev.output = *u.output
	}
	if u.desc != nil {
		prev.desc = *u.desc
	}
	if u.hasTags {
		prev.tags = u.tags
	}
	if u.priority != nil {
		prev.priority = *u.priority
	}
	if u.enabled != nil {
		prev.enabled = *u.enabled
	}
	if u.warnEvt != nil {
		prev.warnEvttypes = *u.warnEvt
	}
	if u.skipUnknown != nil {
		prev.skipUnknown = *u.skipUnknown
	}
	if u.capture != nil {
		prev.capture = *u.capture
	}
	if u.captureDur != nil {
		prev.captureDur = *u.captureDur
	}
	prev.visibility = c.next()
	return nil
}

func (c *collector) enableRule(name string, pos Pos, enabled bool) error {
	prev, ok := c.ruleBy[name]
	if !ok {
		return itemErr(codeValidate, pos, "rule", name, "Rule has 'enabled' key but no rule by that name already exists")
	}
	prev.enabled = enabled
	return nil
}

func sortedTags(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// loadErr carries a Diag through the reader's early returns.
type loadErr struct{ d Diag }

func (e *loadErr) Error() string { return e.d.String() }

func itemErr(code string, p Pos, kind, name, msg string) error {
	return &loadErr{Diag{Severity: SevError, Code: code, File: p.File, Line: p.Line, Col: p.Col, Kind: kind, Item: name, Msg: msg}}
}
