package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"zbench/report"
)

// envOptions holds what `zbench env` was asked to do.
type envOptions struct {
	JSON bool // the stamp as JSON instead of aligned lines

	collect func() report.Env // report.CollectEnv; replaced in tests
	stdout  io.Writer
}

func newEnvCmd() *cobra.Command { return newEnvCmdWith(runEnv) }

// newEnvCmdWith builds the command around runF, so that tests can check flag
// handling without probing the machine.
func newEnvCmdWith(runF func(*envOptions) error) *cobra.Command {
	opts := &envOptions{collect: report.CollectEnv}
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the environment stamp recorded with every result",
		Long: `env prints the environment stamp that "zbench run" records with its results:
CPU model, logical cores, the CPU affinity of this process, the cpufreq
governor ("none" without cpufreq), kernel, OS/arch, Go version, GOMAXPROCS,
hostname, total memory, and the zbench version and commit. The commit comes
from the binary's build info, or from git when run inside the zbench source
tree; otherwise it is "unknown".`,
		Example: `  zbench env
  taskset -c 0 zbench env     # the affinity a pinned run would record
  zbench env --json | jq .commit`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.stdout = cmd.OutOrStdout()
			return runF(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the stamp as JSON")
	return cmd
}

// runEnv takes the stamp and prints it.
func runEnv(opts *envOptions) error {
	e := opts.collect()
	var out bytes.Buffer
	var err error
	if opts.JSON {
		enc := json.NewEncoder(&out)
		enc.SetIndent("", "  ")
		err = enc.Encode(e)
	} else {
		err = report.WriteEnv(&out, e)
	}
	if err == nil {
		_, err = opts.stdout.Write(out.Bytes())
	}
	if err != nil {
		return failed(fmt.Errorf("env: %w", err))
	}
	return nil
}
