package engine

import (
	"fmt"
	"strings"
)

// Severity tells an error from a warning.
type Severity uint8

// Severities.
const (
	SevError Severity = iota
	SevWarning
)

// Diag is one load problem: an error (the load fails) or a warning (the load goes on). Code is
// Falco's load-result code (LOAD_ERR_YAML_VALIDATE, LOAD_UNUSED_MACRO...), so users can search
// Falco's documentation for it.
type Diag struct {
	Severity Severity
	Code     string
	File     string
	Line     int
	Col      int
	// Kind is "rule", "macro", "list" or "" for diagnostics not tied to a named item.
	Kind string
	// Item is the name of the rule, macro or list.
	Item string
	Msg  string
}

// String renders the diagnostic as `FILE:LINE:COL: rule "X": what is wrong`.
func (d Diag) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File)
		if d.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", d.Line, d.Col)
		}
		b.WriteString(": ")
	}
	if d.Kind != "" {
		fmt.Fprintf(&b, "%s %q: ", d.Kind, d.Item)
	}
	b.WriteString(d.Msg)
	return b.String()
}

// Falco's load-result codes (falco_load_result.h); the strings are what Falco prints.
const (
	codeYAMLParse      = "LOAD_ERR_YAML_PARSE"
	codeYAMLValidate   = "LOAD_ERR_YAML_VALIDATE"
	codeCompileCond    = "LOAD_ERR_COMPILE_CONDITION"
	codeCompileOutput  = "LOAD_ERR_COMPILE_OUTPUT"
	codeValidate       = "LOAD_ERR_VALIDATE"
	codeUnknownSource  = "LOAD_UNKNOWN_SOURCE"
	codeUnsafeNA       = "LOAD_UNSAFE_NA_CHECK"
	codeNoEvttype      = "LOAD_NO_EVTTYPE"
	codeUnknownFilter  = "LOAD_UNKNOWN_FILTER"
	codeUnusedMacro    = "LOAD_UNUSED_MACRO"
	codeUnusedList     = "LOAD_UNUSED_LIST"
	codeUnknownItem    = "LOAD_UNKNOWN_ITEM"
	codeDeprecated     = "LOAD_DEPRECATED_ITEM"
	codeAppendNoValues = "LOAD_APPEND_NO_VALUES"
	codeExceptionName  = "LOAD_EXCEPTION_NAME_NOT_UNIQUE"
	codeInvalidMacro   = "LOAD_INVALID_MACRO_NAME"
	codeInvalidList    = "LOAD_INVALID_LIST_NAME"
	codeCompileWarning = "LOAD_COMPILE_CONDITION"
	codeUnknownKey     = "LOAD_UNKNOWN_KEY"
)

// Result is what a load produced besides the Ruleset: the diagnostics and a summary.
type Result struct {
	Errors   []Diag
	Warnings []Diag
	// Rules, Macros and Lists count the loaded items (every rule defined, including disabled
	// ones and ones skipped for an unknown source, as Falco counts them).
	Rules, Macros, Lists int
	// EngineVersion is the highest required_engine_version found ("" if none).
	EngineVersion string
	// Plugins lists the required_plugin_versions entries and how each was satisfied.
	Plugins []PluginRequirement
}

// OK reports whether the load had no error.
func (r *Result) OK() bool { return len(r.Errors) == 0 }

// Err returns nil or an error that lists every load error, one per line.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	lines := make([]string, len(r.Errors))
	for i, d := range r.Errors {
		lines[i] = d.String()
	}
	return fmt.Errorf("loading rules: %s", strings.Join(lines, "\n"))
}

func (r *Result) add(d Diag) {
	if d.Severity == SevError {
		r.Errors = append(r.Errors, d)
	} else {
		r.Warnings = append(r.Warnings, d)
	}
}
