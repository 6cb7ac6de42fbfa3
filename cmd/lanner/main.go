// Command lanner is the node collector for Kubernetes runtime security: it evaluates
// Falco-format rules over kernel and Kubernetes audit events and ships alerts to an
// Elasticsearch/Kibana SIEM. Each subcommand lives in a file of its own.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the CLI and maps errors to exit codes: 2 for bad input (rules, config, flags),
// 1 for everything else.
func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.msg != "" {
			fmt.Fprintln(os.Stderr, ue.msg)
		}
		return 2
	}
	fmt.Fprintln(os.Stderr, "lanner:", err)
	return 1
}
