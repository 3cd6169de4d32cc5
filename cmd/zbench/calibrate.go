package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"zbench/matrix"
	"zbench/report"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

// minCalibrateRuns is the least --runs calibrate accepts: a floor needs at
// least two runs per side; recommendCalibrateRuns is what the help advises.
const (
	minCalibrateRuns       = 2
	recommendCalibrateRuns = 10
)

// calibrateOptions holds what `zbench calibrate` was asked to do.
type calibrateOptions struct {
	run runOptions // the matrix flags, and --out as the root

	// runCells runs the cells (runner.Run); tests replace it.
	runCells func(context.Context, []matrix.Cell, runner.Options) (runner.Result, error)
	now      func() time.Time
	env      func() report.Env
}

func newCalibrateCmd() *cobra.Command { return newCalibrateCmdWith(runCalibrate) }

// newCalibrateCmdWith builds the command around runF, so that tests can
// check flag handling without running anything.
func newCalibrateCmdWith(runF func(context.Context, *calibrateOptions) error) *cobra.Command {
	opts := &calibrateOptions{}
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Measure the noise floor: an A/A run of this binary against itself, for compare --noise-floor",
		Long: `calibrate answers "how far do figures move when nothing changed?" on this
machine. It runs the selected cells (the same flags as run) as an A/A
comparison: this binary as both sides A and B, --runs runs per side,
interleaved per run index (A B, B A, A B, ... as ab does; all runs of one index
across the cells before the next), every run in fresh worker processes.

From the two sides it estimates, per cell and metric, a noise floor: the 95th
percentile of |median(B*)/median(A*) - 1| over 2000 bootstrap resamples of
each side's runs (seeded, so the same runs give the same floor). That is how
far the median of that many runs moves by chance, in percent. "zbench compare
--noise-floor DIR" then counts a change only when it passes the test and goes
beyond its cell-metric's floor.

It writes one directory under --out, <UTC time>-calibrate-<commit>:
noise_floor.json, a/ and b/ (complete results directories of the two sides),
the A/A comparison (compare.md, compare.json, compare.txt: how many
cell-metrics an A/A flags under the default rule) and calibration.txt, the
summary it prints. The directory is made before anything runs.

A floor is for comparisons of about as many runs per side as it was
calibrated with (fewer runs move more), on the same machine, pinned the same
way: calibrate with the --runs, --cpus and profile you compare with. Exit
status: 0 ok; 1 a run failed or the calibration was interrupted (what
finished is written); 2 bad input.`,
		Example: `  zbench calibrate --profile quick --runs 10
  zbench calibrate --profile full --runs 10 --cpus 0:1
  zbench compare OLD NEW --noise-floor results/20260301T090000Z-calibrate-1a2b3c4`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.run.resolve(cmd.Flags().Changed); err != nil {
				return badInput(err)
			}
			if r := opts.run.scenario.Runs; r < minCalibrateRuns {
				return badInput(fmt.Errorf("%d run(s) per side: a noise floor needs at least %d; allowed: --runs >= %d (%d or more recommended)",
					r, minCalibrateRuns, minCalibrateRuns, recommendCalibrateRuns))
			}
			opts.run.command = append([]string(nil), os.Args...)
			opts.run.stdout, opts.run.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.run.addMatrixFlags(fl, "scenario file",
		fmt.Sprintf("runs of every cell on each side, overriding the profile's (>= %d; %d or more recommended)", minCalibrateRuns, recommendCalibrateRuns))
	fl.StringVar(&opts.run.Out, "out", report.DefaultRoot, "directory the calibration directory is made in")
	return cmd
}

// aaSide says which side run r (from 1) of a 2n-run schedule belongs to,
// and its run index on that side: runs come in pairs, A B, B A, A B, ...
// (ab's order), so that neither side always goes first.
func aaSide(r int) (sideB bool, index int) {
	index = (r + 1) / 2
	first := r%2 == 1
	return first == (index%2 == 0), index
}

