package main

import (
	"github.com/spf13/cobra"
)

// usageError marks failures caused by the user's input (bad rules, config or flags): they exit 2.
// msg has already been formatted for the terminal; it may be empty when the details were printed.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lanner",
		Short: "Kubernetes runtime security collector with Falco-compatible rules",
		Long: `lanner captures kernel and Kubernetes audit activity, evaluates Falco-format rules
and ships enriched alerts to Elasticsearch, Fluentd and other outputs.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error() + "\n" + c.UsageString()}
	})
	root.AddCommand(newVersionCmd())
	root.AddCommand(newRulesCmd())
	root.AddCommand(newReplayCmd())
	root.AddCommand(newESCmd())
	root.AddCommand(newRunCmd())
	root.AddCommand(newDashboardsCmd())
	root.AddCommand(newAuditCmd())
	root.AddCommand(newReportCmd())
	root.AddCommand(newRespondCmd())
	return root
}
