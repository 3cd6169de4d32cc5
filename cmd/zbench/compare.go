package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"zbench/report"
)

// compareFlags are the flags `zbench compare` and `zbench ab` share: which
// metrics to compare and the regression gate.
type compareFlags struct {
	Metrics []string // --metrics, as given
	FailOn  string   // --fail-on, as given

	metrics    []string           // resolved: thresholds' metrics included
	thresholds []report.Threshold // nil without --fail-on
}

func (f *compareFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.Metrics, "metrics", nil, "metrics to compare, comma-separated, or \"all\" (default: "+
		strings.Join(report.DefaultCompareMetrics, ",")+")")
	fl.StringVar(&f.FailOn, "fail-on", "", "regression gate: exit 1 when a significant change passes a threshold, e.g. "+
		"msgs_per_sec:-5%,rtt_p99_ns:+10% (the sign is the bad direction)")
}

// resolve validates the flags; a gated metric is compared even when
// --metrics leaves it out.
func (f *compareFlags) resolve(failOnSet bool) error {
	ms, err := report.ParseMetricList(f.Metrics)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	if failOnSet {
		if f.thresholds, err = report.ParseThresholds(f.FailOn); err != nil {
			return fmt.Errorf("--fail-on: %w", err)
		}
		for _, t := range f.thresholds {
			if !slices.Contains(ms, t.Metric) {
				ms = append(ms, t.Metric)
			}
		}
	}
	f.metrics = ms
	return nil
}

// gate checks c against the thresholds; nil without --fail-on.
func (f *compareFlags) gate(c *report.Comparison) *report.Gate {
	if f.thresholds == nil {
		return nil
	}
	return report.CheckGate(c, f.thresholds)
}

// gateError is the error a tripped gate exits with (1); nil when it passed
// or there is none. The offending cells are in the rendered comparison.
func gateError(g *report.Gate) error {
	if g == nil || g.Passed() {
		return nil
	}
	return failed(fmt.Errorf("regression gate tripped: %d significant change(s) beyond a threshold (listed above)", len(g.Violations)))
}

// compareOptions holds what `zbench compare` was asked to do.
type compareOptions struct {
	Old, New string // result sets: results directories or results.json files
	Format   string // one of report.CompareFormats
	compareFlags

	stdout io.Writer
}

func newCompareCmd() *cobra.Command { return newCompareCmdWith(runCompare) }

// newCompareCmdWith builds the command around runF, so that tests can check
// flag handling without reading result sets.
func newCompareCmdWith(runF func(*compareOptions) error) *cobra.Command {
	opts := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare OLD NEW",
		Short: "Compare two result sets cell by cell, with significance tests and a CI gate",
		Long: `compare reads two result sets (a results directory, results/latest, or a
results.json file each) and, for every cell both have and every metric both
have, shows the old and new median with the 95 % confidence interval of each,
the change in percent and the p-value of a Mann-Whitney U test over the
per-run values (as benchstat does). A change is significant when p <= 0.05 and
each side has at least 4 runs; otherwise the change shows as "~" (and the row
says when there were too few runs). Each metric is judged in its own direction
(msg/s higher is better; latency, CPU and RSS lower); informational metrics
such as immediate_writes are shown but never judged. Cells only one side has
are listed apart, and the header warns when the environments differ (CPU model,
affinity, governor, Go version, kernel, GOMAXPROCS).

--fail-on makes compare a CI gate: a comma-separated list of METRIC:-N% (for
a metric where higher is better) or METRIC:+N% (lower is better) thresholds.
The exit status is 1 when a significant change goes beyond its threshold in
the bad direction (the offending cells are listed), 0 otherwise, and 2 for bad
arguments: an unknown metric or format, a threshold that cannot be parsed or
points in the metric's good direction, an input that cannot be read.`,
		Example: `  zbench compare results/20260301T100000Z-1a2b3c4 results/latest
  zbench compare old/results.json new/results.json --format md > comment.md
  zbench compare base head --fail-on msgs_per_sec:-5%,rtt_p99_ns:+10%
  zbench compare base head --metrics all --format json | jq '.entries[] | select(.significant)'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.ExactArgs(2)(cmd, args); err != nil {
				return badInput(fmt.Errorf("%w: want OLD and NEW result sets (a results directory or results.json)", err))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Old, opts.New = args[0], args[1]
			if opts.Format == "markdown" {
				opts.Format = "md"
			}
			if !slices.Contains(report.CompareFormats, opts.Format) {
				return badInput(fmt.Errorf("--format %q: allowed: %s", opts.Format, strings.Join(report.CompareFormats, ", ")))
			}
			if err := opts.resolve(cmd.Flags().Changed("fail-on")); err != nil {
				return badInput(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runF(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "text", "output format: "+strings.Join(report.CompareFormats, ", "))
	opts.register(cmd.Flags())
	return cmd
}

// runCompare reads both result sets, compares them, renders the comparison
// and applies the gate.
func runCompare(o *compareOptions) error {
	old, err := report.ReadResult(o.Old)
	if err != nil {
		return badInput(fmt.Errorf("old result set: %w", err))
	}
	new, err := report.ReadResult(o.New)
	if err != nil {
		return badInput(fmt.Errorf("new result set: %w", err))
	}
	c, err := report.Compare(old, new, report.CompareOptions{Metrics: o.metrics, OldLabel: o.Old, NewLabel: o.New})
	if err != nil {
		return badInput(err)
	}
	g := o.gate(c)
	if err := report.WriteCompare(o.stdout, o.Format, c, g); err != nil {
		return failed(err)
	}
	return gateError(g)
}
