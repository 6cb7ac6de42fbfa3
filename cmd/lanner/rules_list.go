package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/engine/filter"
	"github.com/lannersec/lanner/collector/fields"
)

// newRulesListCmd builds `lanner rules list`.
func newRulesListCmd() *cobra.Command {
	var files []string
	var conditions bool
	c := &cobra.Command{
		Use:   "list -r FILE... [--conditions]",
		Short: "List the rules of rules files with priority, source, tags and state",
		Long: `Load the rules files in order and list every compiled rule, in rule order: name, priority,
source, whether it is enabled, and its tags. With --conditions a last column shows each rule's
condition as compiled (exceptions added, lists and macros expanded) in the canonical form Falco
prints, so it can be compared with Falco's. Rules whose source lanner does not know are skipped at
load time, as Falco skips them, and are not listed.`,
		Example: `  lanner rules list -r falco_rules.yaml
  lanner rules list -r falco_rules.yaml -r my_overrides.yaml --conditions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return &usageError{msg: "rules list: no rules files given (-r FILE)\n" + cmd.UsageString()}
			}
			in, err := readRulesFiles(files)
			if err != nil {
				return err
			}
			rs, res := engine.Load(in, engine.Options{Registry: fields.NewRegistry()})
			if !res.OK() {
				printWarnings(cmd.ErrOrStderr(), res.Warnings)
				return &usageError{msg: diagLines(res.Errors)}
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			header := "NAME\tPRIORITY\tSOURCE\tENABLED\tTAGS"
			if conditions {
				header += "\tCONDITION"
			}
			fmt.Fprintln(tw, header)
			for _, r := range rs.Rules() {
				tags := strings.Join(r.Tags, ",")
				if tags == "" {
					tags = "-"
				}
				line := fmt.Sprintf("%s\t%s\t%s\t%t\t%s", r.Name, r.Priority, r.Source, r.Enabled, tags)
				if conditions {
					line += "\t" + filter.String(r.AST)
				}
				fmt.Fprintln(tw, line)
			}
			return tw.Flush()
		},
	}
	c.Flags().StringArrayVarP(&files, "rules", "r", nil, "rules file, in load order (repeatable)")
	c.Flags().BoolVar(&conditions, "conditions", false, "show each rule's compiled condition in canonical form")
	return c
}
