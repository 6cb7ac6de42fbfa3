package engine

import (
	"fmt"
	"path"
	"sync/atomic"

	"github.com/lannersec/lanner/collector/alert"
	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
)

// RuleMatching is Falco's rule_matching setting.
type RuleMatching uint8

// Rule matching modes.
const (
	// MatchFirst stops at the first matching rule: one alert per event (Falco's default).
	MatchFirst RuleMatching = iota
	// MatchAll reports every matching rule.
	MatchAll
)

// ParseRuleMatching accepts "first" and "all".
func ParseRuleMatching(s string) (RuleMatching, error) {
	switch s {
	case "first", "":
		return MatchFirst, nil
	case "all":
		return MatchAll, nil
	}
	return 0, fmt.Errorf("invalid rule_matching %q: want first or all", s)
}

// String returns the rule_matching value: "first" or "all".
func (m RuleMatching) String() string {
	if m == MatchAll {
		return "all"
	}
	return "first"
}

// Rule is a compiled rule.
type Rule struct {
	Name     string
	Desc     string
	Output   string
	Priority alert.Priority
	Source   event.Source
	// Tags are sorted and unique.
	Tags    []string
	Enabled bool
	// File, Line and Col locate the rule's (first) definition.
	File      string
	Line, Col int
	// Condition is the condition as written (after appends and overrides); Expanded is the text
	// that was parsed: exceptions appended and lists substituted.
	Condition string
	Expanded  string
	// AST is the condition with every macro resolved; filter.String(AST) is its canonical form.
	AST filter.Node
	// Exceptions names the rule's exceptions.
	Exceptions          []string
	WarnEvttypes        bool
	SkipIfUnknownFilter bool
	Capture             bool
	// CaptureDurationMS is capture_duration in milliseconds (0: the configured default).
	CaptureDurationMS int64
	// EventTypes are the syscall event types the rule can match (for k8s_audit rules the one
	// audit type); AllTypes is set when the condition does not restrict them.
	EventTypes []uint16
	AllTypes   bool
	// Formatter renders the rule's output for an event.
	Formatter *alert.Formatter

	match filter.Matcher
}

// Match reports whether e satisfies the rule's condition (regardless of Enabled).
func (r *Rule) Match(e *event.Event) bool { return r.match(e) }

// Ruleset is the compiled result of loading rules files. Process may run concurrently with the
// selection methods (EnableByName, EnableByTag, SetMinPriority), which publish a new index
// atomically; the selection methods themselves must not run concurrently with each other. Each
// source's events must be processed by one goroutine at a time, because compiled conditions keep
// scratch buffers.
type Ruleset struct {
	rules    []*Rule
	byName   map[string]*Rule
	matching RuleMatching
	minPrio  alert.Priority
	enabled  map[*Rule]bool
	idx      atomic.Pointer[ruleIndex]
}

// ruleIndex holds, for every source and event type, the enabled rules that can match, in rule
// definition order.
type ruleIndex struct {
	bySource [event.NumSources][][]*Rule
}

func newRuleset(rules []*Rule, matching RuleMatching) *Ruleset {
	rs := &Ruleset{rules: rules, byName: make(map[string]*Rule, len(rules)), matching: matching,
		minPrio: alert.Debug, enabled: make(map[*Rule]bool, len(rules))}
	for _, r := range rules {
		rs.byName[r.Name] = r
		rs.enabled[r] = r.Enabled
	}
	rs.rebuild()
	return rs
}

func (rs *Ruleset) rebuild() {
	ix := &ruleIndex{}
	ix.bySource[event.SourceSyscall] = make([][]*Rule, event.NumTypes)
	ix.bySource[event.SourceK8sAudit] = make([][]*Rule, 1)
	for _, r := range rs.rules {
		if !rs.enabled[r] || !r.Priority.AtLeast(rs.minPrio) {
			continue
		}
		types := ix.bySource[r.Source]
		if r.AllTypes {
			for t := range types {
				types[t] = append(types[t], r)
			}
			continue
		}
		for _, t := range r.EventTypes {
			if int(t) < len(types) {
				types[t] = append(types[t], r)
			}
		}
	}
	rs.idx.Store(ix)
}

// Rules returns every compiled rule in definition order (including disabled ones).
func (rs *Ruleset) Rules() []*Rule { return rs.rules }

// Rule returns the rule with this name.
func (rs *Ruleset) Rule(name string) (*Rule, bool) {
	r, ok := rs.byName[name]
	return r, ok
}

// Matching returns the rule matching mode.
func (rs *Ruleset) Matching() RuleMatching { return rs.matching }

// Process tests e against the enabled rules that can match its source and type, in rule
// definition order, and calls fn for each match: only the first with MatchFirst, all with
// MatchAll. It returns the number of matches. A non-matching event costs no allocation.
func (rs *Ruleset) Process(e *event.Event, fn func(*Rule, *event.Event)) int {
	ix := rs.idx.Load()
	if int(e.Source) >= len(ix.bySource) {
		return 0
	}
	byType := ix.bySource[e.Source]
	if int(e.Type) >= len(byType) {
		return 0
	}
	n := 0
	for _, r := range byType[e.Type] {
		if r.match(e) {
			n++
			fn(r, e)
			if rs.matching == MatchFirst {
				break
			}
		}
	}
	return n
}

// Candidates returns the rules Process would test for an event of this source and type.
func (rs *Ruleset) Candidates(src event.Source, typ uint16) []*Rule {
	ix := rs.idx.Load()
	if int(src) >= len(ix.bySource) || int(typ) >= len(ix.bySource[src]) {
		return nil
	}
	return ix.bySource[src][typ]
}

// IsEnabled reports whether the rule runs (ignoring the minimum priority).
func (rs *Ruleset) IsEnabled(name string) bool {
	r, ok := rs.byName[name]
	return ok && rs.enabled[r]
}

// SetMinPriority makes rules less severe than p stop running (Falco's `priority` setting).
func (rs *Ruleset) SetMinPriority(p alert.Priority) {
	rs.minPrio = p
	rs.rebuild()
}

// EnableByName enables the rules whose name matches pattern (a path.Match wildcard, as Falco's
// rule selection accepts `*`). It returns how many rules matched.
func (rs *Ruleset) EnableByName(pattern string, enable bool) (int, error) {
	n := 0
	for _, r := range rs.rules {
		ok, err := path.Match(pattern, r.Name)
		if err != nil {
			return 0, fmt.Errorf("rule name pattern %q: %w", pattern, err)
		}
		if ok {
			rs.enabled[r] = enable
			n++
		}
	}
	rs.rebuild()
	return n, nil
}

// EnableByTag enables or disables every rule carrying tag. It returns how many rules matched.
func (rs *Ruleset) EnableByTag(tag string, enable bool) int {
	n := 0
	for _, r := range rs.rules {
		for _, t := range r.Tags {
			if t == tag {
				rs.enabled[r] = enable
				n++
				break
			}
		}
	}
	rs.rebuild()
	return n
}
