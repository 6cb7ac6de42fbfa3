// Package engine loads Falco-format rules files and matches events against them.
//
// Loading follows Falco's rule loader step by step, because users bring rules files written for
// Falco and expect the same verdicts: YAML documents are read into lists, macros and rules (with
// append, override, enabled toggles and exceptions), several files share one namespace, list
// names are substituted into conditions as text, macros are resolved with Falco's visibility
// rules, and every rule is compiled against the field registry of its source. Every problem is a
// Diag that names the file, line and column and the item it belongs to.
//
// The compiled Ruleset indexes rules by (source, event type), so an event is tested only against
// the rules that can match it, in rule-definition order, with Falco's `rule_matching` modes.
package engine
