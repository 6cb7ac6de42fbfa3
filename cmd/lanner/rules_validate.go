package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/fields"
)

// newRulesValidateCmd builds `lanner rules validate`.
func newRulesValidateCmd() *cobra.Command {
	var files []string
	c := &cobra.Command{
		Use:   "validate -r FILE [-r FILE...]",
		Short: "Load rules files and report every problem with its file:line:col",
		Long: `Load the rules files in the order given, as one namespace (later files append to or override
earlier ones), compile every rule against lanner's fields, and report the result.

Warnings are printed on stderr and do not fail the command. On success the last line on stdout is
"N rules, M macros, L lists loaded" and the exit status is 0. On error every problem is printed on
stderr as one line, FILE:LINE:COL: rule "X": what is wrong, and the exit status is 2.`,
		Example: `  lanner rules validate -r falco_rules.yaml
  lanner rules validate -r falco_rules.yaml -r falco_rules.local.yaml
  lanner rules validate -r k8s_audit_rules.yaml 2>/dev/null`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return &usageError{msg: "rules validate: no rules files given (-r FILE)\n" + cmd.UsageString()}
			}
			in, err := readRulesFiles(files)
			if err != nil {
				return err
			}
			_, res := engine.Load(in, engine.Options{Registry: fields.NewRegistry()})
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			if !res.OK() {
				return &usageError{msg: diagLines(res.Errors)}
			}
			out := cmd.OutOrStdout()
			for _, p := range res.Plugins {
				fmt.Fprintf(out, "required plugin %s: satisfied by lanner's built-in %s fields\n", pluginAlternatives(p), p.By)
			}
			if res.EngineVersion != "" {
				fmt.Fprintf(out, "required engine version %s: lanner implements engine version %s\n", res.EngineVersion, engine.EngineVersion)
			}
			fmt.Fprintf(out, "%d rules, %d macros, %d lists loaded\n", res.Rules, res.Macros, res.Lists)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&files, "rules", "r", nil, "rules file, in load order (repeatable)")
	return c
}

// readRulesFiles reads the -r files; an unreadable file is a usage error (exit 2).
func readRulesFiles(names []string) ([]engine.File, error) {
	out := make([]engine.File, 0, len(names))
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("%s: cannot read rules file: %v", n, err)}
		}
		out = append(out, engine.File{Name: n, Data: data})
	}
	return out, nil
}

// printWarnings prints load warnings on w, one per line, with Falco's warning code.
func printWarnings(w io.Writer, ds []engine.Diag) {
	for _, d := range ds {
		fmt.Fprintf(w, "warning: %s (%s)\n", d, d.Code)
	}
}

// diagLines renders errors one per line, as `lanner rules validate` prints them.
func diagLines(ds []engine.Diag) string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// pluginAlternatives renders a plugin requirement as Falco words it: name (>= version) or ...
func pluginAlternatives(p engine.PluginRequirement) string {
	alts := make([]string, len(p.Alternatives))
	for i, a := range p.Alternatives {
		alts[i] = fmt.Sprintf("%s (>= %s)", a.Name, a.Version)
	}
	return strings.Join(alts, " or ")
}