// runCalibrate runs the A/A, estimates the floor and writes the calibration
// directory.
func runCalibrate(ctx context.Context, o *calibrateOptions) error {
	if o.runCells == nil {
		o.runCells = runner.Run
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.env == nil {
		o.env = report.CollectEnv
	}
	r := &o.run
	sc := r.scenario
	cells := sc.Cells()
	printWarnings(r.stderr, sc)
	if sc.Runs < recommendCalibrateRuns {
		fmt.Fprintf(r.stderr, "zbench: calibrate: warning: %d runs per side; a floor from so few runs is itself noisy (use --runs %d or more)\n",
			sc.Runs, recommendCalibrateRuns)
	}
	env := o.env()
	start := o.now().UTC()
	dir, err := report.MakeCalibrationDir(r.Out, start, env)
	if err != nil {
		return badInput(fmt.Errorf("--out: %w", err))
	}
	fmt.Fprintf(r.stderr, "calibrate: A/A of %d cells, %d runs per side interleaved (%d runs), into %s\n",
		len(cells), sc.Runs, 2*sc.Runs*len(cells), dir)

	res, err := o.runCells(ctx, cells, runner.Options{
		Runs:       2 * sc.Runs,
		Executable: r.executable,
		WorkerArgs: r.workerArgs,
		Env:        r.workerEnv,
		Lookup:     engines.Lookup,
		CPUs:       r.cpus,
		Progress:   runner.NewProgress(r.stderr),
	})
	if err != nil {
		os.Remove(dir)
		return failed(err)
	}
	var sa, sb []sample.Sample
	for _, s := range res.Samples {
		isB, index := aaSide(s.Run)
		s.Run = index
		if isB {
			sb = append(sb, s)
		} else {
			sa = append(sa, s)
		}
	}
	if len(sa) == 0 || len(sb) == 0 {
		os.Remove(dir)
		if res.Incomplete {
			return failed(errors.New("interrupted before both sides finished a run; nothing written"))
		}
		return failed(errors.New("no runs were made"))
	}
	inv := report.Invocation{
		Start:        start,
		End:          o.now().UTC(),
		Command:      r.command,
		ScenarioFile: sc.File,
		Profile:      sc.Profile,
		Runs:         sc.Runs,
		Filter:       append(append([]string{}, r.Filters...), engineTerms(r.Engines)...),
		CPUs:         r.CPUs,
		Affinity:     res.Affinity,
	}
	if res.Incomplete {
		inv.MarkIncomplete("interrupted")
	}
	a := report.NewResult(inv, env, sc, cells, sa)
	b := report.NewResult(inv, env, sc, cells, sb)

	nf, err := report.Calibrate(a, b, report.CalibrateOptions{Now: o.now})
	if err != nil {
		return failed(err)
	}
	aa, err := report.Compare(a, b, report.CompareOptions{OldLabel: "A", NewLabel: "B"})
	if err != nil {
		return failed(err)
	}
	var aaText, summary bytes.Buffer
	if err := report.WriteCompareText(&aaText, aa, nil); err != nil {
		return failed(err)
	}
	if err := report.WriteNoiseFloorSummary(&summary, nf, aa); err != nil {
		return failed(err)
	}
	if err := report.WriteCalibration(dir, a, b, nf, aa, aaText.Bytes(), summary.Bytes()); err != nil {
		return failed(fmt.Errorf("writing the calibration to %s: %w", dir, err))
	}
	r.stdout.Write(summary.Bytes())
	fmt.Fprintf(r.stdout, "\nnoise floor: %s\ncompare with: zbench compare OLD NEW --noise-floor %s\n",
		filepath.Join(dir, report.NoiseFloorFile), dir)

	switch failedRuns := a.FailedRuns() + b.FailedRuns(); {
	case res.Incomplete:
		return failed(fmt.Errorf("interrupted after %d of %d runs; the floor from the finished runs is in %s",
			len(res.Samples), 2*sc.Runs*len(cells), dir))
	case failedRuns > 0:
		return failed(fmt.Errorf("%d of %d runs failed or timed out (see %s)", failedRuns, len(res.Samples), dir))
	}
	return nil
}
