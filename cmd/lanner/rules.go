package main

import "github.com/spf13/cobra"

// newRulesCmd groups the commands that work on rules files. Subcommands are added in their own
// files (rules_validate.go, rules_list.go, rules_explain.go, rules_fields.go).
func newRulesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "rules",
		Short: "Validate, list and explain Falco-format rules files",
	}
	for _, sub := range rulesSubcommands() {
		c.AddCommand(sub())
	}
	return c
}
