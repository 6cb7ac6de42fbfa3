package shippers

import (
	"fmt"
	"slices"

	"github.com/lannersec/lanner/collector/alert"
)

// FilterConfig chooses which alerts an output receives. Empty lists mean no restriction.
type FilterConfig struct {
	// MinimumPriority drops alerts less severe than this Falco priority (default: debug, all).
	MinimumPriority string `yaml:"minimum_priority"`
	// Rules, when set, keeps only alerts of these rule names.
	Rules []string `yaml:"rules"`
	// ExcludeRules drops alerts of these rule names.
	ExcludeRules []string `yaml:"exclude_rules"`
	// Tags, when set, keeps only alerts whose rule has at least one of these tags.
	Tags []string `yaml:"tags"`
	// ExcludeTags drops alerts whose rule has any of these tags.
	ExcludeTags []string `yaml:"exclude_tags"`
}

// Filter is a compiled FilterConfig.
type Filter struct {
	min              alert.Priority
	rules, exclRules map[string]bool
	tags, exclTags   map[string]bool
}

// NewFilter checks and compiles c.
func NewFilter(c FilterConfig) (*Filter, error) {
	f := &Filter{min: alert.Debug}
	if c.MinimumPriority != "" {
		p, err := alert.ParsePriority(c.MinimumPriority)
		if err != nil {
			return nil, fmt.Errorf("minimum_priority: %w", err)
		}
		f.min = p
	}
	set := func(l []string) map[string]bool {
		if len(l) == 0 {
			return nil
		}
		m := make(map[string]bool, len(l))
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	f.rules, f.exclRules, f.tags, f.exclTags = set(c.Rules), set(c.ExcludeRules), set(c.Tags), set(c.ExcludeTags)
	for r := range f.rules {
		if f.exclRules[r] {
			return nil, fmt.Errorf("rule %q is both in rules and exclude_rules", r)
		}
	}
	return f, nil
}

// Match reports whether the output takes a.
func (f *Filter) Match(a *alert.Alert) bool {
	if f == nil {
		return true
	}
	if !a.Priority.AtLeast(f.min) {
		return false
	}
	if f.rules != nil && !f.rules[a.Rule] {
		return false
	}
	if f.exclRules[a.Rule] {
		return false
	}
	if f.tags != nil && !slices.ContainsFunc(a.Tags, func(t string) bool { return f.tags[t] }) {
		return false
	}
	if f.exclTags != nil && slices.ContainsFunc(a.Tags, func(t string) bool { return f.exclTags[t] }) {
		return false
	}
	return true
}
