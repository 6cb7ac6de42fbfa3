package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newReplayCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "replay",
		Short: "Evaluate rules over recorded events and print Falco JSON alerts",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("replay: not implemented yet")
		},
	}
}
