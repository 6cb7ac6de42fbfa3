package main

import "github.com/spf13/cobra"

// rulesSubcommands lists the constructors of the `lanner rules` subcommands, written out so that
// grep finds every one.
func rulesSubcommands() []func() *cobra.Command {
	return []func() *cobra.Command{
		newRulesValidateCmd,
		newRulesListCmd,
		newRulesExplainCmd,
		newRulesFieldsCmd,
	}
}
