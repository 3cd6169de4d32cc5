package main

import (
	"errors"

	"github.com/spf13/cobra"

	"zbench/runner"
	"zbench/runner/engines"
)

// newWorkerCmd is the hidden `zbench worker`: one run of one cell, spawned
// by `zbench run`. It reads a runner.Job as JSON on stdin and writes one
// sample.Sample as JSON on stdout; on error it prints the message on stderr
// and exits non-zero. It does nothing else, so that it starts fast.
func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Short:  "Run one cell once (used by zbench run; reads a job on stdin)",
		Hidden: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			err := runner.Work(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), engines.Lookup)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, runner.ErrBadJob):
				return badInput(err)
			default:
				return failed(err)
			}
		},
	}
}
