package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// flagError is returned for any flag or argument the command line got wrong.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "zbench",
		Short: "Latency/throughput matrix of a ZeroMQ-compatible messaging engine",
		Long: `zbench measures what write batching and immediate writes cost and buy in a
messaging engine that speaks ZeroMQ's wire protocol (ZMTP 3.1, ZWS 2.0), across
message sizes, transports, out_batch_size and connection counts, and records
results that can be compared between commits.

Exit codes: 0 ok; 1 a run failed, was interrupted, or a regression gate
tripped; 2 bad input (flags, arguments, scenario file) and nothing was run.`,
		Example: `  zbench run                          # the default (quick) profile of ./scenarios.yaml
  zbench run --profile full --runs 20 # the whole matrix
  zbench expand --filter protocol=tcp # list cells without running them
  zbench env                          # the environment stamp`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{err: err}
	})
	root.AddCommand(
		// Each command lives in its own file and is added here.
		newExpandCmd(),
		newRunCmd(),
		newPeerCmd(),
		newWorkerCmd(),
		newEnvCmd(),
		newVersionCmd(),
		newCompareCmd(),
		newAbCmd(),
		newCalibrateCmd(),
	)
	return root
}
