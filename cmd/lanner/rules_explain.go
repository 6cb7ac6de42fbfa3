package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lannersec/lanner/collector/engine"
)

// newRulesExplainCmd builds `lanner rules explain`.
func newRulesExplainCmd() *cobra.Command {
	var files []string
	c := &cobra.Command{
		Use:   "explain [-r FILE...] 'CONDITION'",
		Short: "Show a condition after list and macro expansion, in canonical form",
		Long: `Expand CONDITION as a rule condition would be expanded with the lists and macros of the given
rules files (lists substituted as text, then every macro resolved; a rule sees all macros), and
print it in the canonical form Falco's engine prints, so rule authors see what their condition
really says.

Names that are neither macros nor fields stay as they are and are listed as warnings on stderr;
fields are not checked. Only a syntax error in CONDITION fails the command: it is printed with its
line and column and the exit status is 2 (as for rules files that cannot be read).`,
		Example: `  lanner rules explain -r falco_rules.yaml 'spawned_process and shell_procs'
  lanner rules explain 'proc.name in (bash, sh) and not proc.pname = sshd'
  lanner rules explain -r falco_rules.yaml -r local.yaml 'open_read and sensitive_files'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return &usageError{msg: fmt.Sprintf("rules explain: want one CONDITION argument (quoted), got %d\n%s", len(args), cmd.UsageString())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := readRulesFiles(files)
			if err != nil {
				return err
			}
			cond := args[0]
			ex, res, err := engine.Explain(in, cond)
			if !res.OK() {
				printWarnings(cmd.ErrOrStderr(), res.Warnings)
				return &usageError{msg: diagLines(res.Errors)}
			}
			printWarnings(cmd.ErrOrStderr(), res.Warnings)
			if err != nil {
				var ce *engine.ConditionError
				if errors.As(err, &ce) {
					return &usageError{msg: syntaxErrorText(cond, ce)}
				}
				return &usageError{msg: "condition: " + err.Error()}
			}
			for _, name := range ex.Unresolved {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %q is not a macro of the given rules files; left as is\n", name)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ex.Canonical)
			return nil
		},
	}
	c.Flags().StringArrayVarP(&files, "rules", "r", nil, "rules file with lists and macros, in load order (repeatable)")
	return c
}

// syntaxErrorText shows the error with the offending line and a caret under the column.
func syntaxErrorText(cond string, ce *engine.ConditionError) string {
	msg := fmt.Sprintf("condition:%d:%d: %s", ce.Line, ce.Col, ce.Msg)
	lines := strings.Split(cond, "\n")
	if ce.Line >= 1 && ce.Line <= len(lines) && ce.Col >= 1 {
		line := lines[ce.Line-1]
		msg += "\n  " + line + "\n  " + strings.Repeat(" ", min(ce.Col-1, len(line))) + "^"
	}
	return msg
}
