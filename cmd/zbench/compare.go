package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"zbench/report"
)

// compareFlags are the flags `zbench compare` and `zbench ab` share: which
// metrics to compare, what counts as a change, and the regression gate.
type compareFlags struct {
	Metrics    []string // --metrics, as given
	FailOn     string   // --fail-on, as given
	NoiseFloor string   // --noise-floor, as given
	MinEffect  string   // --min-effect, as given

	metrics    []string           // resolved: thresholds' metrics included
	thresholds []report.Threshold // nil without --fail-on
	floor      *report.NoiseFloor // nil without --noise-floor
	minEffect  float64            // percent
}

func (f *compareFlags) register(fl *pflag.FlagSet) {
	fl.StringSliceVar(&f.Metrics, "metrics", nil, "metrics to compare, comma-separated, or \"all\" (default: "+
		strings.Join(report.DefaultCompareMetrics, ",")+")")
	fl.StringVar(&f.FailOn, "fail-on", "", "regression gate: exit 1 when a significant change passes a threshold, e.g. "+
		"msgs_per_sec:-5%,rtt_p99_ns:+10% (the sign is the bad direction); exit 2 when a gated cell-metric cannot be judged")
	fl.StringVar(&f.NoiseFloor, "noise-floor", "", "noise floor from zbench calibrate (its directory or "+report.NoiseFloorFile+
		"): a change counts only beyond its cell-metric's floor")
	fl.StringVar(&f.MinEffect, "min-effect", strconv.FormatFloat(report.DefaultMinEffectPct, 'f', -1, 64)+"%",
		"least change that counts where no noise floor applies, in percent of the old median")
}

// parseMinEffect reads a percentage as --min-effect takes it: "2%", "0.5",
// "0".
func parseMinEffect(s string) (float64, error) {
	num := strings.TrimSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(num, "+- ") {
		return 0, fmt.Errorf("--min-effect %q: allowed: a percentage >= 0, e.g. 2%% or 0.5%%", s)
	}
	return v, nil
}

// resolve validates the flags (reading the noise floor); a gated metric is
// compared even when --metrics leaves it out.
func (f *compareFlags) resolve(failOnSet bool) error {
	ms, err := report.ParseMetricList(f.Metrics)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	if f.minEffect, err = parseMinEffect(f.MinEffect); err != nil {
		return err
	}
	if f.NoiseFloor != "" {
		if f.floor, err = report.ReadNoiseFloor(f.NoiseFloor); err != nil {
			return fmt.Errorf("--noise-floor: %w", err)
		}
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

// options are the report.CompareOptions the flags ask for.
func (f *compareFlags) options(oldLabel, newLabel string) report.CompareOptions {
	minEffect := f.minEffect
	return report.CompareOptions{Metrics: f.metrics, OldLabel: oldLabel, NewLabel: newLabel,
		NoiseFloor: f.floor, MinEffectPct: &minEffect}
}

// gate checks c against the thresholds; nil without --fail-on.
func (f *compareFlags) gate(c *report.Comparison) *report.Gate {
	if f.thresholds == nil {
		return nil
	}
	return report.CheckGate(c, f.thresholds)
}

// notJudgedListed is how many unjudged cell-metrics a gate error names.
const notJudgedListed = 3

// gateError is the error a gate exits with: 1 when it tripped, 2 when it
// could not judge a gated cell-metric (too few runs, a changed definition,
// a metric one side lacks), saying which and why; nil when it passed having
// judged everything, or there is none. The cells are also in the rendered
// comparison.
func gateError(g *report.Gate) error {
	switch {
	case g == nil:
		return nil
	case !g.Passed():
		msg := fmt.Sprintf("regression gate tripped: %d significant change(s) beyond a threshold (listed above)", len(g.Violations))
		if !g.Judged() {
			msg += fmt.Sprintf("; it could not judge %d more gated cell-metric(s)", len(g.NotJudged))
		}
		return failed(fmt.Errorf("%s", msg))
	case !g.Judged():
		return badInput(fmt.Errorf("regression gate could not judge %d gated cell-metric(s), so it cannot pass: %s "+
			"(need at least %d ok runs per side of every gated cell, both sides measuring the metric in the same results schema)",
			len(g.NotJudged), g.NotJudgedSummary(notJudgedListed), report.MinRunsToCompare))
	}
	return nil
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
per-run values (as benchstat does). Testing many cells and metrics at once
flags some by chance, so the p-values of all the cell-metrics judged are
adjusted together (Benjamini–Hochberg, false discovery rate 0.05: the q
column). A change is significant when q <= 0.05, it exceeds its floor, and each
side has at least 4 runs; otherwise it shows as "~" (the row says why when it
was not judged). The floor is the cell-metric's noise floor from "zbench
calibrate" (--noise-floor), or --min-effect (2 % by default) where there is
none. Each metric is judged in its own direction (msg/s higher is better;
latency, CPU and RSS lower); informational metrics such as immediate_writes
are shown but never judged. Cells only one side has are listed apart, and the
header warns when the environments differ (CPU model, affinity, governor, Go
version, kernel, GOMAXPROCS).

--fail-on makes compare a CI gate: a comma-separated list of METRIC:-N% (for
a metric where higher is better) or METRIC:+N% (lower is better) thresholds.
The exit status is 1 when a significant change goes beyond its threshold in
the bad direction (the offending cells are listed); 2 when a gated metric
could not be judged in a cell both sides have (too few runs, a definition
that changed between results schemas, a metric one side did not measure),
with the reason, since a gate that judged nothing has shown nothing; 0
otherwise. Bad arguments also exit 2: an unknown metric or format, a
threshold that cannot be parsed or points in the metric's good direction, an
input or noise floor that cannot be read.`,
		Example: `  zbench compare results/20260301T100000Z-1a2b3c4 results/latest
  zbench compare old/results.json new/results.json --format md > comment.md
  zbench compare base head --fail-on msgs_per_sec:-5%,rtt_p99_ns:+10%
  zbench compare base head --noise-floor results/20260301T090000Z-calibrate-1a2b3c4
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
	c, err := report.Compare(old, new, o.options(o.Old, o.New))
	if err != nil {
		return badInput(err)
	}
	g := o.gate(c)
	if err := report.WriteCompare(o.stdout, o.Format, c, g); err != nil {
		return failed(err)
	}
	return gateError(g)
}
