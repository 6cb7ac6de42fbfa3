package engine

import (
	"slices"

	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/event"
)

// OpenScope bounds the open-family events (open, openat, openat2, creat) the running syscall rules
// (enabled and at least the minimum priority) can match: the capture hands it to the kernel,
// which then reports only the opens some rule may care about. Rules that cannot match an open
// do not widen it.
func (rs *Ruleset) OpenScope() filter.OpenScope {
	var family []uint16
	for _, n := range filter.OpenFamily {
		if t, ok := event.TypeByName(n); ok {
			family = append(family, t)
		}
	}
	var s filter.OpenScope
	for _, r := range rs.rules {
		if r.Source != event.SourceSyscall || !rs.enabled[r] || !r.Priority.AtLeast(rs.minPrio) {
			continue
		}
		if !r.AllTypes && !slices.ContainsFunc(r.EventTypes, func(t uint16) bool { return slices.Contains(family, t) }) {
			continue
		}
		s.Merge(filter.OpenScopeOf(r.AST))
		if s.Any {
			return filter.OpenScope{Any: true}
		}
	}
	return s
}
